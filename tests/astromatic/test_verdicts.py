"""Honest results with the real tools: each rule of docs/verdicts.md gives the verdict, the
status and the message it promises, and nothing unmeasured is printed as a number."""

from __future__ import annotations

import logging
import os
import stat
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from tooling import DEMO_CONFIG, require_tool

import aw_tui.api as api
from aw_tui.astromatic.diagnose import diagnose, plplot_devices
from aw_tui.astromatic.ldac import read_ldac
from aw_tui.astromatic.summaries import format_summary
from aw_tui.astromatic.verdicts import judge
from aw_tui.demo.sky import make_sky
from aw_tui.pipeline import Pipeline

SEX = str(DEMO_CONFIG / "default.sex")
SCAMP = str(DEMO_CONFIG / "default.scamp")
PSFEX = str(DEMO_CONFIG / "default.psfex")
SCAMP_PARAMS = ["NUMBER", "EXT_NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE",
                "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD", "FLUX_AUTO",
                "FLUXERR_AUTO", "IMAFLAGS_ISO", "FLAGS", "FLAGS_WEIGHT", "FLUX_RADIUS",
                "ELONGATION"]
PSFEX_PARAMS = ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD",
                "FLUX_APER(1)", "FLUXERR_APER(1)", "FLAGS", "FLUX_RADIUS", "ELONGATION",
                "VIGNET(25,25)", "SNR_WIN"]
PRINTABLE = set(map(chr, range(32, 127))) | set("±\"'")

pytestmark = pytest.mark.tools


def _pipeline(base: Path) -> Pipeline:
    return Pipeline({"temp": str(base / "temp"), "log": str(base / "log")}, create_paths=True)


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    """Two exposures of one field, their SCAMP and PSFEx catalogs, and the reference
    catalog of a field 100 degrees away."""
    for tool in ("sextractor", "scamp", "psfex"):
        require_tool(tool)
    base = tmp_path_factory.mktemp("verdicts")
    sky = make_sky(base / "sky", n_exposures=2, size=512)
    far = make_sky(base / "far", n_exposures=1, size=256, ra_center=30.0, dec_center=-40.0)
    pipeline = _pipeline(base)
    catalogs = []
    for index, exposure in enumerate(sky.exposures):
        result = api.run_sex(pipeline, index, exposure, {"params": SCAMP_PARAMS,
                                                         "config_file": SEX})
        assert result["status"] == "success", result["error_msg"]
        catalogs.append(result["catalog"])
    psf = api.run_sex(pipeline, 9, sky.exposures[0], {
        "params": PSFEX_PARAMS, "config_file": SEX,
        "config": {"CATALOG_NAME": str(base / "psf.cat")}})
    assert psf["status"] == "success", psf["error_msg"]
    return SimpleNamespace(base=base, sky=sky, far=far, pipeline=pipeline, catalogs=catalogs,
                           psf_catalog=psf["catalog"])


def test_a_good_run_is_ok_with_no_warnings(field) -> None:
    result = api.run_scamp(field.pipeline, 10, field.catalogs,
                           {"config_file": SCAMP, "config": field.sky.scamp_config()})
    assert result["status"] == "success", result["error_msg"]
    assert result["verdict"] == "ok" and result["warnings"] == []
    assert 'int 0.0' in format_summary(result["summary"])  # measured, a few hundredths


def test_a_constant_image_warns_and_says_why(field, tmp_path: Path, caplog) -> None:
    image = tmp_path / "constant.fits"
    fits.writeto(image, np.full((128, 128), 100.0, dtype=np.float32))
    with caplog.at_level(logging.WARNING, logger="aw_tui.astromatic"):
        result = api.run_sex(_pipeline(tmp_path), 0, str(image),
                             {"params": ["NUMBER", "FLUX_AUTO"], "config_file": SEX})
    assert result["status"] == "success"
    assert result["verdict"] == "warn"
    assert any("mainly constant data" in w for w in result["warnings"])
    assert any("0 detections" in w for w in result["warnings"])
    # a Python user's logging sees the tool's warning
    assert any(r.name == "aw_tui.astromatic" and "mainly constant data" in r.getMessage()
               for r in caplog.records)


def test_scamp_with_a_reference_that_does_not_overlap_is_an_error(field) -> None:
    config = dict(field.sky.scamp_config(), ASTREFCAT_NAME=field.far.reference)
    result = api.run_scamp(field.pipeline, 11, field.catalogs,
                           {"config_file": SCAMP, "config": config})
    assert result["status"] == "error" and result["verdict"] == "bad"
    assert "matched 0 reference detections in field group G1" in result["error_msg"]
    assert os.path.basename(field.catalogs[0]) in result["error_msg"]
    assert "no astrometric solution in any of its 2 field(s)" in result["error_msg"]
    # SCAMP's own warning is listed too, and nothing unmeasured is shown as 0.000"
    assert any("Not enough matched detections" in w for w in result["warnings"])
    line = format_summary(result["summary"])
    assert 'ref n/a' in line and '0.000"' not in line


def test_single_exposure_scamp_has_no_internal_dispersion(field) -> None:
    result = api.run_scamp(field.pipeline, 12, field.catalogs[:1],
                           {"config_file": SCAMP, "config": field.sky.scamp_config()})
    assert result["status"] == "success", result["error_msg"]
    assert result["summary"]["astrom_sigma_internal_total"] is None
    line = format_summary(result["summary"])
    assert "int n/a" in line and 'int 0.000"' not in line
    assert result["summary"]["astrom_sigma_reference_total"] > 0


def test_an_unavailable_checkplot_device_names_the_devices_this_build_has(field) -> None:
    config = dict(field.sky.scamp_config(), CHECKPLOT_DEV="PNG", CHECKPLOT_TYPE="FGROUPS",
                  CHECKPLOT_NAME="fgroups")
    result = api.run_scamp(field.pipeline, 13, field.catalogs,
                           {"config_file": SCAMP, "config": config})
    messages = result["warnings"] + [result["error_msg"] or ""]
    device = [m for m in messages if "CHECKPLOT_DEV PNG" in m]
    assert device, messages
    assert result["verdict"] in ("warn", "bad")
    for name in ("NULL", "SVG", "PSC"):
        assert name in device[0]
    assert set(device[0]) <= PRINTABLE, repr(device[0])


def test_psfex_with_no_accepted_star_is_an_error_and_prints_no_made_up_fwhm(field) -> None:
    result = api.run_psfex(field.pipeline, 20, field.psf_catalog, {
        "config_file": PSFEX, "config": {"SAMPLE_FWHMRANGE": "20,30"}})
    assert result["status"] == "error" and result["verdict"] == "bad"
    assert "PSFEx accepted no PSF star" in result["error_msg"]
    assert result["summary"]["fwhm_mean"] is None
    line = format_summary(result["summary"])
    assert "FWHM n/a" in line and "None" not in line


def test_psfex_rules_few_stars_and_fwhm_outside_the_sampling_range() -> None:
    log = SimpleNamespace(config={"Sample_FWHMRange": [2.0, 3.0]}, warning_messages=[])
    found = judge("PSFEx", {"nstars_accepted": 12, "nstars_loaded": 40, "fwhm_mean": 3.9},
                  "", log)
    assert not found.errors
    assert any("only 12 PSF stars" in w for w in found.warnings)
    assert any("FWHM 3.90 px is outside SAMPLE_FWHMRANGE 2,3" in w for w in found.warnings)
    assert not judge("PSFEx", {"nstars_accepted": 49, "fwhm_mean": 3.9}, "",
                     SimpleNamespace(config={"Sample_FWHMRange": [2.0, 10.0]},
                                     warning_messages=[])).warnings


def test_failed_steps_print_n_a_not_zero_or_none() -> None:
    assert format_summary({"detections": None, "extensions": []}) == "n/a det"
    line = format_summary({"nstars_accepted": None, "nstars_loaded": None, "fwhm_mean": None})
    assert line == "n/a/n/a stars  FWHM n/a"


def test_a_tool_killed_by_a_signal_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "source-extractor"
    fake.write_text(f"#!{sys.executable}\nimport os, signal\n"
                    "os.kill(os.getpid(), signal.SIGSEGV)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    image = tmp_path / "a.fits"
    fits.writeto(image, np.zeros((8, 8), dtype=np.float32))
    result = api.run_sex(None, 0, str(image), {"cmd": str(fake), "params": ["NUMBER"],
                                               "temp_path": str(tmp_path)})
    assert result["status"] == "error" and result["verdict"] == "bad"
    assert "signal 11 (SIGSEGV, segmentation fault)" in result["error_msg"]
    assert "corrupt or truncated input" in result["error_msg"]


def test_an_empty_input_is_named(tmp_path: Path) -> None:
    require_tool("sextractor")
    image = tmp_path / "empty.fits"
    image.write_bytes(b"")
    result = api.run_sex(_pipeline(tmp_path), 0, str(image),
                         {"params": ["NUMBER"], "config_file": SEX})
    assert result["status"] == "error"
    assert f"empty input file(s) {image}" in result["error_msg"]


def test_hints_use_the_real_binary_name() -> None:
    text = "> WARNING: FOO keyword unknown\n> WARNING: BAR catalog parameter unknown\n"
    message = diagnose("PSFEx", 0, text).error_msg
    assert "`psfex -dd`" in message and "PSFEx -dd" not in message
    assert "`source-extractor -dp`" in diagnose("SExtractor", 0, text).error_msg


def test_xml_name_set_in_a_config_file_is_honoured(field, tmp_path: Path) -> None:
    config = tmp_path / "mine.sex"
    config.write_text(Path(SEX).read_text() + textwrap.dedent("""
        WRITE_XML Y
        XML_NAME  from-config.xml
    """))
    temp = tmp_path / "temp"
    result = api.run_sex(None, 0, field.sky.exposures[0], {
        "params": ["NUMBER", "FLUX_AUTO"], "config_file": str(config),
        "temp_path": str(temp)})
    assert result["status"] == "success", result["error_msg"]
    assert result["xml"] == str(temp / "from-config.xml")
    assert result["summary"]["detections"] > 50


def test_params_win_over_a_config_parameters_name_with_a_warning(field, tmp_path: Path) -> None:
    result = api.run_sex(_pipeline(tmp_path), 0, field.sky.exposures[0], {
        "params": ["NUMBER", "FLUX_AUTO"], "config_file": SEX,
        "config": {"PARAMETERS_NAME": str(DEMO_CONFIG / "default.param"),
                   "CATALOG_NAME": str(tmp_path / "cat.fits")}})
    assert result["status"] == "success", result["error_msg"]
    assert read_ldac(result["catalog"]).colnames == ["NUMBER", "FLUX_AUTO"]
    assert result["verdict"] == "warn"
    assert any("'params' list replaces config PARAMETERS_NAME" in w for w in result["warnings"])


def test_pipeline_run_still_stacks_the_tools_xml_warnings(tmp_path: Path) -> None:
    require_tool("sextractor")
    image = tmp_path / "constant.fits"
    fits.writeto(image, np.full((128, 128), 100.0, dtype=np.float32))
    pipeline = _pipeline(tmp_path)
    pipeline.add_step(api.run_sex, ["sex"], files=str(image),
                      api_kwargs={"params": ["NUMBER"], "config_file": SEX})
    result = pipeline.run()
    table = result["warnings"]  # the seed's table of every step's XML warnings
    assert any("mainly constant data" in str(m) for m in table["Msg"])
    assert set(table["filename"]) == {pipeline.steps[0].results["xml"]}
    assert pipeline.steps[0].results["verdict"] == "warn"


@pytest.mark.skipif(not plplot_devices(), reason="no PLplot drivers on this machine")
def test_an_invalid_device_failure_is_explained_without_garbage() -> None:
    # SCAMP on Debian, CHECKPLOT_DEV PNG, stdin not at end of file (as in issue 13)
    text = "> Generating group plots...\nInvalid device: \x01\ufffdA\ufffd\ufffd\x7f\n"
    diagnosis = diagnose("SCAMP", 1, text)
    assert diagnosis.status == "error"
    assert "CHECKPLOT_DEV names a device this build of PLplot does not have" in \
        diagnosis.error_msg
    assert "SVG" in diagnosis.error_msg and "NULL" in diagnosis.error_msg
    assert "CHECKPLOT_TYPE NONE" in diagnosis.error_msg
    assert set(diagnosis.error_msg) <= PRINTABLE, repr(diagnosis.error_msg)


def test_write_xml_without_a_name_reads_the_tools_default_log(field, tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    result = api.run_sex(None, 0, field.sky.exposures[0], {
        "params": ["NUMBER", "FLUX_AUTO"], "temp_path": str(temp),
        "config": {"WRITE_XML": "Y", "FILTER": "N"}})
    assert result["status"] == "success", result["error_msg"]
    assert result["xml"] == str(temp / "sex.xml") and (temp / "sex.xml").exists()
    assert result["summary"]["detections"] > 50
    # no -c file: "default.sex not found, using internal defaults" is expected, not a warning
    assert not any("internal defaults" in w for w in result["warnings"])
