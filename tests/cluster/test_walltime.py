"""Walltime-aware runs on the local Slurm: 10 s steps in jobs of one minute finish, the runner
stopping before a step that would outlast its allocation and submitting itself again
(``requeue``), with no step run again once it finished.

The issue's scenario is twelve steps (3 jobs, ~140 s: ``AW_TUI_WALLTIME_STEPS=12``); the suite
runs six (2 jobs, ~65 s) to stay within its time budget: 60 s of steps never fit in a one-minute
job (the runner starts a few seconds into it and keeps a 5 s margin), so the runner must stop
and resubmit itself at least once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from slurmjobs import VENV_BIN

from aw_tui.rundir.journal import read_events

pytestmark = pytest.mark.slow

STEPS = int(os.environ.get("AW_TUI_WALLTIME_STEPS", "6"))

PROJECT = f"""
[pipeline]
name = "walltime"
create_paths = true

[paths]
log = "work/log"

[launcher]
kind = "slurm"

[launcher.slurm]
partition = "debug"
time = "00:01:00"
signal = "TERM@30"
requeue = 3
setup = ["export PATH={VENV_BIN}:$PATH"]

[inputs.naps]
items = [{", ".join(f'{{nap = "n{i}"}}' for i in range(STEPS))}]
field = "nap"
text_fields = ["nap"]

[[steps]]
name = "nap"
func = "aw_tui.testing_funcs:sleep"
foreach = "naps"
tags = ["nap"]
independent = false

[steps.kwargs]
seconds = 10
"""


def test_10s_steps_in_one_minute_jobs_finish_every_step_once(slurm,
                                                                    tmp_path: Path) -> None:
    project = tmp_path / "project.toml"
    project.write_text(PROJECT)
    submitted = subprocess.run([sys.executable, "-m", "aw_tui", "submit", str(project)],
                               capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
    assert submitted.returncode == 0, submitted.stderr
    log = tmp_path / "work" / "log"
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        events = read_events(str(log)) if (log / "events.jsonl").exists() else []
        if any(e["event"] == "run_finished" for e in events):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the run did not finish: {[e['event'] for e in events][-20:]}")
    launcher = json.loads((log / "launcher.json").read_text())
    jobs = [*launcher["previous_jobs"], launcher["job_id"]]
    assert 2 <= len(jobs) <= 4, jobs
    runs = [e for e in events if e["event"] == "run_started"]
    assert len(runs) == len(jobs) and {r["slurm_job"] for r in runs} == set(jobs)
    assert all(r["deadline"] for r in runs)
    # Each step finished once, and none started again after it had finished.
    finished = [e["step_id"] for e in events
                if e["event"] == "step_finished" and e.get("status") == "success"]
    assert sorted(finished) == list(range(STEPS)) and Counter(finished).most_common(1)[0][1] == 1
    done_at = {e["step_id"]: e["seq"] for e in events
               if e["event"] == "step_finished" and e.get("status") == "success"}
    assert not [e for e in events if e["event"] == "step_started"
                and e["seq"] > done_at.get(e["step_id"], float("inf"))]
    # The runner stopped cleanly before a step that would not fit (or on Slurm's notice).
    stops = [e.get("reason", "") for e in events if e["event"] == "run_interrupted"]
    assert stops and all(r.startswith("walltime") or r == "SIGTERM" for r in stops), stops
