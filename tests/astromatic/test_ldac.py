"""FITS_LDAC catalogs and SCAMP .head files: round trips, and files the real tools accept."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from tooling import DEMO_CONFIG, require_tool, run_tool, sextractor_argv

from aw_tui.astromatic.ldac import (
    read_head_blocks,
    read_head_file,
    read_ldac,
    read_ldac_frames,
    write_ldac,
    write_ldac_frames,
)
from aw_tui.astromatic.xmllog import parse_xml_log
from aw_tui.demo.sky import SkyProducts, make_sky


def _table(n: int = 12) -> Table:
    rng = np.random.default_rng(1)
    t = Table()
    t["NUMBER"] = np.arange(1, n + 1, dtype=np.int32)
    t["FLAGS"] = np.zeros(n, dtype=np.int16)
    t["XWIN_IMAGE"] = rng.uniform(1, 100, n)
    t["XWIN_IMAGE"].unit = "pix"
    t["FLUX_AUTO"] = rng.uniform(1, 1e5, n).astype(np.float32)
    t["FLUX_AUTO"].unit = "ct"
    t["VIGNET"] = rng.normal(size=(n, 7, 5)).astype(np.float32)
    t["VIGNET"][0, 0, 0] = np.nan
    return t


def _header() -> fits.Header:
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = -32
    h["NAXIS"] = 2
    h["NAXIS1"] = 100
    h["NAXIS2"] = 80
    h["OBJECT"] = ("a field", "with a comment")
    h["EXPTIME"] = 90.0
    h["LONGSTR"] = "x" * 100  # a CONTINUE card
    h["HISTORY"] = "made by a test"
    return h


def test_round_trip_keeps_columns_units_shapes_and_header(tmp_path: Path) -> None:
    path = tmp_path / "cat.ldac"
    table, header = _table(), _header()
    write_ldac(path, table, header)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "LDAC_IMHEAD", "LDAC_OBJECTS"]
        imhead = hdul["LDAC_IMHEAD"]
        assert imhead.columns[0].name == "Field Header Card"
        width = int(imhead.columns[0].format[:-1])
        assert width % 2880 == 0
        assert imhead.header["TDIM1"] == f"(80, {width // 80})"
        assert hdul["LDAC_OBJECTS"].header["TDIM5"] == "(5,7)"
        start = hdul.fileinfo(1)["datLoc"]
    # Cards are blank-padded: NUL bytes after END make SCAMP and PSFEx segfault.
    raw = path.read_bytes()[start : start + width]
    assert b"\0" not in raw
    assert raw[:80].startswith(b"SIMPLE  =")
    with pytest.raises(OSError):
        write_ldac(path, table, header, overwrite=False)
    back = read_ldac(path)
    assert back.colnames == table.colnames
    for name in table.colnames:
        assert back[name].shape == table[name].shape
        assert back[name].dtype.str[1:] == table[name].dtype.str[1:]
        assert np.array_equal(np.asarray(back[name]), np.asarray(table[name]), equal_nan=True)
        assert back[name].unit == table[name].unit
    got = back.meta["header"]
    assert isinstance(got, fits.Header)
    for key in ("NAXIS1", "NAXIS2", "OBJECT", "EXPTIME", "LONGSTR"):
        assert got[key] == header[key]
    assert got.comments["OBJECT"] == "with a comment"
    assert "made by a test" in str(got["HISTORY"])
    # The table was not modified by writing (its meta is not copied into the FITS header).
    assert "header" not in table.meta


def test_header_from_table_meta_and_missing_header(tmp_path: Path) -> None:
    table = _table()
    table.meta["header"] = _header()
    write_ldac(tmp_path / "a.ldac", table)
    assert read_ldac(tmp_path / "a.ldac").meta["header"]["NAXIS1"] == 100
    write_ldac(tmp_path / "b.ldac", _table())
    assert read_ldac(tmp_path / "b.ldac").meta["header"]["NAXIS"] == 0


def test_multi_frame_catalogs(tmp_path: Path) -> None:
    path = tmp_path / "mef.ldac"
    h1, h2 = _header(), _header()
    h1["EXTNAME"], h2["EXTNAME"] = "CCD1", "CCD2"
    write_ldac_frames(path, [(h1, _table(5)), (h2, _table(8))])
    frames = read_ldac_frames(path)
    assert [(h["EXTNAME"], len(t)) for h, t in frames] == [("CCD1", 5), ("CCD2", 8)]
    assert len(read_ldac(path, frame=2)) == 8
    assert read_ldac(path, frame=1).meta["header"]["EXTNAME"] == "CCD1"
    with pytest.raises(ValueError, match="2 frames"):
        read_ldac(path)
    with pytest.raises(ValueError, match="out of range"):
        read_ldac(path, frame=3)


def test_not_ldac_and_missing_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(_table())]).writeto(plain)
    with pytest.raises(ValueError, match="not a FITS_LDAC"):
        read_ldac(plain)
    with pytest.raises(FileNotFoundError):
        read_ldac(tmp_path / "nothere.cat")


def test_head_file_with_non_ascii_and_several_blocks(tmp_path: Path) -> None:
    cards = [
        "COMMENT   (c) 2010-2018 Sorbonne Universit\u00e9/Universit\u00e9 de Bordeaux/CNRS",
        "CRVAL1  =   1.500999930428E+02 / World coordinate on this axis",
        "PV1_1   =   1.000383255227E+00 / Projection distortion parameter",
        "END",
    ]
    utf8 = tmp_path / "utf8.head"
    utf8.write_bytes(("\n".join(cards) + "\n").encode("utf-8"))
    header = read_head_file(utf8)
    assert header["CRVAL1"] == pytest.approx(150.0999930428)
    assert "Sorbonne Universit?" in str(header["COMMENT"])
    latin = tmp_path / "two.head"
    text = "\n".join(cards) + "\n" + "\n".join(cards).replace("1.5009", "1.6009") + "\n"
    latin.write_bytes(text.encode("latin-1"))
    blocks = read_head_blocks(latin)
    assert [b["CRVAL1"] for b in blocks] == pytest.approx([150.0999930428, 160.0999930428])
    assert read_head_file(latin, block=1)["CRVAL1"] == pytest.approx(160.0999930428)
    with pytest.raises(ValueError):
        read_head_file(latin, block=2)


# ---------------------------------------------------------------------------------------------
# With the real tools


@pytest.fixture(scope="module")
def sky(tmp_path_factory: pytest.TempPathFactory) -> SkyProducts:
    return make_sky(tmp_path_factory.mktemp("ldac_sky"), n_exposures=3, size=512, seed=21)


@pytest.fixture(scope="module")
def sex_catalogs(sky: SkyProducts) -> list[str]:
    sex = require_tool("sextractor")
    cats = []
    for exp in sky.exposures:
        cat = exp["image"].replace(".fits", ".cat")
        run_tool(
            sextractor_argv(sex, exp["image"], cat, weight=exp["wtmap"], flag=exp["dqmask"]),
            cwd=sky.out_dir,
        )
        cats.append(cat)
    return cats


@pytest.mark.tools
def test_reads_sextractor_output(sky: SkyProducts, sex_catalogs: list[str]) -> None:
    cat = read_ldac(sex_catalogs[0])
    header = cat.meta["header"]
    image_header = fits.getheader(sky.exposures[0]["image"])
    for key in ("NAXIS1", "NAXIS2", "EXPTIME", "CRVAL1", "CD1_1", "DATE-OBS"):
        assert header[key] == image_header[key]
    assert "SEXBKGND" in header  # SExtractor's own keywords survive the padding
    assert {"XWIN_IMAGE", "FLUX_AUTO", "IMAFLAGS_ISO"} <= set(cat.colnames)
    assert str(cat["XWIN_IMAGE"].unit) == "pix"
    assert len(cat) > 80


@pytest.mark.tools
def test_scamp_accepts_rewritten_catalogs(sky: SkyProducts, sex_catalogs: list[str]) -> None:
    scamp = require_tool("scamp")
    out = Path(sky.out_dir) / "rewritten"
    out.mkdir()
    rewritten = []
    for cat in sex_catalogs:
        table = read_ldac(cat)
        path = out / Path(cat).name
        write_ldac(path, table)
        rewritten.append(str(path))
    argv = [scamp, *rewritten, "-c", str(DEMO_CONFIG / "default.scamp")]
    for key, value in sky.scamp_config().items():
        argv += [f"-{key}", value]
    run_tool([*argv, "-XML_NAME", str(out / "scamp.xml")], cwd=out)
    log = parse_xml_log(out / "scamp.xml", "scamp")
    assert log.error_msg is None
    assert log.summary["nfields"] == 3
    truth = sky.load_truth()
    for i, exp in enumerate(sky.exposures):
        head = Path(rewritten[i]).with_suffix(".head")
        assert b"Universit\xc3\xa9" in head.read_bytes()  # the quirk read_head_file handles
        header = fits.getheader(exp["image"])
        header.update(read_head_file(head))
        on = truth[truth[f"EXT_{i + 1}"] == 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ra, dec = WCS(header).all_pix2world(on[f"X_{i + 1}"], on[f"Y_{i + 1}"], 1)
        d = np.hypot((ra - on["RA"]) * np.cos(np.radians(on["DEC"])), dec - on["DEC"]) * 3600
        assert np.sqrt(np.mean(d**2)) < 0.05


@pytest.mark.tools
def test_psfex_accepts_a_rewritten_catalog(sky: SkyProducts) -> None:
    sex = require_tool("sextractor")
    psfex = require_tool("psfex")
    exp = sky.exposures[0]
    original = Path(sky.out_dir) / "vignets.cat"
    run_tool(
        sextractor_argv(sex, exp["image"], original, params="prepsfex.param", weight=exp["wtmap"]),
        cwd=sky.out_dir,
    )
    table = read_ldac(original)
    assert table["VIGNET"].shape[1:] == (35, 35)
    copy = Path(sky.out_dir) / "copy" / "vignets.cat"
    copy.parent.mkdir()
    write_ldac(copy, table)
    fwhm = []
    for cat in (original, copy):
        xml = cat.with_suffix(".psfex.xml")
        run_tool(
            [psfex, cat, "-c", str(DEMO_CONFIG / "default.psfex"), "-XML_NAME", xml],
            cwd=cat.parent,
        )
        assert cat.with_suffix(".psf").exists()
        log = parse_xml_log(xml, "psfex")
        assert log.error_msg is None
        fwhm.append(log.summary["fwhm_mean"])
    assert fwhm[1] == pytest.approx(fwhm[0], rel=1e-4)
    assert fwhm[0] == pytest.approx(sky.fwhm_pixels, rel=0.05)
