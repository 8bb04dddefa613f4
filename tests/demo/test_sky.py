"""The synthetic sky is right: checked with numpy and with the real SExtractor, SCAMP, PSFEx."""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from tooling import DEMO_CONFIG, require_tool, run_tool, sextractor_argv

from aw_tui.astromatic.ldac import read_head_file, read_ldac
from aw_tui.astromatic.xmllog import parse_xml_log
from aw_tui.demo.render import render_stars
from aw_tui.demo.sky import (
    DQ_BAD_COLUMN,
    DQ_HOT_PIXEL,
    SCAMP_REFERENCE_CONFIG,
    SkyProducts,
    make_sky,
    moffat_alpha,
    pixelized_fwhm,
)

SIZE = 512


@pytest.fixture(scope="module")
def sky(tmp_path_factory: pytest.TempPathFactory) -> SkyProducts:
    return make_sky(tmp_path_factory.mktemp("sky"), n_exposures=3, size=SIZE, seed=7)


def _wcs(header: fits.Header) -> WCS:
    """WCS of a header (SCAMP's TAN + PV is read as TPV; astropy's notice silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(header)


def _sky_offsets(wcs: WCS, x: np.ndarray, y: np.ndarray, truth: Table) -> np.ndarray:
    """Distance in arcsec between the WCS position of (x, y) (1-based) and the truth RA/DEC."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = wcs.all_pix2world(x, y, 1)
    dra = (ra - truth["RA"]) * np.cos(np.radians(truth["DEC"])) * 3600.0
    ddec = (dec - truth["DEC"]) * 3600.0
    return np.hypot(dra, ddec)


def _match(x1, y1, x2, y2, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest neighbour of each (x1, y1) among (x2, y2): index and distance (inf if none)."""
    d2 = (np.asarray(x1)[:, None] - np.asarray(x2)[None, :]) ** 2 + (
        np.asarray(y1)[:, None] - np.asarray(y2)[None, :]
    ) ** 2
    j = d2.argmin(axis=1)
    d = np.sqrt(d2[np.arange(len(j)), j])
    d[d > radius] = np.inf
    return j, d


# ---------------------------------------------------------------------------------------------
# Pure numpy / astropy checks


def test_files_follow_the_seed_naming_and_types(sky: SkyProducts) -> None:
    assert [Path(e["image"]).name for e in sky.exposures] == [
        "206401.fits",
        "206402.fits",
        "206403.fits",
    ]
    for exp in sky.exposures:
        assert exp["wtmap"] == exp["image"].replace(".fits", ".wtmap.fits")
        assert exp["dqmask"] == exp["image"].replace(".fits", ".dqmask.fits")
        image = fits.getdata(exp["image"])
        weight = fits.getdata(exp["wtmap"])
        dq = fits.getdata(exp["dqmask"])
        assert image.shape == weight.shape == dq.shape == (SIZE, SIZE)
        assert image.dtype.kind == "f" and image.dtype.itemsize == 4
        assert dq.dtype == np.dtype(">i2")
        # Weights are zero exactly on the defects, positive elsewhere.
        assert np.all((weight == 0) == (dq != 0))
        assert np.any(dq & DQ_BAD_COLUMN) and np.any(dq & DQ_HOT_PIXEL)
        # A whole bad column.
        assert np.any(np.all(dq & DQ_BAD_COLUMN, axis=0))
        header = fits.getheader(exp["image"])
        for key in ("EXPTIME", "GAIN", "RDNOISE", "SATURATE", "MAGZERO", "DATE-OBS", "CD1_1"):
            assert key in header
        # Sky level and noise: median ~1000 ADU, robust sigma ~ sqrt(1000 + 25).
        good = image[dq == 0]
        assert abs(np.median(good) - 1000.0) < 15.0
        mad = 1.4826 * np.median(np.abs(good - np.median(good)))
        assert abs(mad - math.sqrt(1025.0)) < 2.0


def test_truth_json_and_reference_catalog(sky: SkyProducts) -> None:
    info = json.loads(Path(sky.truth_json).read_text())
    assert info["fwhm_pixels"] == pytest.approx(1.0 / 0.26)
    assert info["zero_point"] == 30.0
    assert info["scamp_config"]["ASTREFCAT_NAME"] == sky.reference
    truth = sky.load_truth()
    assert len(truth) == sky.n_stars
    assert truth["MAG"].min() >= 16.0 and truth["MAG"].max() <= 22.5
    # dN/dm ~ 10^(0.2 m): each magnitude holds ~1.58x the stars of the one before.
    counts = [np.sum((truth["MAG"] >= m) & (truth["MAG"] < m + 1)) for m in (19, 20, 21)]
    assert counts[0] < counts[1] < counts[2]
    # At least ~150 stars on every exposure of a small chip.
    for i in range(1, 4):
        assert np.sum(truth[f"EXT_{i}"] == 1) >= 140

    with fits.open(sky.reference) as hdul:
        hdu = hdul["OBJECTS"]
        cols = {c.name: c.format for c in hdu.columns}
        ref = Table(hdu.data)
    for key in ("RA_ICRS", "DE_ICRS", "e_RA", "e_DE", "Gmag"):
        assert cols[key] == "D"
    assert cols["FLAGS"] == "I"
    bright = truth[truth["MAG"] < 22.0]
    assert len(ref) == len(bright) == sky.n_reference
    dra = (ref["RA_ICRS"] - bright["RA"]) * np.cos(np.radians(bright["DEC"])) * 3.6e6
    ddec = (ref["DE_ICRS"] - bright["DEC"]) * 3.6e6
    assert 10.0 < np.std(dra) < 20.0 and 10.0 < np.std(ddec) < 20.0  # 15 mas per axis
    assert set(SCAMP_REFERENCE_CONFIG["ASTREFCENT_KEYS"].split(",")) <= set(ref.colnames)


def test_header_wcs_is_deliberately_wrong_by_about_5_arcsec(sky: SkyProducts) -> None:
    truth = sky.load_truth()
    for i, exp in enumerate(sky.exposures):
        on = truth[truth[f"EXT_{i + 1}"] == 1]
        x, y = on[f"X_{i + 1}"], on[f"Y_{i + 1}"]
        true = _sky_offsets(sky.true_wcs(i), x, y, on)
        assert true.max() < 1e-6  # the truth table is consistent with the true WCS
        header = _sky_offsets(_wcs(fits.getheader(exp["image"])), x, y, on)
        rms = float(np.sqrt(np.mean(header**2)))
        assert 3.5 < rms < 6.5, rms


def test_rendered_star_flux_centre_and_width() -> None:
    fwhm, beta = 1.0 / 0.26, 3.0
    alpha = moffat_alpha(fwhm, beta)
    x0, y0, flux = 40.3, 39.8, 1.0e5
    img = render_stars((81, 81), np.array([x0]), np.array([y0]), np.array([flux]), alpha, beta, 31)
    # Flux: all but the Moffat wings beyond 31 px ((1 + (R/alpha)^2)^(1 - beta)).
    lost = (1.0 + (31.0 / alpha) ** 2) ** (1.0 - beta)
    assert img.sum() == pytest.approx(flux * (1.0 - lost), rel=2e-3)
    yy, xx = np.indices(img.shape)
    core = (xx - x0) ** 2 + (yy - y0) ** 2 < 100
    assert (img[core] * xx[core]).sum() / img[core].sum() == pytest.approx(x0, abs=0.01)
    assert (img[core] * yy[core]).sum() / img[core].sum() == pytest.approx(y0, abs=0.01)
    # Width: a star centred on a pixel, half maximum crossed at pixelized_fwhm / 2.
    img = render_stars((81, 81), np.array([40.0]), np.array([40.0]), np.array([flux]), alpha, beta, 31)
    row = img[40]
    half = row[40] / 2.0
    i = 40 + int(np.argmax(row[40:] < half))
    x_half = (i - 1) + (row[i - 1] - half) / (row[i - 1] - row[i])
    assert 2.0 * (x_half - 40.0) == pytest.approx(pixelized_fwhm(fwhm, beta), rel=0.02)
    assert pixelized_fwhm(fwhm, beta) > fwhm


def test_same_seed_same_pixels_and_small_images_are_fast(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    a = make_sky(tmp_path / "a", n_exposures=3, size=SIZE, seed=11)
    elapsed = time.perf_counter() - t0
    b = make_sky(tmp_path / "b", n_exposures=1, size=SIZE, seed=11)
    c = make_sky(tmp_path / "c", n_exposures=1, size=SIZE, seed=12)
    data_a = fits.getdata(a.exposures[0]["image"])
    assert np.array_equal(data_a, fits.getdata(b.exposures[0]["image"]))
    assert not np.array_equal(data_a, fits.getdata(c.exposures[0]["image"]))
    assert elapsed < 3.0, f"512x512x3 took {elapsed:.2f} s"


def test_multi_extension_sky(tmp_path: Path) -> None:
    mef = make_sky(tmp_path, n_exposures=2, size=256, n_extensions=2, seed=3)
    with fits.open(mef.exposures[0]["image"]) as hdul:
        assert hdul[0].data is None
        assert [h.name for h in hdul[1:]] == ["CCD1", "CCD2"]
        w1, w2 = WCS(hdul[1].header), WCS(hdul[2].header)
    with fits.open(mef.exposures[0]["dqmask"]) as hdul:
        assert len(hdul) == 3 and hdul[2].data.dtype.kind == "i"
    # The chips sit side by side on the sky: chip 2's left edge is right of chip 1's right edge
    # (RA decreases with x).
    ra1, _ = w1.wcs_pix2world([[256.0, 128.0]], 1)[0]
    ra2, _ = w2.wcs_pix2world([[1.0, 128.0]], 1)[0]
    assert ra2 < ra1
    truth = mef.load_truth()
    assert set(np.unique(truth["EXT_1"])) <= {0, 1, 2}
    assert np.sum(truth["EXT_1"] == 1) > 50 and np.sum(truth["EXT_1"] == 2) > 50


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_sky(tmp_path, n_exposures=0, size=SIZE)
    with pytest.raises(ValueError):
        make_sky(tmp_path, size=16)


# ---------------------------------------------------------------------------------------------
# With the real tools


@pytest.fixture(scope="module")
def catalogs(sky: SkyProducts) -> list[str]:
    sex = require_tool("sextractor")
    out = []
    for exp in sky.exposures:
        cat = exp["image"].replace(".fits", ".cat")
        run_tool(
            sextractor_argv(sex, exp["image"], cat, weight=exp["wtmap"], flag=exp["dqmask"]),
            cwd=sky.out_dir,
        )
        out.append(cat)
    return out


@pytest.mark.tools
def test_sextractor_finds_the_truth_stars(sky: SkyProducts, catalogs: list[str]) -> None:
    truth = sky.load_truth()
    for i, cat_path in enumerate(catalogs):
        cat = read_ldac(cat_path)
        assert cat.meta["header"]["NAXIS1"] == SIZE
        on = truth[(truth[f"EXT_{i + 1}"] == 1) & (truth["MAG"] < 20.0)]
        # Ignore stars whose centre is within 3 px of the edge.
        inner = (
            (on[f"X_{i + 1}"] > 3)
            & (on[f"X_{i + 1}"] < SIZE - 3)
            & (on[f"Y_{i + 1}"] > 3)
            & (on[f"Y_{i + 1}"] < SIZE - 3)
        )
        on = on[inner]
        j, d = _match(on[f"X_{i + 1}"], on[f"Y_{i + 1}"], cat["XWIN_IMAGE"], cat["YWIN_IMAGE"], 1.0)
        found = np.isfinite(d)
        assert found.mean() >= 0.95, f"exposure {i + 1}: {found.sum()}/{len(on)} found"
        # Pixel positions agree with the truth to a few hundredths of a pixel.
        assert np.median(d[found]) < 0.05
        # Zero point 30: MAG_AUTO within 0.1 mag of the truth (Kron misses a little wing).
        dmag = np.asarray(cat["MAG_AUTO"][j[found]]) - np.asarray(on["MAG"][found])
        assert abs(np.median(dmag)) < 0.1
        # The header WCS (deliberately wrong) puts the same stars ~5" away from the truth.
        world = np.hypot(
            (cat["XWIN_WORLD"][j[found]] - on["RA"][found]) * np.cos(np.radians(on["DEC"][found])),
            cat["YWIN_WORLD"][j[found]] - on["DEC"][found],
        )
        assert 3.5 < np.median(world) * 3600.0 < 6.5
        # Hot pixels (weight 0) are not detected as sources.
        with fits.open(sky.exposures[i]["dqmask"]) as hdul:
            dq = hdul[0].data
        hot_y, hot_x = np.nonzero(dq & DQ_HOT_PIXEL)
        _, dh = _match(hot_x + 1.0, hot_y + 1.0, cat["XWIN_IMAGE"], cat["YWIN_IMAGE"], 0.5)
        assert np.isfinite(dh).sum() <= 2


@pytest.mark.tools
def test_scamp_with_the_reference_catalog_fixes_the_wcs(
    sky: SkyProducts, catalogs: list[str]
) -> None:
    scamp = require_tool("scamp")
    xml = Path(sky.out_dir) / "scamp.xml"
    argv = [scamp, *catalogs, "-c", str(DEMO_CONFIG / "default.scamp")]
    for key, value in sky.scamp_config().items():
        argv += [f"-{key}", value]
    run_tool([*argv, "-XML_NAME", str(xml)], cwd=sky.out_dir)
    truth = sky.load_truth()
    for i, exp in enumerate(sky.exposures):
        on = truth[truth[f"EXT_{i + 1}"] == 1]
        x, y = on[f"X_{i + 1}"], on[f"Y_{i + 1}"]
        header = fits.getheader(exp["image"])
        before = np.sqrt(np.mean(_sky_offsets(_wcs(header), x, y, on) ** 2))
        header.update(read_head_file(catalogs[i].replace(".cat", ".head")))
        after = np.sqrt(np.mean(_sky_offsets(_wcs(header), x, y, on) ** 2))
        assert before > 3.5
        assert after < 0.05, f"exposure {i + 1}: {after * 1000:.1f} mas rms after SCAMP"
    log = parse_xml_log(xml, "scamp")
    assert log.error_msg is None and len(log.warnings) == 0
    assert log.summary["astrom_sigma_reference_total"] < 0.05


@pytest.mark.tools
def test_psfex_measures_the_injected_fwhm(sky: SkyProducts) -> None:
    sex = require_tool("sextractor")
    psfex = require_tool("psfex")
    exp = sky.exposures[0]
    cat = str(Path(sky.out_dir) / "psf_input.cat")
    run_tool(
        sextractor_argv(sex, exp["image"], cat, params="prepsfex.param", weight=exp["wtmap"]),
        cwd=sky.out_dir,
    )
    xml = Path(sky.out_dir) / "psfex.xml"
    run_tool(
        [psfex, cat, "-c", str(DEMO_CONFIG / "default.psfex"), "-XML_NAME", str(xml)],
        cwd=sky.out_dir,
    )
    assert (Path(sky.out_dir) / "psf_input.psf").exists()
    summary = parse_xml_log(xml, "psfex").summary
    assert summary["nstars_accepted"] >= 25
    assert summary["fwhm_mean"] == pytest.approx(sky.fwhm_pixels, rel=0.05)
    assert summary["fwhm_mean"] == pytest.approx(sky.fwhm_pixelized, rel=0.03)
    assert summary["fwhm_wcs_mean"] == pytest.approx(sky.fwhm_arcsec, rel=0.05)


@pytest.mark.tools
def test_sextractor_runs_on_one_extension(tmp_path: Path) -> None:
    sex = require_tool("sextractor")
    mef = make_sky(tmp_path, n_exposures=1, size=256, n_extensions=2, seed=5)
    exp = mef.exposures[0]
    cat = tmp_path / "chip2.cat"
    run_tool(
        sextractor_argv(
            sex,
            exp["image"] + "[2]",
            cat,
            weight=exp["wtmap"] + "[2]",
            flag=exp["dqmask"] + "[2]",
        ),
        cwd=tmp_path,
    )
    table = read_ldac(cat)
    assert table.meta["header"]["EXTNAME"] == "CCD2"
    truth = mef.load_truth()
    on = truth[(truth["EXT_1"] == 2) & (truth["MAG"] < 20.0)]
    on = on[(on["X_1"] > 3) & (on["X_1"] < 253) & (on["Y_1"] > 3) & (on["Y_1"] < 253)]
    _, d = _match(on["X_1"], on["Y_1"], table["XWIN_IMAGE"], table["YWIN_IMAGE"], 1.0)
    assert np.isfinite(d).mean() > 0.85  # a crowded 256 px chip: some blends


@pytest.mark.tools
@pytest.mark.slow
def test_full_scale_sky_through_scamp_and_psfex(tmp_path: Path) -> None:
    """The recipe at full scale (3 x 2048^2): generation time, SCAMP rms, PSFEx FWHM."""
    sex = require_tool("sextractor")
    scamp = require_tool("scamp")
    psfex = require_tool("psfex")
    t0 = time.perf_counter()
    big = make_sky(tmp_path, n_exposures=3, size=2048)
    assert time.perf_counter() - t0 < 20.0
    truth = big.load_truth()
    assert 800 < np.sum(truth["EXT_1"] == 1) < 1000  # ~900 stars per chip
    cats = []
    for exp in big.exposures:
        cat = exp["image"].replace(".fits", ".cat")
        run_tool(
            sextractor_argv(sex, exp["image"], cat, weight=exp["wtmap"], flag=exp["dqmask"]),
            cwd=tmp_path,
        )
        cats.append(cat)
    argv = [scamp, *cats, "-c", str(DEMO_CONFIG / "default.scamp")]
    for key, value in big.scamp_config().items():
        argv += [f"-{key}", value]
    run_tool([*argv, "-XML_NAME", str(tmp_path / "scamp.xml")], cwd=tmp_path)
    for i, exp in enumerate(big.exposures):
        on = truth[truth[f"EXT_{i + 1}"] == 1]
        header = fits.getheader(exp["image"])
        header.update(read_head_file(cats[i].replace(".cat", ".head")))
        offsets = _sky_offsets(_wcs(header), on[f"X_{i + 1}"], on[f"Y_{i + 1}"], on)
        assert np.sqrt(np.mean(offsets**2)) < 0.02
    psf_cat = str(tmp_path / "psf_input.cat")
    exp = big.exposures[0]
    run_tool(
        sextractor_argv(sex, exp["image"], psf_cat, params="prepsfex.param", weight=exp["wtmap"]),
        cwd=tmp_path,
    )
    xml = tmp_path / "psfex.xml"
    run_tool(
        [psfex, psf_cat, "-c", str(DEMO_CONFIG / "default.psfex"), "-XML_NAME", str(xml)],
        cwd=tmp_path,
    )
    summary = parse_xml_log(xml, "psfex").summary
    assert summary["nstars_accepted"] >= 150
    assert summary["fwhm_mean"] == pytest.approx(big.fwhm_pixelized, rel=0.03)
