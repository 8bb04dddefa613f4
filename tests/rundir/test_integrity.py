"""Integrity of the run directory (issue 11): damaged journals, long lines, racing runners,
bad control requests, damaged checkpoints and file modes. Each test failed before its fix."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import dill
import pytest

from aw_tui.base.atomic import atomic_dump
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.checkpoint import CheckpointError, load_checkpoint, resume_verdict
from aw_tui.rundir.journal import (
    JournalReader,
    RunState,
    read_events,
    verify_journal,
)
from aw_tui.rundir.lock import LockInfo, RunLockedError, read_lock
from aw_tui.rundir.store import MAX_LINE, RunStore, rebuild_checkpoint
from aw_tui.rundir.trust import UntrustedFileError, load_trusted
from aw_tui.testing_funcs import succeed


def succeed_in_a_file(n: int) -> dict[str, Any]:
    """Results JSON would not give back exactly (a tuple): in ``steps/<id>.result.p``."""
    return {"status": "success", "n": (n,)}


def make_pipeline(tmp_path: Path, n: int = 4, func: Any = succeed) -> Pipeline:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                    create_paths=True)
    for i in range(n):
        pipe.add_step(func, [f"s{i}"], n=i)
    return pipe


def rewind_checkpoint(log: Path) -> None:
    """Make the checkpoint the one written when the run started (as after a kill -9)."""
    path = str(log / "pipeline.p")
    pipe = load_checkpoint(path)
    started = [e["seq"] for e in read_events(str(log)) if e["event"] == "run_started"][-1]
    for step in pipe.steps:
        step.results = None
    pipe.completed_step_ids = set()
    pipe.run_step_idx = 0
    pipe.journal_seq = started
    atomic_dump(path, lambda h: dill.dump(pipe, h))


def journal_lines(log: Path) -> list[bytes]:
    return (log / "events.jsonl").read_bytes().splitlines(keepends=True)


def line_of(lines: list[bytes], kind: str, step_id: int) -> int:
    for number, line in enumerate(lines):
        event = json.loads(line)
        if event["event"] == kind and event.get("step_id") == step_id:
            return number
    raise AssertionError(f"no {kind} of step {step_id}")


# -- item 6: a damaged or missing journal line ---------------------------------------------------
def test_a_damaged_step_finished_line_leaves_its_step_not_finished(tmp_path):
    log = tmp_path / "log"
    make_pipeline(tmp_path).run()
    rewind_checkpoint(log)
    lines = journal_lines(log)
    damaged = line_of(lines, "step_finished", 1)
    lines[damaged] = b"#" * (len(lines[damaged]) - 1) + b"\n"
    (log / "events.jsonl").write_bytes(b"".join(lines))

    pipe = load_pipeline(str(log))
    assert pipe.completed_step_ids == {0, 2, 3}
    assert pipe.run_step_idx == 1  # not 4, from the last event alone
    problems = verify_journal(str(log))
    assert [p.line for p in problems] == [damaged + 1]
    assert "damaged" in str(problems[0]) and f"line {damaged + 1}" in str(problems[0])
    state = RunState.from_events(read_events(str(log)))
    assert state.steps[1].status != "running"  # the run ended: not running forever
    pipe.run(resume=True)
    assert pipe.completed_step_ids == {0, 1, 2, 3}


def test_a_changed_line_fails_its_checksum_and_a_missing_line_is_a_seq_gap(tmp_path):
    log = tmp_path / "log"
    make_pipeline(tmp_path).run()
    rewind_checkpoint(log)
    lines = journal_lines(log)
    changed = line_of(lines, "step_finished", 2)
    # valid JSON, plausible, but not what the runner wrote: an error turned into a success
    lines[changed] = lines[changed].replace(b'"index": 2', b'"index": 7')
    missing = line_of(lines, "step_finished", 0)
    del lines[missing]
    (log / "events.jsonl").write_bytes(b"".join(lines))
    problems = verify_journal(str(log))
    assert len(problems) == 2
    assert problems[0].line == missing + 1 and "missing" in problems[0].message
    assert problems[1].line == changed and "checksum" in problems[1].message
    pipe = load_pipeline(str(log))
    assert pipe.completed_step_ids == {1, 3}
    assert pipe.run_step_idx == 0


def test_an_old_journal_without_checksums_still_reads(tmp_path):
    log = tmp_path / "log"
    make_pipeline(tmp_path).run()
    lines = [json.loads(line) for line in journal_lines(log)]
    for event in lines:
        event.pop("crc")
    (log / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert verify_journal(str(log)) == []
    assert len(read_events(str(log))) == len(lines)
    assert load_pipeline(str(log)).completed_step_ids == {0, 1, 2, 3}


# -- item 7: lines of any length -----------------------------------------------------------------
def big_summary(n: int = 0) -> dict[str, Any]:
    return {"status": "success", "summary": {"text": "x" * 20_000_000, "n": n}}


def test_a_20_mb_result_keeps_the_journal_lines_short_and_the_result_whole(tmp_path):
    log = tmp_path / "log"
    make_pipeline(tmp_path, n=3, func=big_summary).run()
    assert max(len(line) for line in journal_lines(log)) <= MAX_LINE
    events = read_events(str(log))
    finished = [e for e in events if e["event"] == "step_finished"]
    assert len(finished) == 3 and all(e.get("truncated") for e in finished)
    assert finished[0]["summary"]["text"].startswith("xxx")
    assert finished[0]["summary"]["n"] == 0
    state = RunState.from_events(events)
    assert state.counts()["success"] == 3
    assert len(load_trusted(str(log / "steps" / "1.result.p"))["summary"]["text"]) == 20_000_000


def test_readers_handle_a_line_longer_than_their_read_size(tmp_path):
    """A journal written before the cap: a 20 MB line between two small ones."""
    journal = tmp_path / "events.jsonl"
    events = [{"seq": 1, "event": "warning"},
              {"seq": 2, "event": "warning", "message": "y" * 20_000_000},
              {"seq": 3, "event": "warning"}]
    journal.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert [e["seq"] for e in read_events(str(tmp_path))] == [1, 2, 3]
    reader = JournalReader(str(tmp_path), max_bytes=1024 * 1024)
    assert [e["seq"] for e in reader.read_all()] == [1, 2, 3]
    store = RunStore(str(tmp_path))
    assert store.append_event("warning", step_id=None, message="z")["seq"] == 4
    store.close()


# -- item 8: a kernel lock, no two holders ------------------------------------------------------
def _race(log: str, barrier: Any, queue: Any) -> None:
    store = RunStore(log)
    barrier.wait()
    try:
        store.acquire_lock()
    except RunLockedError:
        queue.put(None)
        return
    got = time.monotonic()
    time.sleep(0.05)  # far longer than taking the lock: two holders at once would overlap
    queue.put((os.getpid(), got, time.monotonic()))
    store.release_lock()


def test_four_racing_runners_over_a_stale_lock_never_hold_it_together(tmp_path):
    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "log"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for _ in range(40):
        log.mkdir(exist_ok=True)
        (log / "lock").write_text(json.dumps(  # a runner killed by kill -9
            {"host": os.uname().nodename, "pid": dead.pid, "started": 0.0}))
        barrier, queue = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_race, args=(str(log), barrier, queue)) for _ in range(4)]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        held = sorted((r for r in results if r), key=lambda r: r[1])
        assert held, "nobody took a stale lock"
        for first, second in itertools.pairwise(held):
            assert second[1] >= first[2], f"two holders at once: {held}"


def test_a_lock_nobody_holds_is_stale_for_viewers(tmp_path):
    log = tmp_path / "log"
    store = RunStore(str(log))
    store.acquire_lock()
    assert isinstance(read_lock(str(log)), LockInfo)
    store.release_lock()
    (log / "lock").write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 0.0}))
    assert read_lock(str(log)) is None  # a dead runner on another host: no kernel lock


# -- item 9: bad control requests never stop a run -----------------------------------------------
RUN_WITH_BAD_REQUESTS = textwrap.dedent(
    """
    import os, sys
    from aw_tui.pipeline import Pipeline
    from aw_tui.testing_funcs import succeed
    log = sys.argv[1]
    pipe = Pipeline({"log": log, "temp": log + "-temp"}, create_paths=True)
    for i in range(3):
        pipe.add_step(succeed, ["t"], n=i)
    control = os.path.join(log, "control")
    os.makedirs(control)
    bad = {
        "a.json": "[1, 2]",
        "b.json": "{not json",
        "c.json": '{"action": "edit", "step_id": 1, "func_kwargs": {"n": 5}, "x": 1}',
        "d.json": '{"action": "edit", "step_id": true, "func_kwargs": {}}',
        "e.json": '{"action": "launch"}',
        "f.json": '{"action": "stop", "when": "later"}',
    }
    for name, text in bad.items():
        with open(os.path.join(control, name), "w") as handle:
            handle.write(text)
    os.mkfifo(os.path.join(control, "g.json"))
    os.symlink("/etc/hostname", os.path.join(control, "h.json"))
    pipe.run()
    print("RUN DONE", sorted(pipe.completed_step_ids))
    """
)


def test_malformed_control_requests_are_moved_aside_with_a_warning(tmp_path):
    log = tmp_path / "log"
    proc = subprocess.run([sys.executable, "-c", RUN_WITH_BAD_REQUESTS, str(log)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "RUN DONE [0, 1, 2]" in proc.stdout
    assert sorted(os.listdir(log / "control")) == ["rejected"]
    rejected = sorted(os.listdir(log / "control" / "rejected"))
    assert rejected == [f"{c}.json" for c in "abcdefgh"]
    reasons = {name: json.loads((log / "control" / "rejected" / name).read_text())["reason"]
               for name in rejected}
    assert "not a JSON object" in reasons["a.json"]
    assert "unknown key" in reasons["c.json"]
    assert "regular file" in reasons["g.json"]
    assert "symbolic link" in reasons["h.json"]
    warnings = [e for e in read_events(str(log)) if e["event"] == "warning"]
    assert len(warnings) == 8
    assert all("rejected" in w["message"] for w in warnings)
    assert not [e for e in read_events(str(log)) if e["event"] == "edit_applied"]


# -- item 10: what --resume would do, and a rebuild ------------------------------------------------
def test_check_reports_a_truncated_or_group_writable_checkpoint_and_a_rebuild(tmp_path):
    log = tmp_path / "log"
    assert resume_verdict(str(tmp_path)).state == "none"
    make_pipeline(tmp_path).run()
    checkpoint = log / "pipeline.p"
    assert resume_verdict(str(log)).ok
    checkpoint.chmod(0o664)
    verdict = resume_verdict(str(log))
    assert verdict.state == "refused" and "chmod go-w" in (verdict.reason or "")
    with pytest.raises(CheckpointError, match="group or others"):
        load_pipeline(str(log))
    checkpoint.chmod(0o600)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    verdict = resume_verdict(str(log))
    assert verdict.state == "damaged"
    with pytest.raises(CheckpointError):
        load_pipeline(str(log))
    rebuilt = rebuild_checkpoint(str(log), make_pipeline(tmp_path))
    assert rebuilt == str(checkpoint)
    assert list(log.glob("pipeline.p.damaged-*"))
    pipe = load_pipeline(str(log))
    assert pipe.completed_step_ids == {0, 1, 2, 3}
    assert pipe.steps[2].results["status"] == "success"
    assert resume_verdict(str(log)).ok


def test_a_group_writable_step_result_is_never_unpickled(tmp_path):
    log = tmp_path / "log"
    make_pipeline(tmp_path, func=succeed_in_a_file).run()
    rewind_checkpoint(log)
    result = log / "steps" / "2.result.p"
    result.chmod(0o666)
    with pytest.raises(UntrustedFileError, match="chmod go-w"):
        load_trusted(str(result))
    pipe = load_pipeline(str(log))
    assert pipe.completed_step_ids == {0, 1, 3}
    assert pipe.run_step_idx == 2
    os.symlink(log / "steps" / "0.result.p", log / "steps" / "9.result.p")
    with pytest.raises(UntrustedFileError, match="symbolic link"):
        load_trusted(str(log / "steps" / "9.result.p"))


def test_old_module_paths_in_a_checkpoint_still_load(tmp_path):
    """A checkpoint written before the rooms names ``aw_tui.store`` and ``aw_tui.engine``."""
    from aw_tui.engine.loop import StepOutcome
    from aw_tui.project.funcref import FuncRef
    from aw_tui.rundir.store import RunStore as Store

    path = tmp_path / "old.p"
    # protocol 0 GLOBAL opcodes, as the old module paths were pickled
    path.write_bytes(b"(caw_tui.engine\nStepOutcome\ncaw_tui.store\nRunStore\n"
                     b"caw_tui.funcref\nFuncRef\nt.")
    path.chmod(0o600)
    assert load_trusted(str(path)) == (StepOutcome, Store, FuncRef)


# -- file modes ---------------------------------------------------------------------------------
def test_files_and_folders_get_their_modes_whatever_the_umask(tmp_path):
    log = tmp_path / "log"
    old = os.umask(0)
    try:
        make_pipeline(tmp_path, n=2, func=succeed_in_a_file).run()
        RunStore(str(log))  # the lock is written while a run is live: take it once
        from aw_tui.rundir.control import request_stop

        request_stop(str(log))
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(log / "events.jsonl") == 0o644
    assert mode(log / "pipeline.p") == 0o600
    assert mode(log / "steps" / "0.result.p") == 0o600
    assert mode(log / "steps") == 0o755
    assert mode(log / "control") == 0o755
    assert not mode(log) & stat.S_IWOTH
    assert all(not mode(p) & (stat.S_IWGRP | stat.S_IWOTH) for p in log.rglob("*")
               if p.is_file())
