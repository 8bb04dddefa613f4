"""XML logs of the four real tools, on success, on failure and when cut short."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tooling import DEMO_CONFIG, require_tool, run_tool, sextractor_argv

import aw_tui.astromatic.xmllog as votable
from aw_tui.astromatic.xmllog import XmlLog, normalize_tool, parse_xml_bytes, parse_xml_log
from aw_tui.astromatic.xmlvalues import plain
from aw_tui.demo.sky import SkyProducts, make_sky


@dataclass
class Chain:
    sky: SkyProducts
    work: Path
    sex_xml: list[Path]
    scamp_xml: Path
    swarp_xml: Path
    psfex_xml: Path
    failed: dict[str, Path]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """Run SExtractor x2, SCAMP, SWarp, SExtractor (vignets), PSFEx, and a failing run of each."""
    sex = require_tool("sextractor")
    scamp = require_tool("scamp")
    swarp = require_tool("swarp")
    psfex = require_tool("psfex")
    work = tmp_path_factory.mktemp("xml")
    sky = make_sky(work, n_exposures=2, size=512, seed=31)
    sex_xml, cats = [], []
    for exp in sky.exposures:
        cat = exp["image"].replace(".fits", ".cat")
        xml = Path(exp["image"].replace(".fits", ".sex.xml"))
        run_tool(
            sextractor_argv(
                sex, exp["image"], cat, weight=exp["wtmap"], flag=exp["dqmask"], xml=xml
            ),
            cwd=work,
        )
        sex_xml.append(xml)
        cats.append(cat)
    scamp_xml = work / "scamp.xml"
    argv = [scamp, *cats, "-c", str(DEMO_CONFIG / "default.scamp")]
    for key, value in sky.scamp_config().items():
        argv += [f"-{key}", value]
    run_tool([*argv, "-XML_NAME", str(scamp_xml)], cwd=work)
    swarp_xml = work / "swarp.xml"
    stack = work / "stack.fits"
    run_tool(
        [
            swarp,
            *sky.images,
            "-c",
            str(DEMO_CONFIG / "default.swarp"),
            "-IMAGEOUT_NAME",
            str(stack),
            "-WEIGHTOUT_NAME",
            str(work / "stack.wtmap.fits"),
            "-RESAMPLE_DIR",
            str(work),
            "-XML_NAME",
            str(swarp_xml),
        ],
        cwd=work,
    )
    stack_cat = work / "stack.cat"
    run_tool(
        sextractor_argv(
            sex,
            stack,
            stack_cat,
            params="prepsfex.param",
            weight=work / "stack.wtmap.fits",
            xml=work / "stack.sex.xml",
        ),
        cwd=work,
    )
    psfex_xml = work / "psfex.xml"
    run_tool(
        [psfex, stack_cat, "-c", str(DEMO_CONFIG / "default.psfex"), "-XML_NAME", psfex_xml],
        cwd=work,
    )

    failed = {}
    fail_dir = work / "failed"
    fail_dir.mkdir()
    for tool, argv in {
        "sextractor": sextractor_argv(sex, "nothere.fits", "x.cat", xml="sex.xml"),
        "scamp": [scamp, "nothere.cat", "-c", str(DEMO_CONFIG / "default.scamp")],
        "swarp": [swarp, "nothere.fits", "-c", str(DEMO_CONFIG / "default.swarp")],
        "psfex": [psfex, "nothere.cat", "-c", str(DEMO_CONFIG / "default.psfex")],
    }.items():
        xml = fail_dir / f"{tool}.xml"
        if tool != "sextractor":
            argv = [*argv, "-XML_NAME", str(xml)]
        else:
            argv = [a if a != "sex.xml" else str(xml) for a in argv]
        proc = run_tool(argv, cwd=fail_dir, check=False)
        assert proc.returncode == 1, tool
        failed[tool] = xml
    return Chain(sky, work, sex_xml, scamp_xml, swarp_xml, psfex_xml, failed)


def _json_ok(log: XmlLog) -> None:
    json.dumps(log.summary)  # plain python values only


@pytest.mark.tools
def test_sextractor_xml(chain: Chain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Parse from another directory: the embedded <STREAM href="file:..."> is relative to the
    # tool's working directory and must not be opened.
    monkeypatch.chdir(tmp_path)
    assert 'STREAM href="file:' in chain.sex_xml[0].read_text()
    log = parse_xml_log(chain.sex_xml[0], "sex")
    assert log.ok and log.parse_error is None and log.error_msg is None
    assert log.tool == "sextractor"
    assert {"Extension_Data", "Warnings"} <= set(log.tables)
    s = log.summary
    assert len(s["extensions"]) == 1
    ext = s["extensions"][0]
    assert ext["nsextracted"] == s["detections"] > 80
    assert ext["ndetect"] >= ext["nsextracted"]
    assert abs(ext["background_mean"] - 1000.0) < 10.0
    assert abs(ext["background_stdev"] - 32.0) < 2.0
    assert ext["threshold"] == pytest.approx(3.0 * ext["background_stdev"], rel=0.01)
    assert list(log.warnings.colnames) == ["Date", "Time", "Msg"] and len(log.warnings) == 0
    _json_ok(log)


@pytest.mark.tools
def test_scamp_xml(chain: Chain) -> None:
    log = parse_xml_log(chain.scamp_xml)  # tool guessed from the file
    assert log.tool == "scamp" and log.ok
    s = log.summary
    assert s["nfields"] == 2 and s["ngroups"] == 1
    assert len(s["astrom_sigma_internal"]) == len(s["astrom_sigma_reference"]) == 2
    assert 0.0 < s["astrom_sigma_reference_total"] < 0.05  # arcsec
    assert s["astrom_sigma_reference_total"] == pytest.approx(
        (s["astrom_sigma_reference"][0] ** 2 + s["astrom_sigma_reference"][1] ** 2) ** 0.5
    )
    assert s["as_contrast"] > 2.0 and s["xy_contrast"] > 2.0
    assert s["ndetect"] == sum(f["ndetect"] for f in s["fields"]) > 80
    # SCAMP found the deliberate header error: a few arcsec of shift, ~0.1 deg of rotation.
    for field in s["fields"]:
        assert abs(field["dposangle"]) < 1.0
    _json_ok(log)


@pytest.mark.tools
def test_swarp_xml_with_its_quirks(chain: Chain) -> None:
    text = chain.swarp_xml.read_text()
    assert 'name="Weight_Type" datatype="boolean"' in text  # the quirk is still there
    assert "<VOTABLE version" not in text
    log = parse_xml_log(chain.swarp_xml, "SWarp")
    assert log.tool == "swarp" and log.parse_error is None and log.error_msg is None
    s = log.summary
    assert s["ninputs"] == 2 and s["ninputs_done"] == 2
    assert [Path(p).name for p in s["inputs"]] == ["206401.fits", "206402.fits"]
    assert Path(s["image"]).name == "stack.fits"
    assert s["image_size"] is None  # SWarp does not record the size it chose
    assert s["center"][0] == pytest.approx(chain.sky.ra_center, abs=0.01)
    assert list(log.tables["Input_Image_Data"]["Weight_Type"]) == ["MAP_WEIGHT"] * 2
    # SCAMP with SOLVE_PHOTOM N wrote FLXSCALE = 0: SWarp warns once per image.
    assert sum("flux scale = 0" in m for m in log.warning_messages) == 2
    _json_ok(log)


@pytest.mark.tools
def test_psfex_xml(chain: Chain) -> None:
    log = parse_xml_log(chain.psfex_xml, "psfex")
    assert log.ok
    s = log.summary
    assert s["nstars_accepted"] <= s["nstars_loaded"]
    assert s["nstars_accepted"] >= 30
    assert s["fwhm_mean"] == pytest.approx(chain.sky.fwhm_pixels, rel=0.05)
    assert s["fwhm_wcs_mean"] == pytest.approx(1.0, rel=0.05)
    assert 0.0 < s["chi2_mean"] < 5.0
    _json_ok(log)


@pytest.mark.tools
def test_demo_configs_raise_no_warning_but_unknown_keys_do(chain: Chain) -> None:
    for path in (chain.sex_xml[0], chain.scamp_xml, chain.psfex_xml):
        assert parse_xml_log(path).warning_messages == []
    # The tools exit 0 on an unknown keyword: the XML warnings are where it shows.
    psfex = require_tool("psfex")
    xml = chain.work / "unknown.xml"
    config = DEMO_CONFIG / "default.psfex"
    proc = run_tool(
        [psfex, chain.work / "stack.cat", "-c", config, "-FOO", "1", "-XML_NAME", xml],
        cwd=chain.work,
        check=False,
    )
    assert proc.returncode == 0
    assert "FOO keyword unknown" in parse_xml_log(xml).warning_messages


@pytest.mark.tools
@pytest.mark.parametrize("tool", ["sextractor", "scamp", "swarp", "psfex"])
def test_failed_runs_give_error_msg(chain: Chain, tool: str) -> None:
    log = parse_xml_log(chain.failed[tool], tool)
    assert log.parse_error is None
    assert log.error_msg is not None and not log.ok
    if tool != "sextractor":  # SExtractor stops at its params file before opening the image
        assert "nothere" in log.error_msg
    _json_ok(log)
    if tool == "sextractor":
        # nothing was measured: None (printed n/a), not a made-up 0
        assert log.summary["detections"] is None and log.summary["extensions"] == []
    if tool == "scamp":
        assert log.summary["nfields"] == 0 and log.summary["astrom_sigma_reference"] is None
    if tool == "swarp":
        assert log.summary["ninputs"] == 0
    if tool == "psfex":
        assert log.summary["nstars_accepted"] is None


@pytest.mark.tools
def test_truncated_and_garbled_files_never_raise(chain: Chain) -> None:
    for path in (chain.sex_xml[0], chain.scamp_xml, chain.swarp_xml, chain.failed["scamp"]):
        data = path.read_bytes()
        for fraction in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95):
            log = parse_xml_bytes(data[: int(len(data) * fraction)], path=str(path))
            assert log.parse_error is not None
            _json_ok(log)
    # A failure cut after its Error_Msg still reports the error.
    data = chain.failed["scamp"].read_bytes()
    cut = data.index(b"Error_Msg") + 200
    log = parse_xml_bytes(data[:cut], "scamp")
    assert log.parse_error is not None
    assert "nothere.cat" in log.error_msg
    # A run cut after some tables keeps the tables that were complete.
    data = chain.scamp_xml.read_bytes()
    cut = data.index(b'<TABLE ID="Astrometric_Instruments"')
    log = parse_xml_bytes(data[:cut], "scamp")
    assert "FGroups" in log.tables and log.summary["astrom_sigma_reference_total"] < 0.05
    for junk in (b"", b"\x00\xff garbage", b"<VOTABLE><RESOURCE>"):
        log = parse_xml_bytes(junk, "psfex")
        assert log.parse_error is not None and log.error_msg is None
        assert len(log.warnings) == 0 and log.warnings.colnames == ["Date", "Time", "Msg"]


# --------------------------------------------------------------------------------------------
# The ElementTree reader (fast path) and the astropy.io.votable fallback


def _fast_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any use of the astropy fallback fail the test."""

    def no_fallback(text: str, log: XmlLog) -> None:
        raise AssertionError(f"{log.path}: the astropy fallback was used")

    monkeypatch.setattr(votable, "_parse_astropy", no_fallback)


def _fallback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every file to the astropy fallback."""

    def refuse(data: bytes, log: XmlLog) -> XmlLog:
        raise RuntimeError("fast path disabled")

    monkeypatch.setattr(votable, "_parse_fast", refuse)


def _cells(column: Any) -> list[Any]:
    """A column's values as plain Python values (masked and NaN as None, rows as lists)."""
    return [plain(v) for v in column]


def _parse_both(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[XmlLog, XmlLog]:
    with monkeypatch.context() as m:
        _fast_only(m)
        fast = parse_xml_log(path)
    with monkeypatch.context() as m:
        _fallback_only(m)
        slow = parse_xml_log(path)
    return fast, slow


@pytest.mark.tools
def test_fast_path_and_astropy_fallback_agree(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [
        *chain.sex_xml,
        chain.work / "stack.sex.xml",
        chain.scamp_xml,
        chain.swarp_xml,
        chain.psfex_xml,
        *chain.failed.values(),
    ]
    for path in paths:
        fast, slow = _parse_both(monkeypatch, path)
        assert fast.parse_error is None and slow.parse_error is None, path
        assert (fast.tool, fast.error_msg) == (slow.tool, slow.error_msg), path
        assert fast.meta == slow.meta and fast.config == slow.config, path
        assert fast.summary == slow.summary, path
        assert fast.warnings.colnames == slow.warnings.colnames == ["Date", "Time", "Msg"]
        assert [list(r) for r in fast.warnings] == [list(r) for r in slow.warnings], path
        assert list(fast.tables) == list(slow.tables), path
        for name, table in fast.tables.items():
            other = slow.tables[name]
            where = f"{path.name}: {name}"
            assert table.colnames == other.colnames, where
            assert len(table) == len(other), where
            if len(other) == 0 and all(other[c].dtype.kind == "O" for c in other.colnames):
                # astropy cannot convert an empty table with array fields (SCAMP's Fields of a
                # failed run): the fallback gives untyped columns, the fast path typed ones.
                continue
            assert table.meta == other.meta, where
            for c in table.colnames:
                mine, ref = table[c], other[c]
                assert mine.dtype.kind == ref.dtype.kind, f"{where}.{c}"
                assert mine.shape == ref.shape, f"{where}.{c}"
                assert _cells(mine) == _cells(ref), f"{where}.{c}"
                assert mine.unit == ref.unit, f"{where}.{c}"
                assert mine.description == ref.description, f"{where}.{c}"
    # The SWarp quirk both ways: MAP_WEIGHT in a boolean field is kept as text.
    fast, slow = _parse_both(monkeypatch, chain.swarp_xml)
    assert _cells(fast.tables["Input_Image_Data"]["Weight_Type"]) == ["MAP_WEIGHT"] * 2
    assert fast.tables["Input_Image_Data"]["External_Header"].dtype == bool
    # SCAMP's fixed-size vectors are 2-D float32 columns, as astropy makes them.
    fast, slow = _parse_both(monkeypatch, chain.scamp_xml)
    sigma = fast.tables["FGroups"]["AstromSigma_Reference"]
    assert sigma.dtype == np.float32 and sigma.shape == (1, 2)


@pytest.mark.tools
def test_truncated_xml_goes_to_the_fallback_and_parses_partially(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = []
    fallback = votable._parse_astropy

    def spy(text: str, log: XmlLog) -> None:
        used.append(log.path)
        fallback(text, log)

    monkeypatch.setattr(votable, "_parse_astropy", spy)
    for path in (chain.sex_xml[0], chain.scamp_xml, chain.swarp_xml, chain.psfex_xml):
        data = path.read_bytes()
        full = parse_xml_bytes(data, path=str(path))
        assert used == [] and full.parse_error is None
        # Cut inside the last table: the tables complete before it are kept.
        cut = data.rindex(b"</TABLE>") - 20
        head = data[:cut].decode()
        complete = re.findall(r'<TABLE\s+ID="([^"]+)"', head[: head.rfind("</TABLE>")])
        assert complete, path
        log = parse_xml_bytes(data[:cut], path=str(path))
        assert used == [str(path)]
        used.clear()
        assert log.parse_error is not None and "partially read" in log.parse_error, path
        assert log.tool == full.tool and log.meta.get("Software") == full.meta["Software"]
        assert set(complete) <= set(log.tables), path
        for name in complete:
            assert log.tables[name].colnames == full.tables[name].colnames, (path, name)
        json.dumps(log.summary)
    # A failed run cut short still gives its error message.
    data = chain.failed["psfex"].read_bytes()
    log = parse_xml_bytes(data[: int(len(data) * 0.6)], "psfex")
    assert log.parse_error is not None and "nothere" in (log.error_msg or "")


_TYPES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.1"{ns}>
<RESOURCE ID="SWarp" name="stack.fits">
 <RESOURCE ID="MetaData" name="MetaData">
  <PARAM name="Software" datatype="char" arraysize="*" value="SWarp"/>
  <PARAM name="Duration" datatype="float" value="1.07"/>
  <PARAM name="Unset" datatype="double" value=""/>
  <PARAM name="Flag" datatype="boolean" value="F"/>
  <PARAM name="Blank" datatype="char" arraysize="*" value=" "/>
  <TABLE ID="Input_Image_Data" name="Input_Image_Data">
   <PARAM name="NFrames" datatype="int" value="2"/>
   <FIELD name="Frame_Index" datatype="int"/>
   <FIELD name="Small" datatype="short"/>
   <FIELD name="Background_Mean" datatype="float"/>
   <FIELD name="Epoch" datatype="double"/>
   <FIELD name="Flag" datatype="boolean"/>
   <FIELD name="Weight_Type" datatype="boolean"/>
   <FIELD name="Image_Name" datatype="char" arraysize="*"/>
   <FIELD name="Field_Coordinates" datatype="double" arraysize="2" unit="deg"/>
   <FIELD name="Same" datatype="int" arraysize="*"/>
   <FIELD name="Ragged" datatype="float" arraysize="*"/>
   <DATA><TABLEDATA>
    <TR><TD>1</TD><TD>-2</TD><TD>999.5</TD><TD>nan</TD><TD>true</TD><TD>T</TD>
     <TD> a.fits </TD><TD>  150.1   2.2</TD><TD>1 2</TD><TD>1</TD></TR>
    <TR><TD></TD><TD>3</TD><TD></TD><TD>2000</TD><TD>0</TD><TD>MAP_WEIGHT</TD>
     <TD></TD><TD></TD><TD>3 4</TD><TD>1 2 3</TD></TR>
   </TABLEDATA></DATA>
  </TABLE>
 </RESOURCE>
 <RESOURCE ID="Config" name="Config">
  <PARAM name="Center" datatype="double" arraysize="2" value="    150.09     2.19"/>
  <PARAM name="Image_Size" datatype="int" arraysize="1" value="0"/>
  <PARAM name="Subtract_Back" datatype="boolean" arraysize="1" value="T"/>
 </RESOURCE>
</RESOURCE>
</VOTABLE>
"""


@pytest.mark.parametrize("ns", ["", ' xmlns="http://www.ivoa.net/xml/VOTable/v1.1"'])
def test_fast_path_types_cells_by_datatype(monkeypatch: pytest.MonkeyPatch, ns: str) -> None:
    _fast_only(monkeypatch)
    log = parse_xml_bytes(_TYPES_XML.format(ns=ns).encode())
    assert log.parse_error is None and log.tool == "swarp" and log.error_msg is None
    assert log.meta == {
        "Software": "SWarp",
        "Duration": 1.07,
        "Unset": None,
        "Flag": False,
        "Blank": " ",
    }
    assert log.config == {"Center": [150.09, 2.19], "Image_Size": [0], "Subtract_Back": [True]}
    t = log.tables["Input_Image_Data"]
    assert t.meta["NFrames"] == 2 and t.meta["ID"] == "Input_Image_Data"
    kinds = {c: (t[c].dtype.kind, t[c].shape) for c in t.colnames}
    assert kinds == {
        "Frame_Index": ("i", (2,)),
        "Small": ("i", (2,)),
        "Background_Mean": ("f", (2,)),
        "Epoch": ("f", (2,)),
        "Flag": ("b", (2,)),
        "Weight_Type": ("O", (2,)),  # MAP_WEIGHT does not fit a boolean: the column is text
        "Image_Name": ("O", (2,)),
        "Field_Coordinates": ("f", (2, 2)),
        "Same": ("i", (2, 2)),  # '*' arrays all of one length: a 2-D column
        "Ragged": ("O", (2,)),  # of different lengths: one array per row
    }
    assert t["Frame_Index"].dtype == np.int32 and t["Small"].dtype == np.int16
    assert t["Background_Mean"].dtype == np.float32 and t["Epoch"].dtype == np.float64
    assert _cells(t["Frame_Index"]) == [1, None]  # empty cell: masked
    assert _cells(t["Background_Mean"]) == [999.5, None]
    assert _cells(t["Epoch"]) == [None, 2000.0]  # NaN: masked
    assert _cells(t["Flag"]) == [True, False]
    assert _cells(t["Weight_Type"]) == ["T", "MAP_WEIGHT"]
    assert _cells(t["Image_Name"]) == ["a.fits", ""]
    assert _cells(t["Field_Coordinates"]) == [[150.1, 2.2], [None, None]]
    assert str(t["Field_Coordinates"].unit) == "deg"
    assert _cells(t["Same"]) == [[1, 2], [3, 4]]
    assert [list(r) for r in t["Ragged"]] == [[1.0], [1.0, 2.0, 3.0]]
    assert type(t["Small"]).__name__ == "Column"  # nothing masked: a plain Column
    assert log.summary["ninputs"] == 2 and log.summary["background_mean"] == 999.5
    json.dumps(log.summary)


def test_what_the_fast_path_refuses_goes_to_astropy(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        '<?xml version="1.0"?><VOTABLE version="1.3"><RESOURCE><TABLE ID="C">'
        '<FIELD name="z" datatype="floatComplex"/><FIELD name="n" datatype="int"/>'
        "<DATA><TABLEDATA><TR><TD>1 2</TD><TD>3</TD></TR></TABLEDATA></DATA>"
        "</TABLE></RESOURCE></VOTABLE>"
    )
    log = parse_xml_bytes(text.encode())
    assert log.parse_error is None
    assert list(log.tables["C"]["z"]) == [1 + 2j] and list(log.tables["C"]["n"]) == [3]


def test_missing_file_and_tool_names(tmp_path: Path) -> None:
    log = parse_xml_log(tmp_path / "nothere.xml", "scamp")
    assert log.parse_error is not None and "nothere.xml" in log.parse_error
    assert log.summary == {} and log.tool == "scamp"
    assert normalize_tool("/usr/bin/source-extractor") == "sextractor"
    assert normalize_tool("SWarp") == "swarp"
    assert normalize_tool("sex") == "sextractor"
    assert normalize_tool("ls") is None


def test_require_tool_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import tooling

    monkeypatch.setenv("PATH", "/nonexistent")
    tooling._find.cache_clear()
    try:
        monkeypatch.setenv("CI", "false")
        with pytest.raises(pytest.skip.Exception, match="apt-get install scamp"):
            require_tool("scamp")
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="astromatic-psfex"):
            require_tool("psfex")
    finally:
        tooling._find.cache_clear()
