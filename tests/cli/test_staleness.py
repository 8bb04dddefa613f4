"""One truth for a step (issue 12): the project file and the run directory never silently
disagree. Each trigger of staleness on the real demo (512 px, the real tools): what
``aw-tui check`` says, what ``status --json`` says, what ``--resume`` runs (the journal's
``step_started`` events) and with which kwargs (the tool's XML log).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from tooling import FinishedRun, require_tool

from aw_tui.cli.check import cmd_check
from aw_tui.cli.status import cmd_status
from aw_tui.demo.writer import write_demo
from aw_tui.project.fileedit import read_snapshot, set_step_kwargs
from aw_tui.rundir.journal import read_events
from aw_tui.target import resolve_target
from aw_tui.tui.app import AwTuiApp
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.step_table import StepTable

ALL = ["detect[206401]", "detect[206402]", "detect[206403]", "astrometry", "stack",
       "stack-detect", "psf", "psf-photometry", "save"]


def aw(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aw_tui", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, env=env)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project at 512 px, written once (not run)."""
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    return Path(write_demo(str(tmp_path_factory.mktemp("template") / "demo"), size=512)).parent


def fresh_demo(template: Path, where: Path) -> Path:
    """A copy of the demo project (not run yet: a run's checkpoint belongs to its place)."""
    shutil.copytree(template, where)
    return where / "project.toml"


@pytest.fixture(scope="module")
def finished(template: Path, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """The demo project at 512 px, run to its end once for the module."""
    project = fresh_demo(template, tmp_path_factory.mktemp("finished") / "demo")
    proc = aw(str(project), "--batch")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return FinishedRun(project.parent)


@pytest.fixture
def demo(finished: FinishedRun) -> Path:
    """A finished demo project at 512 px (the module's run, as it ended: same place, same
    files, whatever the test before did to it)."""
    return finished.restore() / "project.toml"


def log_dir(project: Path) -> Path:
    return project.parent / "work" / "log"


def status(project: Path) -> dict:
    """What ``aw-tui status PROJECT --json`` prints (in this process: the same code)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cmd_status([str(project), "--json"]) == 0
    return json.loads(out.getvalue())


def states(project: Path) -> dict[str, tuple[bool, list[str]]]:
    """step identity -> (stale, reasons) from ``status --json``."""
    return {s["step"]: (s["stale"], s["stale_reasons"]) for s in status(project)["steps"]}


def check_lines(project: Path, *flags: str) -> dict[str, str]:
    """step identity -> why, for each step ``check`` says ``--resume`` would run."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert cmd_check([str(project), *flags]) == 0, text.getvalue()
    out = {}
    for line in text.getvalue().splitlines():
        match = re.match(r"^(\d+)\s+(\S+)\s+(.*)$", line)
        if match and not match.group(3).startswith(("step", "Source", "SCAMP", "SWarp",
                                                    "PSFEx", "save")):
            out[match.group(2)] = match.group(3)
    return out


def resume(project: Path, *flags: str, env: dict[str, str] | None = None) -> list[str]:
    """Run ``--batch --resume``; the identities of the steps it started, in order."""
    before = len(read_events(str(log_dir(project))))
    proc = aw(str(project), "--batch", "--resume", *flags, env=env)
    events = read_events(str(log_dir(project)))[before:]
    ids = {s["step_id"]: s["step"] for s in status(project)["steps"]}
    started = [ids[e["step_id"]] for e in events if e["event"] == "step_started"]
    resume.last = proc  # type: ignore[attr-defined]
    return started


def tui_words(project: Path) -> dict[str, str]:
    """step identity -> the status word the TUI's table shows, opened as ``aw-tui PROJECT``
    does (Pilot), once its steps and their states are in."""

    async def look() -> dict[str, str]:
        app = AwTuiApp(Session(resolve_target(str(project), expand=False)),
                       poll_interval=0.05)
        async with app.run_test(size=(120, 35)) as pilot:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = app.query_one(StepTable).rows
                if app._loaded and rows and all(r.identity for r in rows):
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            return {r.identity: r.status for r in app.query_one(StepTable).rows}

    return asyncio.run(look())


def assert_tui_agrees(project: Path) -> dict[str, str]:
    """The TUI shows each step's state as ``status --json`` does (stale, pending, ...)."""
    words = tui_words(project)
    expected = {s["step"]: s["status"] for s in status(project)["steps"]}
    assert words == expected
    return words


def xml_of(project: Path, step_id: int, tool: str = "sex") -> str:
    return (log_dir(project) / f"{step_id}.{tool}.log.xml").read_text(errors="replace")


def id_of(project: Path, identity: str) -> int:
    return next(s["step_id"] for s in status(project)["steps"] if s["step"] == identity)


def test_a_kwargs_change_in_the_project_file_reruns_that_step_and_what_depends_on_it(
        demo: Path) -> None:
    # A finished demo is all current.
    assert not any(stale for stale, _ in states(demo).values())
    assert check_lines(demo) == {}
    assert resume(demo) == []
    text = demo.read_text()
    marker = 'CATALOG_NAME = "{vars.stack_cat}"'
    assert marker in text
    demo.write_text(text.replace(marker, marker + "\nDETECT_THRESH = 7", 1))
    why = check_lines(demo)
    assert why["stack-detect"].startswith("stale: api_kwargs.config.DETECT_THRESH (none) -> 7")
    # The demo's last step moved the stack out of temp: rerunning its detection needs the
    # stack again, so SWarp runs again too, and says why.
    stack = demo.parent / "work" / "temp" / "test_stack.fits"
    assert why["stack"] == f"stale: its output {stack} is gone and stack-detect reads it"
    assert set(why) == {"stack", "stack-detect", "psf", "psf-photometry", "save"}
    assert "stack-detect is stale" in why["psf"]
    found = states(demo)
    assert found["stack-detect"][0] is True
    assert "api_kwargs.config.DETECT_THRESH (none) -> 7" in found["stack-detect"][1]
    assert found["detect[206401]"] == (False, []) and found["astrometry"] == (False, [])
    counts = status(demo)["counts"]
    assert counts["stale"] == 5 and counts["success"] == 4
    assert assert_tui_agrees(demo)["stack-detect"] == "stale"
    # --keep-stale keeps them and runs nothing.
    assert resume(demo, "--keep-stale") == []
    assert "kept 5 stale result(s)" in resume.last.stdout  # type: ignore[attr-defined]
    assert resume(demo) == ["stack", "stack-detect", "psf", "psf-photometry", "save"]
    assert "-DETECT_THRESH 7" in xml_of(demo, id_of(demo, "stack-detect"))
    assert "-DETECT_THRESH 7" not in xml_of(demo, id_of(demo, "detect[206401]"))
    assert resume(demo) == []


def test_a_changed_config_file_makes_its_readers_stale(demo: Path) -> None:
    config = demo.parent / "config" / "default.psfex"
    text = config.read_text()
    config.write_text(re.sub(r"(?m)^PSF_SAMPLING\s+\S+", "PSF_SAMPLING 1.0", text)
                      if "PSF_SAMPLING" in text else text + "\nPSF_SAMPLING 1.0\n")
    why = check_lines(demo)
    assert why["psf"].startswith(f"stale: file {config} changed")
    assert "stack-detect" not in why or "gone" in why["stack"]  # only through the moved stack
    assert {"psf", "psf-photometry", "save"} <= set(why)
    assert "detect[206401]" not in why and "astrometry" not in why
    assert assert_tui_agrees(demo)["psf"] == "stale"
    started = resume(demo)
    assert started[-3:] == ["psf", "psf-photometry", "save"]
    assert check_lines(demo) == {}
    # Touching it (the same content) changes nothing.
    os.utime(config)
    assert check_lines(demo) == {}


def test_a_rewritten_input_image_makes_its_detection_and_the_stack_stale(demo: Path) -> None:
    image = demo.parent / "images" / "206402.fits"
    with fits.open(image) as hdus:
        data, header = np.array(hdus[0].data), hdus[0].header.copy()
    fits.writeto(image, data, header, overwrite=True)  # the same bytes again: not a change
    assert check_lines(demo) == {}
    data[10:20, 10:20] += 50.0
    fits.writeto(image, data, header, overwrite=True)
    why = check_lines(demo)
    assert why["detect[206402]"] == f"stale: file {image} changed"
    assert "detect[206401]" not in why and "detect[206403]" not in why
    assert why["stack"].startswith(f"stale: file {image} changed")
    words = assert_tui_agrees(demo)
    assert words["detect[206402]"] == "stale" and words["detect[206401]"] == "success"
    assert resume(demo) == ["detect[206402]", "astrometry", "stack", "stack-detect", "psf",
                            "psf-photometry", "save"]


def _fake_sextractor(path: Path, real: str, version: str | None) -> None:
    """A wrapper that runs the real SExtractor, and prints another version for ``-v``."""
    banner = (f'if [ "$1" = "-v" ]; then echo "SExtractor version {version} (2026-12-01)"; '
              "exit 0; fi\n" if version else "")
    path.write_text(f"#!/bin/sh\n{banner}exec {real} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_a_new_tool_version_makes_its_steps_stale(template: Path, tmp_path: Path) -> None:
    real = require_tool("source-extractor")
    wrapper = tmp_path / "bin" / "source-extractor"
    wrapper.parent.mkdir()
    _fake_sextractor(wrapper, real, None)
    project = fresh_demo(template, tmp_path / "demo")
    project.write_text(project.read_text().replace(
        "[paths]", f'[build_paths]\nSExtractor = "{wrapper}"\n\n[paths]', 1))
    assert aw(str(project), "--batch").returncode == 0
    assert check_lines(project) == {}
    _fake_sextractor(wrapper, real, "9.9.9")
    why = check_lines(project)
    banner = subprocess.run([real, "-v"], capture_output=True, text=True)
    old = re.search(r"version\s+(\S+)", banner.stdout + banner.stderr).group(1)
    assert why["detect[206401]"] == f"stale: tool SExtractor {old} -> 9.9.9 ({wrapper})"
    assert why["stack-detect"].startswith(f"stale: tool SExtractor {old} -> 9.9.9")
    assert set(why) == set(ALL) - {"psf"} or set(why) == set(ALL)
    assert assert_tui_agrees(project)["detect[206401]"] == "stale"
    assert resume(project)[:3] == ["detect[206401]", "detect[206402]", "detect[206403]"]
    assert check_lines(project) == {}


def test_a_changed_step_function_makes_its_step_stale(demo: Path) -> None:
    source = demo.parent / "save_output.py"
    source.write_text(source.read_text().replace(
        '    """Move the final stack', '    # moved products are kept\n    """Move the final stack'
    ).replace("def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):\n",
              "def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):\n"
              "    assert pipeline is not None\n"))
    why = check_lines(demo)
    assert set(why) == {"save"}
    assert assert_tui_agrees(demo)["save"] == "stale"
    assert re.fullmatch(r"stale: function \S+save_output changed \(its source\)", why["save"])
    assert resume(demo) == ["save"]


def test_an_upstream_rerun_that_fails_leaves_everything_below_stale(demo: Path) -> None:
    text = demo.read_text()
    demo.write_text(text.replace('ASTREFCAT_NAME = "{paths.images}/reference.fits"',
                                 'ASTREFCAT_NAME = "{paths.images}/no-such-reference.fits"'))
    started = resume(demo)
    assert started == ["astrometry"]
    assert resume.last.returncode == 1  # type: ignore[attr-defined]
    assert "runs the fixed step and every step that depends on it" in \
        resume.last.stderr  # type: ignore[attr-defined]
    found = status(demo)
    by_step = {s["step"]: s for s in found["steps"]}
    assert by_step["astrometry"]["status"] == "error"
    for below in ("stack", "stack-detect", "psf", "psf-photometry", "save"):
        assert by_step[below]["status"] == "stale", below
        assert by_step[below]["stale"] is True
    assert "astrometry failed" in by_step["stack"]["stale_reasons"]
    assert by_step["detect[206401]"]["status"] == "success"
    why = check_lines(demo)
    assert why["astrometry"].startswith("failed")
    assert why["stack"].startswith("stale: ") and "astrometry failed" in why["stack"]
    words = assert_tui_agrees(demo)
    assert words["astrometry"] == "error" and words["psf"] == "stale"
    # Fixed in the file: the resume runs the fixed step and everything below it.
    demo.write_text(text)
    assert resume(demo) == ["astrometry", "stack", "stack-detect", "psf", "psf-photometry",
                            "save"]
    assert "reference.fits" in xml_of(demo, id_of(demo, "astrometry"), "scamp")


def test_adding_an_exposure_runs_sextractor_once_and_only_what_is_downstream(
        demo: Path) -> None:
    images = demo.parent / "images"
    for suffix in (".fits", ".wtmap.fits", ".dqmask.fits"):
        (images / f"206404{suffix}").write_bytes((images / f"206403{suffix}").read_bytes())
    why = check_lines(demo)
    assert why["detect[206404]"] == "new"
    assert why["astrometry"].startswith("stale: catalogs: added ")
    started = resume(demo)
    assert started == ["detect[206404]", "astrometry", "stack", "stack-detect", "psf",
                       "psf-photometry", "save"]
    last = resume.last  # type: ignore[attr-defined]
    assert last.returncode == 0, last.stderr
    assert "will run detect[206404]: new" in last.stdout
    assert "aw-tui: done, 7 steps ran in" in last.stdout
    assert "; 3 were already done and current" in last.stdout
    ids = {s["step"]: s["step_id"] for s in status(demo)["steps"]}
    # The steps that were there keep their ids (and so their files in the run directory).
    assert [ids[name] for name in ALL] == list(range(9))
    assert ids["detect[206404]"] == 9
    assert resume(demo) == []
    assert "nothing to run: all 10 steps are done and current" in \
        resume.last.stdout  # type: ignore[attr-defined]
    # A checkpoint cut short is rebuilt with each step under its own id again.
    checkpoint = log_dir(demo) / "pipeline.p"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    rebuilt = aw("check", str(demo), "--rebuild-checkpoint")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "all 10 steps are done and current" in rebuilt.stdout
    assert {s["step"]: s["step_id"] for s in status(demo)["steps"]} == ids


def test_a_removed_step_is_listed_and_its_results_kept(demo: Path) -> None:
    text = demo.read_text()
    start = text.index("# step7")
    demo.write_text(text[:start])
    proc = aw("check", str(demo))
    assert "removed: save (no longer in the project" in proc.stdout
    assert "--resume would run nothing" in proc.stdout
    assert status(demo)["removed"] == [{"step": "save", "step_id": 8}]
    assert resume(demo) == []
    assert status(demo)["removed"] == [{"step": "save", "step_id": 8}]


def test_an_e_edit_of_a_member_then_of_the_template_is_what_resume_runs(demo: Path) -> None:
    """``e`` writes the project file (aw_tui.project.fileedit, as the TUI calls it): a
    member's override reruns that member and what depends on it, with the new value."""
    original = demo.read_text()
    snapshot = read_snapshot(demo)
    kwargs = copy.deepcopy(snapshot.step("detect[206402]").kwargs)
    kwargs["api_kwargs"]["config"]["DETECT_THRESH"] = 9
    set_step_kwargs(snapshot, "detect[206402]", kwargs, member_only=True)
    text = demo.read_text()
    assert [line for line in original.splitlines() if line.startswith("#")] == [
        line for line in text.splitlines() if line.startswith("#")]  # every comment kept
    why = check_lines(demo)
    assert why["detect[206402]"] == "stale: api_kwargs.config.DETECT_THRESH (none) -> 9"
    assert "detect[206401]" not in why and "detect[206403]" not in why
    assert resume(demo) == ["detect[206402]", "astrometry", "stack", "stack-detect", "psf",
                            "psf-photometry", "save"]
    assert "-DETECT_THRESH 9" in xml_of(demo, id_of(demo, "detect[206402]"))
    # Then the template, from another member: every member is stale, 206402 keeps its 9.
    snapshot = read_snapshot(demo)
    kwargs = copy.deepcopy(snapshot.step("detect[206401]").kwargs)
    kwargs["api_kwargs"]["config"]["DETECT_THRESH"] = 7
    set_step_kwargs(snapshot, "detect[206401]", kwargs)
    why = check_lines(demo)
    assert why["detect[206401]"] == "stale: api_kwargs.config.DETECT_THRESH (none) -> 7"
    assert why["detect[206403]"] == "stale: api_kwargs.config.DETECT_THRESH (none) -> 7"
    assert "detect[206402]" not in why or not why["detect[206402]"].startswith(
        "stale: api_kwargs")
    started = resume(demo)
    assert started[:2] == ["detect[206401]", "detect[206403]"]
    assert "-DETECT_THRESH 7" in xml_of(demo, id_of(demo, "detect[206403]"))
    assert check_lines(demo) == {}
