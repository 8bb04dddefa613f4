"""Issue 14, fix 5 (80x24) and fix 7 (progress), as pictures: the main screen of a live demo
run whose SWarp step is resampling its second file, at 80x24 and 120x35.

The run is written here (as the finished demo of ``test_tui_app``): four steps finished,
SWarp started and its output ending at ``Resampling line: 5720 / 8887``; the app is told a
runner is live and its clock is fixed, so the pictures never change.
"""

from __future__ import annotations

import json
import os
import time
import types
from pathlib import Path
from typing import Any

import pytest
from test_tui_app import (
    DEMO_SUMMARIES,
    SEX_OUTPUT,
    T0,
    _scrub,
    header,
    screen_text,
    snapshot_app,
    table_rows,
    wait_until,
)

from aw_tui.target import resolve_target
from aw_tui.tui import app as app_module
from aw_tui.tui.widgets.step_table import StepTable

FINISHED = 4  # SEx x3, SCAMP; SWarp (step 4) runs
NOW = T0 + 83.4  # the fixed clock: 1:23 into the run
SWARP_OUTPUT = (
    "\x1b[1M> \n\x1b[1A----- SWarp 2.41.5 started on 2023-11-14 at 22:13:25 with 1 thread\n\n"
    "\x1b[1M> Loading input data ...\n\x1b[1A\x1b[1M> \n\x1b[1A"
    "-------------- File 0000_206401.fits:\n"
    "    \"aw-tui synthetic fie\"  WEIGHTED  EXT. HEADER  8192x8192  32 bits (floats)\n"
    "\x1b[1M> Resampling line:   8887 / 8887    \n\x1b[1A\x1b[1M> \n\x1b[1A"
    "-------------- File 0001_206402.fits:\n"
    "    \"aw-tui synthetic fie\"  WEIGHTED  EXT. HEADER  8192x8192  32 bits (floats)\n"
    "\x1b[1M> Resampling line:   5720 / 8887    \n\x1b[1A"
)


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with a run written by hand: 4 steps done, SWarp running."""
    import dill

    from aw_tui.base.atomic import atomic_dump
    from aw_tui.demo.writer import write_demo
    from aw_tui.target import build_from_project

    folder = tmp_path_factory.mktemp("running-demo")
    project = Path(write_demo(str(folder / "demo"), size=128))
    real = str(project.parent)
    target = resolve_target(str(project))
    pipeline = build_from_project(target)
    log = Path(target.log_dir or "")
    (log / "steps").mkdir(parents=True, exist_ok=True)
    steps = list(pipeline.steps)
    events: list[dict[str, Any]] = [{
        "seq": 1, "time": T0, "event": "run_started", "run_name": None, "host": "node1",
        "pid": 4242, "run_steps": [s.step_id for s in steps], "start_idx": 0, "resume": False,
        "total": len(steps), "pipeline_name": "demo", "checkpoint": "pipeline.p",
        "completed": [],
    }]
    now = T0
    for index, stp in enumerate(steps):
        stp.func_kwargs = _scrub(stp.func_kwargs, real)
        if index > FINISHED:
            continue
        events.append({"seq": len(events) + 1, "time": now + 0.01, "event": "step_started",
                       "step_id": stp.step_id, "index": index, "func": stp.func_name,
                       "tags": list(stp.tags), "host": "node1", "pid": 4242, "worker": None})
        if index == FINISHED:
            break
        duration, summary = DEMO_SUMMARIES[index]
        summary = _scrub(summary, real)
        now += 0.01 + duration
        events.append({"seq": len(events) + 1, "time": now, "event": "step_finished",
                       "step_id": stp.step_id, "index": index, "status": "success",
                       "duration": duration, "summary": summary, "error_msg": None,
                       "ignored": False, "host": "node1", "worker": None})
        stp.results = {"status": "success", "summary": summary, "duration": duration}
    (log / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (log / "steps" / f"{steps[0].step_id}.out").write_bytes(SEX_OUTPUT.encode())
    (log / "steps" / f"{steps[FINISHED].step_id}.out").write_bytes(SWARP_OUTPUT.encode())
    pipeline.run_steps = steps
    pipeline.run_step_idx = FINISHED
    pipeline.completed_step_ids = {s.step_id for s in steps[:FINISHED]}
    pipeline.journal_seq = len(events)
    atomic_dump(str(target.checkpoint), lambda handle: dill.dump(pipeline, handle))
    os.chmod(str(target.checkpoint), 0o600)
    return project


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's clock (header: elapsed, remaining, start time) stands at :data:`NOW`."""
    clock = types.SimpleNamespace(time=lambda: NOW, monotonic=time.monotonic,
                                  strftime=time.strftime, localtime=time.localtime)
    monkeypatch.setattr(app_module, "time", clock)


async def live_swarp_ready(pilot: Any) -> None:
    """The table loaded, a runner said live, SWarp's progress in its row and the header."""
    app = pilot.app
    await wait_until(pilot, lambda: len(table_rows(app)) >= 6, 20, "rows")  # detect: one row
    app.live_host, app.live_pid = "node1", 4242
    app.update_header()
    await wait_until(pilot, lambda: "░ 64%" in header(app), 20, "header")
    await wait_until(pilot, lambda: "Resampling line:   5720" in screen_text(app), 20, "output")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
def test_snapshot_main_screen_of_a_live_demo_run(running_demo, fixed_clock, snap_compare,
                                                 size):
    """Header (live runner, SWarp's progress with a bar, counts, elapsed), SWarp's row with
    its bar, SWarp's output, and the key bar with ? and q at 80 columns. The three
    ``detect`` members: one folded row at 80x24 (``▸ detect (3)  3/3 ✔``), unfolded under
    it at 120x35."""

    async def ready(pilot: Any) -> None:
        await live_swarp_ready(pilot)
        if size == (120, 35):
            pilot.app.query_one(StepTable).set_folded("detect", False)
            await pilot.pause(0.2)

    assert snap_compare(snapshot_app(running_demo), terminal_size=size, run_before=ready)


def test_at_80_columns_help_and_quit_stay_on_the_key_bar(running_demo, fixed_clock):
    import asyncio

    async def run() -> None:
        app = snapshot_app(running_demo)
        async with app.run_test(size=(80, 24)) as pilot:
            await live_swarp_ready(pilot)
            bar = screen_text(app).splitlines()[-1]
            assert "? Help" in bar and "q Quit" in bar and "r Run" in bar, bar
            assert "d Details" not in bar  # the least important keys dropped whole
            row = table_rows(app)[4]["line"]
            assert "64% Resampling (file 2)" in row, row
            top = header(app)
            # the progress form that fits 80 columns: the bar and the percentage
            assert top.startswith(" project.toml  running on node1 pid 4242 ▶ ██▋░ 64%  ✔4 "
                                  "✘0 ·5  1:23"), top

    asyncio.run(run())
