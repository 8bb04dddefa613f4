"""``aw-tui submit`` against the local Slurm: the demo runs as a job, ``status`` follows it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurmjobs import VENV_BIN
from tooling import require_tool

from aw_tui.rundir.journal import RunState, read_events

pytestmark = pytest.mark.slow

LAUNCHER = f"""
[launcher]
kind = "slurm"

[launcher.slurm]
partition = "debug"
time = "00:10:00"
mem = "1G"
setup = ["export PATH={VENV_BIN}:$PATH"]
"""


def _aw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aw_tui", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _status(project: Path) -> dict:
    proc = _aw("status", str(project), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _wait_job(project: Path, states: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(project)
        if status["job"] and status["job"]["state"] in states:
            return status
        time.sleep(0.3)
    raise AssertionError(f"the job never reached {states}: {_status(project)['job']}")


def test_submit_runs_the_demo_as_a_job_that_status_follows(slurm, tmp_path: Path) -> None:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    demo = tmp_path / "demo"
    assert _aw("demo", str(demo), "--size", "512", "--no-run").returncode == 0
    project = demo / "project.toml"
    project.write_text(project.read_text() + LAUNCHER)

    held = _aw("submit", str(project), "--hold")
    assert held.returncode == 0, held.stderr
    assert "submitted job" in held.stdout and "pending" in held.stdout
    job = json.loads((demo / "work" / "log" / "launcher.json").read_text())["job_id"]
    status = _status(project)
    assert status["job"]["id"] == job
    assert status["job"]["state"] == "PENDING" and status["job"]["reason"] == "JobHeldUser"
    table = _aw("status", str(project)).stdout
    assert f"Slurm job {job}: PENDING (JobHeldUser)" in table

    subprocess.run(["scontrol", "release", job], check=True, timeout=30)
    done = _wait_job(project, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
    assert done["job"]["state"] == "COMPLETED", done["job"]
    state = RunState.from_events(read_events(str(demo / "work" / "log")))
    assert state.state == "finished"
    summaries = {state.step(s).func: state.step(s).summary for s in state.run_steps}
    truth = json.loads((demo / "images" / "truth.json").read_text())
    assert summaries["SCAMP"]["astrom_sigma_reference_total"] < 0.05
    assert abs(summaries["PSFEx"]["fwhm_mean"] - truth["fwhm_pixels"]) < 0.05 * truth[
        "fwhm_pixels"]
    output = (demo / "work" / "log" / f"slurm-{job}.out").read_text()
    assert "aw-tui: done, 9 steps" in output


def test_submit_without_slurm_options_is_refused_clearly_on_a_bad_partition(
        slurm, tmp_path: Path) -> None:
    project = tmp_path / "project.toml"
    project.write_text('[paths]\nlog = "log"\n[pipeline]\ncreate_paths = true\n'
                       '[launcher]\nkind = "slurm"\n[launcher.slurm]\npartition = "nope"\n'
                       '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n')
    proc = _aw("submit", str(project))
    assert proc.returncode == 2
    assert "sbatch refused" in proc.stderr and "partition" in proc.stderr
    assert "Traceback" not in proc.stderr
