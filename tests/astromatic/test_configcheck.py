"""``aw-tui check`` validates the tools' configuration before anything runs (issue 17).

With the real tools: the demo project passes; a misspelt keyword in a config file, a
companion file that does not exist and a PSFEx step fed by a SExtractor step without VIGNET
each make ``check`` exit 2 with a message naming the file and line (or the step) and the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tooling import require_tool

from aw_tui.astromatic.configcheck import StepConfig, validate_step_config, validate_steps
from aw_tui.astromatic.toolvocab import cache_dir, parse_keywords
from aw_tui.demo.writer import write_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    for tool in ("SExtractor", "SCAMP", "SWarp", "PSFEx"):
        require_tool(tool)
    return Path(write_demo(str(tmp_path_factory.mktemp("demo") / "demo"), size=256)).parent


@pytest.fixture
def project(demo: Path, tmp_path: Path, monkeypatch) -> Path:
    """A fresh copy of the demo project (images linked), and a private tool cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copy = tmp_path / "demo"
    shutil.copytree(demo, copy, symlinks=True, ignore=shutil.ignore_patterns("work"))
    return copy


def check(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aw_tui", "check", str(project / "project.toml")],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env=dict(os.environ), cwd="/")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_demo_passes_and_the_tool_lists_are_cached(project: Path, tmp_path: Path) -> None:
    result = check(project)
    assert result.returncode == 0, result.stderr
    cached = sorted(os.listdir(tmp_path / "cache" / "aw-tui" / "tools"))
    assert [name.split("-")[0] for name in cached] == ["PSFEx", "SCAMP", "SExtractor", "SWarp"]
    sex = json.loads((tmp_path / "cache" / "aw-tui" / "tools" / cached[2]).read_text())
    assert "DETECT_THRESH" in sex["keywords"] and "VIGNET" in sex["parameters"]


def test_misspelt_keyword_in_config_file(project: Path) -> None:
    config = project / "config" / "default.sex"
    edit(config, "DETECT_THRESH ", "DETECT_TRESH  ")
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1)
                if text.startswith("DETECT_TRESH"))
    result = check(project)
    assert result.returncode == 2
    assert f"{config}:{line}: DETECT_TRESH:" in result.stderr
    assert "did you mean DETECT_THRESH?" in result.stderr
    assert "Traceback" not in result.stderr
    # Once, although three steps use the file.
    assert result.stderr.count(f"{config}:{line}:") == 1


def test_missing_companion_file(project: Path) -> None:
    # Without the step's own ASTREFCAT_NAME, the config file's relative `reference.fits` is
    # looked for beside the config file, where it is not.
    edit(project / "project.toml", 'ASTREFCAT_NAME = "{paths.images}/reference.fits"\n', "")
    result = check(project)
    assert result.returncode == 2
    tried = project / "config" / "reference.fits"
    assert re.search(rf"default\.scamp:\d+: ASTREFCAT_NAME: SCAMP would open {re.escape(str(tried))}"
                     r", which does not exist", result.stderr), result.stderr


def test_psfex_input_without_vignet(project: Path) -> None:
    edit(project / "project.toml", '"VIGNET(20,20)", ', "")
    result = check(project)
    assert result.returncode == 2
    assert "PSFEx reads" in result.stderr and "lacks VIGNET" in result.stderr
    assert "add VIGNET(35,35) to the params of steps[3] 'stack-detect'" in result.stderr


def test_unknown_step_keyword_and_parameter() -> None:
    require_tool("SExtractor")
    step = StepConfig("steps[0] 'detect' (step 0)", "SExtractor",
                      config={"DETECT_TRESH": 3, "FILTER": False},
                      params=["NUMBER", "XWIN_IMAGE", "VIGNETT(5,5)"])
    problems = validate_step_config(step)
    assert len(problems) == 2
    assert problems[0].startswith("steps[0] 'detect' (step 0): config DETECT_TRESH:")
    assert "did you mean DETECT_THRESH?" in problems[0]
    assert "VIGNETT(5,5)" in problems[1] and "did you mean VIGNET?" in problems[1]


def test_a_problem_of_many_alike_steps_is_told_once() -> None:
    require_tool("SExtractor")
    steps = [StepConfig(f"steps[0] 'detect' (step {i})", "SExtractor",
                        config={"DETECT_TRESH": 3}, params=["NUMBER"]) for i in range(50)]
    problems = validate_steps(steps)
    assert len(problems) == 1
    assert problems[0].startswith("steps[0] 'detect' (step 0): config DETECT_TRESH:")
    assert "(and 49 more step(s) alike)\n    fix: correct it to DETECT_THRESH" in problems[0]


def test_companion_checks_follow_what_the_tool_reads(tmp_path: Path) -> None:
    require_tool("SExtractor")
    conf = tmp_path / "a.sex"
    conf.write_text("FILTER Y\nFILTER_NAME nowhere.conv\nSTARNNW_NAME nowhere.nnw\n")
    # FILTER Y reads the filter; without CLASS_STAR the neural network is never opened.
    problems = validate_steps([StepConfig("s", "SExtractor", str(conf), params=["NUMBER"])])
    assert len(problems) == 1 and "FILTER_NAME" in problems[0]
    assert str(tmp_path / "nowhere.conv") in problems[0]
    problems = validate_steps([StepConfig("s", "SExtractor", str(conf), {"FILTER": "N"},
                                          params=["NUMBER", "CLASS_STAR"])])
    assert len(problems) == 1 and str(tmp_path / "nowhere.nnw") in problems[0]


def test_convert_missing_for_png_checkplots(tmp_path: Path, monkeypatch) -> None:
    scamp = require_tool("SCAMP")
    step = StepConfig("steps[1] 'astrometry' (step 1)", "SCAMP",
                      config={"CHECKPLOT_DEV": "PNG", "CHECKPLOT_TYPE": "FGROUPS"})
    assert validate_step_config(step, binary=scamp) == [] or shutil.which("convert") is None
    monkeypatch.setenv("PATH", str(tmp_path))
    problems = validate_step_config(step, binary=scamp)
    assert len(problems) == 1 and "ImageMagick's `convert`" in problems[0]
    assert "CHECKPLOT_DEV SVG" in problems[0]


def test_cache_location_and_parse(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == str(tmp_path / "aw-tui" / "tools")
    assert parse_keywords("# c\nA_B  1  # x\n   # more\nC\n") == {"A_B": "1", "C": ""}
