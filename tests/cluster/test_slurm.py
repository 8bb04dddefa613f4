"""The Slurm samples against a real one-node Slurm (``scripts/start-slurm.sh``).

`sample_configs/slurm/run-pipeline.sbatch` runs the demo as a batch job, its products match the
truth, and a job cancelled in the middle is finished by submitting the same script again, with
no finished step run twice. Under ``CI=true`` ``make test`` starts the cluster and a missing one
fails these tests; elsewhere they skip, saying how to start it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurmjobs import VENV_BIN
from tooling import REPO, require_tool

from aw_tui.rundir.journal import RunState, read_events

SBATCH_SCRIPT = REPO / "sample_configs" / "slurm" / "run-pipeline.sbatch"

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def _write_demo(folder: Path) -> Path:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    proc = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(folder), "--size", "512",
                           "--no-run"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return folder / "project.toml"


def _submit(project: Path, cwd: Path, *extra: str) -> str:
    proc = subprocess.run(["sbatch", "--parsable", *extra, str(SBATCH_SCRIPT), str(project)],
                          capture_output=True, text=True, timeout=60, cwd=cwd, env=_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().split(";")[0]


def _job_state(job: str) -> dict[str, str]:
    proc = subprocess.run(["scontrol", "show", "job", job, "--oneliner"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))


def _wait_for_end(job: str, timeout: float = 300) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _job_state(job)
        if state["JobState"] not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                     "SUSPENDED", "REQUEUED"):
            return state
        time.sleep(0.5)
    subprocess.run(["scancel", job], timeout=30)
    raise AssertionError(f"job {job} did not end within {timeout} s: {_job_state(job)}")


def _journal(folder: Path) -> list[dict]:
    return read_events(str(folder / "work" / "log"))


def test_the_sample_sbatch_script_runs_the_demo_as_a_job(slurm, tmp_path: Path) -> None:
    project = _write_demo(tmp_path / "demo")
    job = _submit(project, tmp_path)
    state = _wait_for_end(job)
    output = (tmp_path / f"slurm-{job}.out").read_text()
    assert state["JobState"] == "COMPLETED" and state["ExitCode"] == "0:0", output
    assert "aw-tui: done, 9 steps" in output
    assert "[5/9] step3 SWarp warn" in output and "flux scale = 0" in output
    # What the job produced is right, not only finished: SCAMP fixed the 5" header error and
    # PSFEx measured the injected seeing.
    run = RunState.from_events(_journal(tmp_path / "demo"))
    assert run.state == "finished"
    summaries = {run.step(s).func: run.step(s).summary for s in run.run_steps}
    truth = json.loads((tmp_path / "demo" / "images" / "truth.json").read_text())
    assert summaries["SCAMP"]["astrom_sigma_reference_total"] < 0.05
    fwhm = summaries["PSFEx"]["fwhm_mean"]
    assert abs(fwhm - truth["fwhm_pixels"]) / truth["fwhm_pixels"] < 0.05
    assert (tmp_path / "demo" / "work" / "stacks" / "test_stack.fits").exists()


def test_a_cancelled_job_is_finished_by_submitting_the_script_again(slurm, tmp_path: Path) -> None:
    project = _write_demo(tmp_path / "demo")
    job = _submit(project, tmp_path)
    # Cancel once SWarp (the 5th step) has started: four steps are finished by then.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        events = _journal(tmp_path / "demo") if (tmp_path / "demo" / "work" / "log").exists() else []
        if any(e["event"] == "step_started" and e.get("index") == 4 for e in events):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the job never reached SWarp")
    subprocess.run(["scancel", job], check=True, timeout=30)
    first = _wait_for_end(job)
    assert first["JobState"] == "CANCELLED", first
    finished_first = {e["step_id"] for e in _journal(tmp_path / "demo")
                      if e["event"] == "step_finished" and e.get("status") == "success"}
    assert len(finished_first) >= 4

    again = _submit(project, tmp_path)
    second = _wait_for_end(again)
    output = (tmp_path / f"slurm-{again}.out").read_text()
    assert second["JobState"] == "COMPLETED" and second["ExitCode"] == "0:0", output
    # The script added --resume by itself: the second job started after the finished steps,
    # and no step that had finished ran again.
    events = _journal(tmp_path / "demo")
    starts = [i for i, e in enumerate(events) if e["event"] == "run_started"]
    assert len(starts) == 2 and events[starts[1]].get("resume") is True
    rerun = {e["step_id"] for e in events[starts[1]:] if e["event"] == "step_started"}
    assert not rerun & finished_first
    run = RunState.from_events(events)
    assert run.state == "finished"
    assert all(run.step(s).status == "success" for s in run.run_steps)
