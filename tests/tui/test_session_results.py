"""The TUI session shows a live run's results from the journal lines that hold them (issue 16).

A run's plain results are in their ``step_finished`` lines (no ``steps/<id>.result.p``); the
session keeps only the ``seq`` of each step's last event and reads the line back when a
step's results are asked for (the details pane, the command lines). No Textual here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aw_tui.rundir.journal import event_at_seq, read_events
from aw_tui.target import resolve_target
from aw_tui.tui.session import Session

LIVE_SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    import time
    from aw_tui import Pipeline

    def plain(i):
        return {"status": "success", "summary": {"i": i}, "argv": ["sex", f"{i}.fits"],
                "values": [i, i * 0.5, None, True]}

    def tupled(i):
        return {"status": "success", "pair": (i, i + 1)}

    def wait_for(path, i):
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"status": "success", "summary": {"i": i}, "waited": True}

    log, go = sys.argv[1:3]
    pipeline = Pipeline({"temp": log + "-temp", "log": log}, create_paths=True)
    pipeline.add_step(wait_for, path=go + "0", i=0)
    pipeline.add_step(plain, i=1)
    pipeline.add_step(tupled, i=2)
    pipeline.add_step(plain, i=3)
    pipeline.add_step(wait_for, path=go + "4", i=4)
    pipeline.add_step(wait_for, path=go + ".never", i=5)
    pipeline.run()
    """
)


def plain(i: int) -> dict:
    return {"status": "success", "summary": {"i": i}, "argv": ["sex", f"{i}.fits"],
            "values": [i, i * 0.5, None, True]}


def waited(i: int) -> dict:
    return {"status": "success", "summary": {"i": i}, "waited": True}


def wait_until(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def ids_of(log: Path, kind: str) -> list[int]:
    return [e["step_id"] for e in read_events(str(log)) if e["event"] == kind]


@pytest.fixture
def live_run(tmp_path):
    log, go = tmp_path / "log", tmp_path / "go"
    (tmp_path / "live.py").write_text(LIVE_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "live.py"), str(log), str(go)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield log, go
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_the_session_shows_the_inline_results_of_a_live_run(live_run):
    log, go = live_run
    wait_until(lambda: ids_of(log, "step_started") == [0], "step 0 started")
    session = Session(resolve_target(str(log)))
    session.load()
    session.poll()  # catches up with the journal
    assert session.lock() is not None  # the run is live
    assert session.result(0) is None  # running: nothing yet

    Path(f"{go}0").touch()
    wait_until(lambda: ids_of(log, "step_finished") == [0, 1, 2, 3], "steps 0-3 finished")
    assert sorted(p.name for p in (log / "steps").glob("*.result.p")) == ["2.result.p"]
    session.poll()
    # The checkpoint the session loaded (the run's start) has no results of these steps:
    # the session's come from the journal lines.
    assert [session.pipeline.get_step(i).results for i in range(4)] == [None] * 4
    assert session.result(0) == waited(0)
    assert session.result(1) == plain(1)
    assert session.result(3) == plain(3)
    assert session.command_lines(3) == ["sex 3.fits"]
    # A result JSON would change is in its file; the session gives it back as it was.
    assert session.result(2) == {"status": "success", "pair": (2, 3)}
    assert session.result(4) is None

    Path(f"{go}4").touch()
    wait_until(lambda: 4 in ids_of(log, "step_finished"), "step 4 finished")
    session.poll()
    assert session.result(4) == waited(4)
    assert not (log / "steps" / "4.result.p").exists()


def test_event_at_seq_finds_every_line_and_nothing_else(live_run, tmp_path):
    log, go = live_run
    Path(f"{go}0").touch()
    Path(f"{go}4").touch()
    wait_until(lambda: 5 in ids_of(log, "step_started"), "step 5 started")
    events = read_events(str(log))
    for event in events:
        assert event_at_seq(str(log), event["seq"]) == event
    assert event_at_seq(str(log), 0) is None
    assert event_at_seq(str(log), events[-1]["seq"] + 1) is None
    assert event_at_seq(str(tmp_path / "nothing"), 1) is None
    # a damaged line is skipped, the others still found
    journal = (log / "events.jsonl").read_bytes().splitlines(keepends=True)
    journal[3] = journal[3].replace(b'"seq"', b'"seX"')
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"".join(journal))
    assert event_at_seq(str(damaged), events[3]["seq"]) is None
    for event in events[:3] + events[4:]:
        assert event_at_seq(str(damaged), event["seq"]) == event
    assert os.path.getsize(damaged) == os.path.getsize(log / "events.jsonl")
