"""An ``e``-style edit written to the demo's project file is what the real tools run with: a
fresh ``aw-tui PROJECT --batch`` passes the template's new value to every SExtractor member
and the member's override to that member only (its XML log and its argv say so)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tooling import require_tool

from aw_tui import load_pipeline
from aw_tui.project.fileedit import read_snapshot, set_step_kwargs

pytestmark = [pytest.mark.tools, pytest.mark.slow]


def detect_thresh(xml_log: Path) -> str:
    """The ``Detect_Thresh`` SExtractor reports in its XML log."""
    found = re.search(r'<PARAM name="Detect_Thresh"[^>]* value="([^"]*)"', xml_log.read_text())
    assert found, f"no Detect_Thresh in {xml_log}"
    return found[1]


def test_a_fresh_batch_run_uses_the_edited_template_and_member(tmp_path: Path) -> None:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    folder = tmp_path / "demo"
    made = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(folder), "--size", "512",
                           "--no-run"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    project = folder / "project.toml"
    original = project.read_text()
    # e on detect[206401], t (the template): DETECT_THRESH 7 for every member
    snapshot = read_snapshot(project)
    kwargs = copy.deepcopy(snapshot.step("detect[206401]").kwargs)
    kwargs["api_kwargs"]["config"]["DETECT_THRESH"] = 7
    edit = set_step_kwargs(snapshot, "detect[206401]", kwargs)
    assert edit.changed_steps == ["detect[206401]", "detect[206402]", "detect[206403]"]
    # e on detect[206402], m (only this member): 9
    kwargs = copy.deepcopy(edit.snapshot.step("detect[206402]").kwargs)
    kwargs["api_kwargs"]["config"]["DETECT_THRESH"] = 9
    edit = set_step_kwargs(edit.snapshot, "detect[206402]", kwargs, member_only=True)
    assert edit.changed_steps == ["detect[206402]"]
    text = project.read_text()
    assert [line for line in original.splitlines() if line.startswith("#")] == [
        line for line in text.splitlines() if line.startswith("#")]  # every comment kept
    assert '[steps.items."206402".kwargs.api_kwargs.config]\nDETECT_THRESH = 9\n' in text

    run = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    log = folder / "work" / "log"
    pipeline = load_pipeline(str(log))
    expected = {"detect[206401]": "7", "detect[206402]": "9", "detect[206403]": "7"}
    for step in pipeline.steps:
        if step.identity not in expected:
            continue
        assert detect_thresh(log / f"{step.step_id}.sex.log.xml") == expected[step.identity]
        argv = step.results["argv"]
        assert argv[argv.index("-DETECT_THRESH") + 1] == expected[step.identity]
    # the stack's SExtractor steps keep the configuration file's value
    stack = next(s for s in pipeline.steps if s.identity == "stack-detect")
    assert detect_thresh(log / f"{stack.step_id}.sex.log.xml") == "3"
    assert "-DETECT_THRESH" not in stack.results["argv"]
