"""PNG check-plots without ImageMagick (issue 17): SCAMP and PSFEx draw PNG/JPEG check-plots
as PostScript and convert them with ``convert`` (CHECKPLOT_ANTIALIAS Y). Without it the run
succeeds but the ``.png`` files hold PostScript: the result says so, with the fix, and
``aw-tui check`` says it before the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tooling import DEMO_CONFIG, require_tool

import aw_tui.astromatic.steps as api
from aw_tui.astromatic.configcheck import StepConfig, validate_step_config
from aw_tui.demo.sky import make_sky

PARAMS = ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "FLUX_APER(1)", "FLUXERR_APER(1)", "FLAGS",
          "FLUX_RADIUS", "ELONGATION", "VIGNET(25,25)", "SNR_WIN"]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> str:
    require_tool("SExtractor")
    base = tmp_path_factory.mktemp("psf")
    sky = make_sky(base / "images", n_exposures=1, size=512)
    result = api.run_sex(None, 0, sky.exposures[0], {
        "params": PARAMS, "config_file": str(DEMO_CONFIG / "default.sex"),
        "temp_path": str(base / "temp"), "config": {"CATALOG_NAME": str(base / "psf.cat")}})
    assert result["status"] == "success", result["error_msg"]
    return result["catalog"]


def test_png_checkplots_without_convert(catalog: str, tmp_path: Path, monkeypatch) -> None:
    psfex = require_tool("PSFEx")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    plots = tmp_path / "plots"
    result = api.run_psfex(None, 0, catalog, {
        "cmd": psfex, "temp_path": str(tmp_path / "temp"),
        "config_file": str(DEMO_CONFIG / "default.psfex"),
        "config": {"CHECKPLOT_DEV": "PNG", "CHECKPLOT_TYPE": "FWHM",
                   "CHECKPLOT_ANTIALIAS": True, "CHECKPLOT_NAME": str(plots)}})
    assert result["status"] == "success", result["error_msg"]
    assert result["verdict"] == "warn"
    notes = [w for w in result["warnings"] if "`convert`" in w]
    assert len(notes) == 1, result["warnings"]
    assert "not on PATH" in notes[0] and "apt-get install imagemagick" in notes[0]
    assert "CHECKPLOT_DEV SVG" in notes[0]
    made = list(tmp_path.rglob("plots*.png"))
    assert made and made[0].read_bytes().startswith(b"%!PS")  # PostScript, as said


def test_check_says_it_before_the_run(tmp_path: Path, monkeypatch) -> None:
    psfex = require_tool("PSFEx")
    monkeypatch.setenv("PATH", str(tmp_path))
    step = StepConfig("steps[4] 'psf' (step 4)", "PSFEx",
                      config={"CHECKPLOT_DEV": "PNG", "CHECKPLOT_TYPE": "FWHM"})
    problems = validate_step_config(step, binary=psfex)
    assert len(problems) == 1 and "ImageMagick's `convert`" in problems[0]
    # Without anti-aliasing PLplot draws the PNG itself: no converter involved.
    step.config["CHECKPLOT_ANTIALIAS"] = "N"
    assert validate_step_config(step, binary=psfex) == []
    # run_psfex makes no plot unless CHECKPLOT_TYPE is given.
    assert validate_step_config(StepConfig("s", "PSFEx", config={"CHECKPLOT_DEV": "PNG"}),
                                binary=psfex) == []
