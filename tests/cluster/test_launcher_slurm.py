"""The Slurm launcher against a real one-node Slurm: submit, watch, cancel."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from slurmjobs import VENV_BIN

from aw_tui.launchers import slurm as launcher
from aw_tui.rundir.journal import RunState, read_events

pytestmark = pytest.mark.slow

PROJECT = """
[pipeline]
name = "naps"
create_paths = true

[paths]
log = "work/log"

[[steps]]
func = "aw_tui.testing_funcs:sleep"
tags = ["a"]
kwargs = {{ seconds = {seconds} }}

[[steps]]
func = "aw_tui.testing_funcs:succeed"
tags = ["b"]
"""


def _project(folder: Path, seconds: float = 0.5) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text(PROJECT.format(seconds=seconds))
    return project, str(folder / "work" / "log")


def _runner(project: Path) -> list[str]:
    return [sys.executable, "-m", "aw_tui", str(project), "--batch"]


def _options() -> launcher.SlurmOptions:
    return launcher.SlurmOptions(partition="debug", time="00:05:00", mem="500M",
                                 setup=[f"export PATH={VENV_BIN}:$PATH"], job_name="aw-tui test")


def _wait(job: str, states: set[str], timeout: float = 120) -> launcher.JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = launcher.job_status(job, max_age=0)
        if status.state in states:
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job} never reached {states}: {launcher.job_status(job, max_age=0)}")


def test_a_held_job_is_pending_then_runs_the_project_to_its_end(slurm, tmp_path: Path) -> None:
    project, log_dir = _project(tmp_path / "p")
    job = launcher.submit(_runner(project), _options(), log_dir, hold=True, cwd=str(project.parent))
    recorded = json.loads((Path(log_dir) / launcher.LAUNCHER_FILE).read_text())
    assert recorded["job_id"] == job.job_id and recorded["kind"] == "slurm"
    assert os.path.exists(recorded["script"])
    pending = launcher.job_status(job.job_id, max_age=0)
    assert pending.state == "PENDING" and pending.reason == "JobHeldUser", pending
    assert launcher.read_launcher(log_dir) == job

    os.system(f"scontrol release {job.job_id}")
    running = _wait(job.job_id, {"RUNNING", "COMPLETED"})
    if running.state == "RUNNING":
        assert running.node and running.time_left is not None and 0 < running.time_left <= 300
    done = _wait(job.job_id, {"COMPLETED", "FAILED", "CANCELLED"})
    assert done.state == "COMPLETED" and done.exit_code == "0:0", done
    state = RunState.from_events(read_events(log_dir))
    assert state.state == "finished"
    output = (Path(log_dir) / f"slurm-{job.job_id}.out").read_text()
    assert "aw-tui: done, 2 steps" in output


def test_cancelling_a_pending_job_removes_it_before_it_runs(slurm, tmp_path: Path) -> None:
    project, log_dir = _project(tmp_path / "p")
    job = launcher.submit(_runner(project), _options(), log_dir, hold=True)
    launcher.cancel_job(job.job_id)
    status = _wait(job.job_id, {"CANCELLED"})
    assert status.ended
    assert not (Path(log_dir) / "events.jsonl").exists()


def test_cancelling_a_running_job_interrupts_the_run_resumably(slurm, tmp_path: Path) -> None:
    project, log_dir = _project(tmp_path / "p", seconds=60)
    job = launcher.submit(_runner(project), _options(), log_dir, cwd=str(project.parent))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (Path(log_dir) / "events.jsonl").exists() and any(
                e["event"] == "step_started" for e in read_events(log_dir)):
            break
        time.sleep(0.2)
    launcher.cancel_job(job.job_id)
    ended = _wait(job.job_id, launcher.ENDED_STATES)
    assert ended.state != "COMPLETED"
    state = RunState.from_events(read_events(log_dir))
    assert state.state == "interrupted", state.state
    assert state.step(state.run_steps[0]).status == "interrupted"


def test_every_argument_reaches_the_job_as_one_argument() -> None:
    options = launcher.SlurmOptions(sbatch_args=["--comment=a b;c"], job_name="x; rm -rf /")
    script = launcher.sbatch_script(["aw-tui", "/data/my project;$(x)/p.toml", "--batch"],
                                    options)
    assert "exec aw-tui '/data/my project;$(x)/p.toml' --batch" in script
    assert "#SBATCH" not in script  # the options are sbatch's own arguments
    argv = launcher.sbatch_argv(options, "/log dir", "/log dir/launcher.sbatch", hold=True)
    assert "--comment=a b;c" in argv and "--job-name=x_rm_-rf_" in argv
    assert "--output=/log dir/slurm-%j.out" in argv and argv[-1] == "/log dir/launcher.sbatch"
    assert "--hold" in argv
