"""A run at a glance (the dashboard's rows): the same counts as the whole journal's fold,
read from the newest run's lines only, with nothing unpickled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aw_tui.pipeline import Pipeline, PipelineError
from aw_tui.rundir import glance as glance_module
from aw_tui.rundir.glance import glance
from aw_tui.rundir.journal import EVENTS_FILE, RunState, read_events
from aw_tui.testing_funcs import fail, raise_error, sleep, succeed


def pipeline(tmp_path: Path, funcs: list) -> Pipeline:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                    create_paths=True)
    for number, func in enumerate(funcs):
        # a tag holding the words the reader looks for must not fool it
        pipe.add_step(func, [f"s{number}", '"event": "run_started"', '"status": "error"'])
    return pipe


def folded_counts(log: Path) -> dict[str, int]:
    """The whole fold's counts, in the glance's words."""
    counts = RunState.from_events(read_events(str(log))).counts()
    return {"done": counts["success"] + counts["unknown"], "failed": counts["error"],
            "pending": counts["pending"], "running": counts["running"],
            "interrupted": counts["interrupted"], "skipped": counts["skipped"]}


def counts_of(log: Path) -> dict[str, int]:
    found = glance(str(log)).counts
    return {k: found[k] for k in ("done", "failed", "pending", "running", "interrupted",
                                  "skipped")}


def test_finished_failed_resumed_and_restarted_runs_count_as_the_whole_fold(tmp_path):
    log = tmp_path / "log"
    pipe = pipeline(tmp_path, [succeed, succeed, fail, succeed, succeed])
    with pytest.raises(PipelineError):
        pipe.run()
    failed = glance(str(log))
    assert failed.state == "failed" and failed.failed_step == 2 and not failed.live
    assert failed.counts == {"done": 2, "failed": 1, "pending": 2, "running": 0,
                             "interrupted": 0, "skipped": 0, "total": 5, "stale": None}
    assert counts_of(log) == folded_counts(log)

    pipe.steps[2].func = succeed
    pipe.run(resume=True)  # the resumed run's run_started lists the 2 kept steps
    resumed = glance(str(log))
    assert resumed.state == "finished" and resumed.counts["done"] == 5
    assert counts_of(log) == folded_counts(log)
    events = read_events(str(log))
    assert resumed.last_activity == events[-1]["time"]
    assert resumed.started == [e for e in events if e["event"] == "run_started"][-1]["time"]
    assert resumed.ended == events[-1]["time"] and resumed.elapsed is not None

    pipe.run(start_idx=3)  # from index 3: the steps before it are not run
    again = glance(str(log))
    assert again.state == "finished" and again.counts["total"] == 5
    assert again.counts["done"] + again.counts["skipped"] == 5
    assert counts_of(log)["done"] >= 2


def test_an_exception_and_an_ignored_error(tmp_path):
    log = tmp_path / "log"
    pipe = pipeline(tmp_path, [succeed, raise_error, succeed])
    with pytest.raises(PipelineError):
        pipe.run()
    assert glance(str(log)).state == "failed"
    assert counts_of(log) == folded_counts(log) == {
        "done": 1, "failed": 1, "pending": 1, "running": 0, "interrupted": 0, "skipped": 0}
    pipe.run(ignore_errors=True, ignore_exceptions=True)
    assert glance(str(log)).state == "finished"
    assert counts_of(log) == folded_counts(log)


def test_a_live_run_then_a_dead_one(tmp_path):
    project = tmp_path / "project.toml"
    project.write_text(
        '[pipeline]\nname = "live"\ncreate_paths = true\n[paths]\nlog = "log"\n'
        + "".join(f'[[steps]]\nfunc = "aw_tui.testing_funcs:{f}"\ntags = ["t{i}"]\n'
                  f"kwargs = {{ seconds = {s} }}\n"
                  for i, (f, s) in enumerate([("sleep", 0.2), ("sleep", 30), ("sleep", 1)])))
    proc = subprocess.Popen([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    log = tmp_path / "log"
    try:
        deadline = time.monotonic() + 30
        while True:
            live = glance(str(log))
            if live.running and live.running[0]["index"] == 1:
                break
            assert time.monotonic() < deadline, live
            time.sleep(0.05)
        assert live.state == "running" and live.live and live.pid == proc.pid
        assert live.running[0]["func"] == "sleep" and live.running[0]["step_id"] == 1
        assert live.counts == {"done": 1, "failed": 0, "pending": 1, "running": 1,
                               "interrupted": 0, "skipped": 0, "total": 3, "stale": None}
        assert live.remaining is not None and live.remaining < 5  # from the 0.2 s step
        assert live.pipeline_name == "live" and live.elapsed is not None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    dead = glance(str(log))
    assert dead.state == "dead" and not dead.live and dead.counts["running"] == 1


def test_no_damaged_or_partial_journal_breaks_it(tmp_path):
    assert glance(str(tmp_path / "nothing")).state == "idle"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / EVENTS_FILE).write_bytes(b"")
    assert glance(str(tmp_path / "empty")).state == "idle"
    log = tmp_path / "log"
    pipe = pipeline(tmp_path, [succeed, succeed, succeed])
    pipe.run()
    journal = log / EVENTS_FILE
    lines = journal.read_bytes().splitlines(keepends=True)
    # a damaged step line and a torn last line: the steps they name are not counted done
    damaged = [line if b'"step_finished"' not in line or b'"step_id": 1,' not in line
               else line[:40] + b"garbage\n" for line in lines]
    journal.write_bytes(b"".join(damaged[:-1]) + damaged[-1][:20])
    seen = glance(str(log))
    assert seen.counts["done"] == 2 and seen.counts["total"] == 3
    assert counts_of(log)["done"] == folded_counts(log)["done"]


def test_it_never_unpickles(tmp_path, monkeypatch):
    import pickle

    import dill

    pipe = pipeline(tmp_path, [succeed, sleep])
    pipe.run()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(dill, "load", refuse)
    assert glance(str(tmp_path / "log")).counts["done"] == 2
    assert "pickle" not in glance_module.__dict__ and "dill" not in glance_module.__dict__


def test_to_json_is_plain_data(tmp_path):
    pipe = pipeline(tmp_path, [succeed])
    pipe.run()
    data = glance(str(tmp_path / "log")).to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["counts"]["stale"] is None and data["state"] == "finished"
