"""`sample_configs/slurm-dask/` on a real one-node Slurm: steps run on dask-jobqueue worker jobs.

The sample project is run as its README says, with only its `EDIT` lines changed for this
machine (partition, no account, the prologue that finds this venv, small jobs). A second test
cancels a worker job in the middle of a step and checks that no step is lost.
"""

from __future__ import annotations

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

SAMPLE = REPO / "sample_configs" / "slurm-dask" / "project.toml"

pytestmark = pytest.mark.slow


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the sample no longer has {old!r}"
    return text.replace(old, new)


def _local_sample(text: str) -> str:
    """The sample with its EDIT lines set for this machine's one-node Slurm."""
    text = _edit(text, 'queue = "normal"', 'queue = "debug"')
    text = re.sub(r'\naccount = "myproject".*\n', "\n", text)
    text = re.sub(r"job_script_prologue = \[\n(?:.*\n)*?\]",
                  f'job_script_prologue = ["export PATH={VENV_BIN}:$PATH"]', text)
    text = _edit(text, "cores = 8 ", "cores = 1 ")
    text = _edit(text, 'memory = "16GB"', 'memory = "1GB"')
    return _edit(text, "adapt = { minimum = 0, maximum = 20 }", "jobs = 2")


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def _run(project: Path, *flags: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch", *flags],
                          capture_output=True, text=True, timeout=timeout, env=_env(),
                          stdin=subprocess.DEVNULL)


def test_the_slurm_dask_sample_runs_sextractor_on_worker_jobs(slurm, tmp_path: Path) -> None:
    require_tool("source-extractor")
    demo = tmp_path / "demo"
    made = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(demo), "--size", "512",
                           "--no-run"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    survey = tmp_path / "survey"
    (survey / "images").mkdir(parents=True)
    for image in sorted((demo / "images").glob("2064*.fits")):
        (survey / "images" / image.name).symlink_to(image)
    (survey / "config").symlink_to(demo / "config")
    (survey / "project.toml").write_text(_local_sample(SAMPLE.read_text()))

    proc = _run(survey / "project.toml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "aw-tui: done, 3 steps" in proc.stdout
    events = read_events(str(survey / "work" / "log"))
    started = [e for e in events if e["event"] == "step_started"]
    assert len(started) == 3
    # Every step ran on a Dask worker that was a Slurm job, not in the runner.
    assert all("SLURMCluster" in str(e.get("worker")) for e in started), started
    assert all(e.get("pid") != os.getpid() for e in started)
    for image in ("206401", "206402", "206403"):
        assert (survey / "work" / "catalogs" / f"{image}.ldac.fits").stat().st_size > 10_000
    # The worker jobs' Slurm logs are where the sample says.
    assert list((survey / "work" / "dask-jobs").glob("*.err"))


SLEEPERS = """
[pipeline]
name = "sleepers"
create_paths = true

[paths]
log = "work/log"
marks = "work/marks"
dask_jobs = "work/dask-jobs"

[inputs.naps]
items = [{{nap = "a"}}, {{nap = "b"}}, {{nap = "c"}}, {{nap = "d"}}]
field = "nap"
text_fields = ["nap"]

[executor]
kind = "dask"
cluster = "slurm"
jobs = 2
allowed_failures = 3

[executor.cluster_options]
cores = 1
processes = 1
memory = "1GB"
walltime = "00:10:00"
queue = "debug"
job_name = "aw-tui-nap"
job_script_prologue = ["export PATH={venv}:$PATH"]
log_directory = "{{paths.dask_jobs}}"

[[steps]]
name = "nap"
func = "aw_tui.testing_funcs:sleep"
foreach = "naps"
tags = ["nap"]

[steps.kwargs]
seconds = 4
"""


def _job_in_mid_step(log: Path, name: str) -> tuple[str | None, int | None]:
    """A running worker job named `name` and the step it is in the middle of, if any.

    The job is the one that holds the process running the step (`scontrol pidinfo`, on this
    node), not just any running job: the other worker may not have a step yet. The step
    started at most 2 s ago, so that more than half of its 4 s are left for the cancel.
    """
    if not (log / "events.jsonl").exists():
        return None, None
    events = read_events(str(log))
    ended = {e["step_id"] for e in events if e["event"] in ("step_finished", "step_interrupted")}
    jobs = _squeue_jobs(name)
    for event in events:
        if (event["event"] != "step_started" or event["step_id"] in ended
                or not event.get("pid") or time.time() - event["started"] > 2):
            continue
        out = subprocess.run(["scontrol", "pidinfo", str(event["pid"])], capture_output=True,
                             text=True, timeout=30).stdout
        job = re.search(r"JobId=(\d+)", out)
        if job and job.group(1) in jobs:
            return job.group(1), event["step_id"]
    return None, None


def _squeue_jobs(name: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True,
                         text=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.endswith("RUNNING")]


def test_a_cancelled_worker_job_loses_no_step(slurm, tmp_path: Path) -> None:
    project = tmp_path / "project.toml"
    project.write_text(SLEEPERS.format(venv=VENV_BIN))
    runner = subprocess.Popen([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(), stdin=subprocess.DEVNULL)
    try:
        log = tmp_path / "work" / "log"
        deadline = time.monotonic() + 120
        victim = victim_step = None
        while victim is None:
            assert time.monotonic() < deadline, "no step was seen running on a worker job"
            time.sleep(0.2)
            victim, victim_step = _job_in_mid_step(log, "aw-tui-nap")
        subprocess.run(["scancel", victim], check=True, timeout=30)
        out, err = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            runner.kill()
    if runner.returncode != 0:
        # The lost step was recorded as interrupted ("worker lost"): --resume finishes it.
        assert "worker lost" in (out + err) or runner.returncode in (1, 130), out + err
        again = _run(project, "--resume")
        assert again.returncode == 0, again.stdout + again.stderr
    events = read_events(str(tmp_path / "work" / "log"))
    state = RunState.from_events(events)
    assert state.state == "finished"
    assert [state.step(s).status for s in state.run_steps] == ["success"] * 4
    # The step that ran on the cancelled job really was lost there and ran again elsewhere
    # (Dask rescheduled it: attempt 2, with a warning; or --resume above ran it).
    again = [e for e in events if e["event"] == "step_started" and (e.get("attempt") or 1) > 1
             and e["step_id"] == victim_step]
    resumed = sum(e["event"] == "run_started" for e in events) == 2
    assert again or resumed, events
    if again:
        assert any(e["event"] == "warning" and "started again" in e.get("message", "")
                   for e in events)
