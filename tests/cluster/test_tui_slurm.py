"""The TUI with ``[launcher] kind = "slurm"`` against the real local Slurm (Pilot).

``r`` submits the runner as a job (the confirmation says so, the job id is shown); the header
follows the job from PENDING (held) to RUNNING on the node with its walltime left to the
finished run and COMPLETED; ``x`` on a job that has not started cancels it. The watch polls
every second here (``JobWatch(interval=1)``) to keep the test short; the 10 s default and
its sharing between views are tested in tests/tui/test_jobwatch.py.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from slurmjobs import VENV_BIN

from aw_tui.launchers import slurm as launcher
from aw_tui.rundir.journal import RunState, read_events
from aw_tui.target import resolve_target
from aw_tui.tui.app import AwTuiApp
from aw_tui.tui.jobwatch import JobWatch
from aw_tui.tui.screens import ConfirmScreen
from aw_tui.tui.session import Session

pytestmark = pytest.mark.slow

PROJECT = """
[pipeline]
name = "naps"
create_paths = true

[paths]
log = "work/log"

[launcher]
kind = "slurm"

[launcher.slurm]
partition = "debug"
time = "00:05:00"
mem = "500M"
job_name = "aw-tui tui test"
sbatch_args = {sbatch_args}
setup = ["export PATH={bin}:$PATH"]
""" + "".join(f"""
[[steps]]
func = "aw_tui.testing_funcs:sleep"
tags = ["s{i}"]
kwargs = {{{{ seconds = 1.5 }}}}
""" for i in range(3))


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def _project(folder: Path, hold: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text(PROJECT.format(sbatch_args='["--hold"]' if hold else "[]", bin=VENV_BIN))
    return project


def screen_text(app: AwTuiApp) -> str:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def header(app: AwTuiApp) -> str:
    return screen_text(app).splitlines()[0]


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float,
                     what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s; the screen:\n"
                                 + screen_text(pilot.app))
        await pilot.pause(0.1)


def _app(project: Path) -> AwTuiApp:
    app = AwTuiApp(Session(resolve_target(str(project))), poll_interval=0.05)
    app.job_watch = JobWatch(interval=1.0)
    return app


def _job_of(project: Path) -> str | None:
    found = launcher.read_launcher(str(project.parent / "work" / "log"))
    return found.job_id if found else None


def _scancel(project: Path) -> None:
    job = _job_of(project)
    if job:
        subprocess.run(["scancel", job], capture_output=True, timeout=30)


@sync
async def test_r_submits_a_held_job_and_the_header_follows_it_to_the_finished_run(
        slurm, tmp_path: Path) -> None:
    project = _project(tmp_path / "p", hold=True)
    app = _app(project)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: app._loaded, 20, "steps loaded")
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            question = screen_text(app)
            assert "Submit a Slurm job to run from index 0?" in question
            assert "partition debug · time 00:05:00 · 1 CPU(s) · mem 500M" in question
            await pilot.press("y")
            await wait_until(pilot, lambda: _job_of(project), 30, "launcher.json")
            job = _job_of(project)
            await wait_until(pilot, lambda: f"submitted Slurm job {job}" in screen_text(app),
                             30, "the job id on the message line")
            await wait_until(pilot, lambda: f"job {job} PENDING (JobHeldUser)" in header(app),
                             10, "PENDING in the header")
            # r again: the job is queued, no second runner
            await pilot.press("r")
            await wait_until(pilot, lambda: f"Slurm job {job} is pending" in screen_text(app),
                             5, "r refused")
            subprocess.run(["scontrol", "release", job], check=True, timeout=30)
            running = await wait_until(
                pilot, lambda: (f"job {job} RUNNING on " in header(app) and "left" in header(app)
                                and header(app)), 60, "RUNNING in the header")
            left = re.search(rf"job {job} RUNNING on \S+, (\d):(\d\d) left", running)
            assert left and 0 < int(left[1]) * 60 + int(left[2]) <= 300, running
            await wait_until(pilot, lambda: "finished" in header(app), 60, "the finished run")
            await wait_until(pilot, lambda: f"job {job} COMPLETED" in header(app), 30,
                             "COMPLETED in the header")
            assert "✔3 ✘0 ·0" in header(app)
    finally:
        _scancel(project)
    state = RunState.from_events(read_events(str(project.parent / "work" / "log")))
    assert state.state == "finished"
    recorded = json.loads((project.parent / "work" / "log" / "launcher.json").read_text())
    assert recorded["job_id"] == job and "--start-idx" in recorded["argv"]


@sync
async def test_x_on_a_pending_job_cancels_it(slurm, tmp_path: Path) -> None:
    project = _project(tmp_path / "p", hold=False)
    held = subprocess.run([sys.executable, "-m", "aw_tui", "submit", str(project), "--hold"],
                          capture_output=True, text=True, timeout=120)
    assert held.returncode == 0, held.stderr
    job = _job_of(project)
    app = _app(project)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: f"job {job} PENDING (JobHeldUser)" in header(app),
                             20, "PENDING in the header")
            await pilot.press("x")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            assert f"Slurm job {job} has not started (JobHeldUser). Cancel it?" in (
                screen_text(app))
            await pilot.press("y")
            await wait_until(pilot, lambda: "cancelled it (scancel)" in screen_text(app), 30,
                             "the cancel message")
            await wait_until(pilot, lambda: f"job {job} CANCELLED" in header(app), 10,
                             "CANCELLED in the header")
    finally:
        _scancel(project)
    assert launcher.job_status(job, max_age=0).state == "CANCELLED"
    sacct = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job, "-o", "State"],
                           capture_output=True, text=True, timeout=30)
    if sacct.returncode == 0 and sacct.stdout.strip():  # where accounting is on
        assert sacct.stdout.split()[0].startswith("CANCELLED"), sacct.stdout
    assert not (project.parent / "work" / "log" / "events.jsonl").exists()  # it never ran


@sync
async def test_x_on_a_running_job_whose_runner_does_not_answer_sends_it_sigterm(
        slurm, tmp_path: Path) -> None:
    """The job runs, but its runner has not started (a slow setup line): the stop request is
    not taken within 5 s, so it is withdrawn and the job gets scancel --signal=TERM."""
    project = _project(tmp_path / "p", hold=False)
    project.write_text(project.read_text().replace('setup = ["', 'setup = ["sleep 60", "'))
    submitted = subprocess.run([sys.executable, "-m", "aw_tui", "submit", str(project)],
                               capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    job = _job_of(project)
    app = _app(project)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: f"job {job} RUNNING on" in header(app), 30,
                             "RUNNING in the header")
            await pilot.press("x")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            assert "its runner has not started the run yet. Stop it?" in screen_text(app)
            started = time.monotonic()
            await pilot.press("y")
            await wait_until(pilot, lambda: "scancel --signal=TERM" in screen_text(app), 30,
                             "the SIGTERM message")
            assert time.monotonic() - started >= 5
            # SIGTERM ends the batch script (here still in its setup): the job ends FAILED
            # (a runner would record its step as interrupted and exit 130)
            await wait_until(pilot, lambda: re.search(rf"job {job} (FAILED|CANCELLED)",
                                                      header(app)), 30, "the end in the header")
    finally:
        _scancel(project)
    assert launcher.job_status(job, max_age=0).ended
    control = project.parent / "work" / "log" / "control"
    assert not [p for p in control.glob("*.json")]  # the request was withdrawn


@sync
async def test_the_dashboard_shows_each_runs_job_and_x_cancels_a_queued_one(
        slurm, tmp_path: Path) -> None:
    """Two projects, one submitted held: its row shows the job PENDING (status DIR --json
    too); x on it cancels the job."""
    from aw_tui.tui.dashboard import DashboardApp

    held = _project(tmp_path / "survey" / "held", hold=False)
    _project(tmp_path / "survey" / "quiet", hold=False)
    proc = subprocess.run([sys.executable, "-m", "aw_tui", "submit", str(held), "--hold"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    job = _job_of(held)
    status = subprocess.run([sys.executable, "-m", "aw_tui", "status",
                             str(tmp_path / "survey"), "--json"], capture_output=True,
                            text=True, timeout=120)
    rows = {row["project"]: row for row in json.loads(status.stdout)["runs"]}
    assert rows["held"]["job"]["id"] == job and rows["held"]["job"]["state"] == "PENDING"
    assert rows["held"]["job"]["reason"] == "JobHeldUser" and rows["quiet"]["job"] is None
    assert rows["held"]["launcher"] == "slurm"
    app = DashboardApp(str(tmp_path / "survey"))
    app.job_watch = JobWatch(interval=1.0)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_until(pilot, lambda: f"{job} PENDING" in screen_text(app), 20,
                             "the job in its row")
            assert "JobHeldUser" in screen_text(app)  # the details of the selected row
            await pilot.press("x")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
            await pilot.press("y")
            await wait_until(pilot, lambda: f"{job} CANCELLED" in screen_text(app), 20,
                             "CANCELLED in its row")
    finally:
        _scancel(held)
    assert launcher.job_status(job, max_age=0).state == "CANCELLED"
