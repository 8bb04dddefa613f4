"""The original astromatic_wrapper's api tests, as scenarios against ``aw_tui.api``.

Each scenario of the original's ``tests/test_api.py`` (init, build_cmd, run_frames, version,
run_sex/scamp/swarp/psfex command contents) is rewritten here: the commands are argv lists
(``docs/migrating.md``: "argv lists instead of command strings"), and where aw-tui differs on
purpose the test asserts aw-tui's behaviour and names the line of ``docs/migrating.md``.

The original replaced ``Astromatic._run_cmd`` to see the command without running a tool;
here ``Astromatic.run_call`` is replaced the same way for the command scenarios (it receives
the :class:`~aw_tui.api.ToolCall` the step built), and the version scenario runs a real
program.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tooling import require_tool

from aw_tui import api
from aw_tui.utils import pipeline


def options(argv: list[str]) -> dict[str, str]:
    """``-KEY value`` pairs of an argv."""
    first = next(i for i, a in enumerate(argv) if a.startswith("-"))
    pairs = argv[first:]
    assert all(k.startswith("-") for k in pairs[::2]), argv
    return {k[1:]: v for k, v in zip(pairs[::2], pairs[1::2], strict=True)}


def inputs(argv: list[str]) -> list[str]:
    """The files before the first option."""
    first = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    return argv[1:first]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The calls the steps would run (as the original's ``mock_run_cmd``)."""
    calls: list[Any] = []

    def run_call(self: api.Astromatic, call: api.ToolCall, store_output: bool = False,
                 raise_error: bool = True) -> dict[str, Any]:
        calls.append(call)
        return {"status": "error", "error_msg": "not run", "verdict": "bad", "warnings": [],
                "warnings_table": None, "summary": {}, "argv": call.argv, "xml": call.xml,
                "code": call.code, "resolved_files": call.resolved}

    monkeypatch.setattr(api.Astromatic, "run_call", run_call)
    return calls


SEX_KWARGS = {
    "code": "SExtractor",
    "config": {"CATALOG_NAME": "test.fits", "CATALOG_TYPE": "FITS_LDAC",
               "PARAMETERS_NAME": "default.path"},
    "config_file": "path/to/config/file",
}


def test_init(tmp_path: Path) -> None:
    kwargs = copy.deepcopy(SEX_KWARGS)
    kwargs["temp_path"] = str(tmp_path)
    kwargs["params"] = ["X_WORLD"]
    sextractor = api.Astromatic(**kwargs)
    assert sextractor.code == "SExtractor"
    assert sextractor.temp_path == str(tmp_path)
    assert sextractor.config["PARAMETERS_NAME"] == "default.path"
    assert sextractor.config_file == "path/to/config/file"
    assert sextractor.params == ["X_WORLD"]
    # migrating.md: the object keeps its own copy of the caller's dicts.
    sextractor.config["FILTER"] = False
    assert "FILTER" not in kwargs["config"]


def test_codes_are_binary_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sex = require_tool("SExtractor")
    assert set(api.codes) == {"SExtractor", "SCAMP", "SWarp", "PSFEx"}
    # migrating.md "api.codes": the binary installed here (the original said 'sex').
    assert api.codes["SExtractor"] == os.path.basename(sex)
    assert all(isinstance(name, str) and os.sep not in name for name in api.codes.values())
    # Nothing installed: the usual names.
    monkeypatch.setenv("PATH", str(tmp_path))
    assert dict(api.codes) == {"SExtractor": "source-extractor", "SCAMP": "scamp",
                               "SWarp": "SWarp", "PSFEx": "psfex"}


def test_build_cmd(tmp_path: Path) -> None:
    binary = require_tool("SExtractor")
    kwargs = copy.deepcopy(SEX_KWARGS)
    kwargs["config"]["FILTER"] = False
    kwargs["temp_path"] = str(tmp_path)
    sextractor = api.Astromatic(**kwargs)
    argv, _used = sextractor.build_cmd("test.fits")
    # migrating.md "build_cmd": an argv list, the binary found on PATH (checked with -v).
    assert argv == [binary, "test.fits", "-c", "path/to/config/file",
                    "-CATALOG_NAME", "test.fits", "-CATALOG_TYPE", "FITS_LDAC",
                    "-PARAMETERS_NAME", "default.path", "-FILTER", "N"]

    sextractor = api.Astromatic("SExtractor")
    kwargs = copy.deepcopy(SEX_KWARGS)
    kwargs.update(cmd="path/to/sex", temp_path=str(tmp_path),
                  params=["X_WORLD", "Y_WORLD", "MAG_AUTO"])
    kwargs["config"]["FILTER"] = False
    del kwargs["config_file"], kwargs["code"]
    argv, _used = sextractor.build_cmd("test.fits", **kwargs)
    params_file = options(argv)["PARAMETERS_NAME"]
    # migrating.md "params file": in temp, named after the step and the list's digest.
    assert os.path.dirname(params_file) == str(tmp_path) and params_file.endswith(".param")
    assert Path(params_file).read_text() == "X_WORLD\nY_WORLD\nMAG_AUTO\n"
    assert argv == ["path/to/sex", "test.fits", "-CATALOG_NAME", "test.fits",
                    "-CATALOG_TYPE", "FITS_LDAC", "-PARAMETERS_NAME", params_file,
                    "-FILTER", "N"]


def test_run_frames(tmp_path: Path, captured: list[Any]) -> None:
    require_tool("SExtractor")
    sextractor = api.Astromatic(
        "SExtractor", temp_path=str(tmp_path),
        config={"CATALOG_NAME": "test.fits", "PARAMETERS_NAME": "default.path",
                "WEIGHT_IMAGE": "test.wtmap.fits", "FLAG_IMAGE": "test.dqmask.fits"})
    result = sextractor.run_frames("test.fits", frames=[2], raise_error=False)
    assert result["status"] == "error" and result["frames"] == ["2"]
    argv = captured[0].argv
    assert inputs(argv) == ["test.fits[2]"]
    # The original also suffixed CATALOG_NAME (a string replace of 'test.fits'); aw-tui
    # suffixes only the weight and flag maps (migrating.md "run_frames").
    assert options(argv) == {"CATALOG_NAME": "test.fits", "PARAMETERS_NAME": "default.path",
                             "WEIGHT_IMAGE": "test.wtmap.fits[2]",
                             "FLAG_IMAGE": "test.dqmask.fits[2]"}


def test_version(tmp_path: Path) -> None:
    fake = tmp_path / "sex"
    fake.write_text(f"#!{sys.executable}\nprint('SExtractor version 2.19.5 (2015-04-30)')\n")
    fake.chmod(0o755)
    sextractor = api.Astromatic("SExtractor", cmd=str(fake))
    assert sextractor.get_version() == ("2.19.5", "2015-04-30")


@pytest.fixture
def pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pipeline.Pipeline:
    monkeypatch.chdir(tmp_path)
    for name in ("img.fits", "img.dqmask.fits", "img.wtmap.fits", "img1.fits", "img2.fits",
                 "cat1.fits", "cat2.fits", "default.path"):
        (tmp_path / name).write_bytes(b"x")
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    # migrating.md "no prompt without a terminal": create_paths instead of answering 'y'.
    return pipeline.Pipeline(paths=paths, build_paths={}, create_paths=True)


def test_run_sex(pipe: pipeline.Pipeline, captured: list[Any]) -> None:
    binary = require_tool("SExtractor")
    log, temp = pipe.paths["log"], pipe.paths["temp"]
    files = {"image": "img.fits", "dqmask": "img.dqmask.fits", "wtmap": "img.wtmap.fits"}
    kwargs = {"config": {"PARAMETERS_NAME": "default.path"}}
    result = api.run_sex(pipe, 0, files, kwargs)
    assert result["status"] == "error"
    argv = captured[-1].argv
    assert argv[:2] == [binary, "img.fits"]
    # migrating.md "run_sex": the catalog goes to temp; a weight map gets WEIGHT_TYPE.
    assert options(argv) == {
        "PARAMETERS_NAME": "default.path", "WRITE_XML": "Y",
        "XML_NAME": f"{log}/0.sex.log.xml", "WEIGHT_IMAGE": "img.wtmap.fits",
        "WEIGHT_TYPE": "MAP_WEIGHT", "FLAG_IMAGE": "img.dqmask.fits",
        "CATALOG_NAME": f"{temp}/img.cat"}
    assert captured[-1].xml == f"{log}/0.sex.log.xml"
    assert kwargs == {"config": {"PARAMETERS_NAME": "default.path"}}  # not modified

    result = api.run_sex(pipe, 0, files, kwargs, [1])
    argv = captured[-1].argv
    assert inputs(argv) == ["img.fits[1]"]
    opts = options(argv)
    assert opts["FLAG_IMAGE"] == "img.dqmask.fits[1]"
    assert opts["WEIGHT_IMAGE"] == "img.wtmap.fits[1]"
    assert opts["CATALOG_NAME"] == f"{temp}/img.cat"
    # migrating.md "XML log of a frame": the tool writes 0.sex.log.xml; a real run also
    # links it as the original's 0.sex.log-1.xml (tests/astromatic/test_api_real.py).
    assert opts["XML_NAME"] == f"{log}/0.sex.log.xml"
    assert result["frames"] == ["1"]


def test_run_scamp_saves_the_reference_catalog(pipe: pipeline.Pipeline,
                                               captured: list[Any]) -> None:
    binary = require_tool("SCAMP")
    log = pipe.paths["log"]
    result = api.run_scamp(pipe, 0, ["cat1.fits", "cat2.fits"], {}, "new_cat.fits")
    assert result["status"] == "error"
    argv = captured[-1].argv
    assert argv[:3] == [binary, "cat1.fits", "cat2.fits"]
    # migrating.md "run_scamp": no check-plots unless asked (no PLplot device needed).
    assert options(argv) == {
        "WRITE_XML": "Y", "XML_NAME": f"{log}/0.scamp.log.xml", "CHECKPLOT_DEV": "NULL",
        "CHECKPLOT_TYPE": "NONE", "SAVE_REFCATALOG": "Y", "REFOUT_CATPATH": "new_cat.fits"}
    assert "MERGEDOUTCAT_NAME" not in argv and "-MERGEDOUTCAT_NAME" not in argv


def test_run_swarp(pipe: pipeline.Pipeline, captured: list[Any]) -> None:
    binary = require_tool("SWarp")
    log, temp = pipe.paths["log"], pipe.paths["temp"]
    api.run_swarp(pipe, 0, ["img1.fits", "img2.fits"], {})
    argv = captured[-1].argv
    assert argv[:3] == [binary, "img1.fits", "img2.fits"]
    # migrating.md "run_swarp": the stack and its weight go to temp under the step's id.
    assert options(argv) == {
        "WRITE_XML": "Y", "XML_NAME": f"{log}/0.swarp.log.xml", "RESAMPLE_DIR": temp,
        "IMAGEOUT_NAME": f"{temp}/0.coadd.fits",
        "WEIGHTOUT_NAME": f"{temp}/0.coadd.weight.fits"}

    api.run_swarp(pipe, 0, ["img1.fits", "img2.fits"], {}, frames=[1])
    argv = captured[-1].argv
    assert inputs(argv) == ["img1.fits[1]", "img2.fits[1]"]
    assert options(argv)["XML_NAME"] == f"{log}/0.swarp.log.xml"


def test_run_psfex(pipe: pipeline.Pipeline, captured: list[Any]) -> None:
    binary = require_tool("PSFEx")
    log, temp = pipe.paths["log"], pipe.paths["temp"]
    api.run_psfex(pipe, 0, ["cat1.fits", "cat2.fits"], {})
    argv = captured[-1].argv
    assert argv[:3] == [binary, "cat1.fits", "cat2.fits"]
    # migrating.md "run_psfex": no check-plots or check-images unless asked.
    assert options(argv) == {
        "WRITE_XML": "Y", "XML_NAME": f"{log}/0.psfex.log.xml", "PSF_DIR": temp,
        "CHECKPLOT_TYPE": "NONE", "CHECKIMAGE_TYPE": "NONE"}
