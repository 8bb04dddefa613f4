"""The journal's readers: the header of the newest run read from the end of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aw_tui.pipeline import Pipeline, PipelineError
from aw_tui.rundir.journal import EVENTS_FILE, RunState, read_events, read_run_header
from aw_tui.testing_funcs import fail, succeed

HEADER_FIELDS = ("state", "run_name", "pipeline_name", "host", "pid", "started", "ended",
                 "run_steps", "start_idx", "failed_step", "failed_index", "error_msg",
                 "reason", "last_seq", "last_time")


def header_of(state: RunState) -> dict:
    return {name: getattr(state, name) for name in HEADER_FIELDS}


def folded(log: Path) -> RunState:
    return RunState.from_events(read_events(str(log)))


def pipeline(tmp_path: Path, funcs: list) -> Pipeline:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                    create_paths=True)
    for number, func in enumerate(funcs):
        # a tag (written in step_started events) that holds the text the header reader
        # looks for must not fool it
        pipe.add_step(func, [f"s{number}", '"event": "run_started"'])
    return pipe


def test_header_of_finished_failed_and_resumed_runs_equals_the_full_fold(tmp_path):
    log = tmp_path / "log"
    pipe = pipeline(tmp_path, [succeed, succeed, fail, succeed])
    with pytest.raises(PipelineError):
        pipe.run()
    failed = read_run_header(str(log))
    assert failed is not None and failed.state == "failed" and failed.failed_step == 2
    assert header_of(failed) == header_of(folded(log))
    assert failed.steps == {}  # no per-step states: those come from the fold
    assert b'\\"event\\": \\"run_started\\"' in (log / EVENTS_FILE).read_bytes()

    pipe.steps[2].func = succeed
    pipe.run(resume=True)
    finished = read_run_header(str(log / EVENTS_FILE))
    assert finished is not None and finished.state == "finished"
    assert header_of(finished) == header_of(folded(log))
    starts = [e for e in read_events(str(log)) if e["event"] == "run_started"]
    assert len(starts) == 2 and finished.started == starts[-1]["time"]


def test_header_of_a_live_or_killed_run_and_of_a_cut_last_line(tmp_path):
    log = tmp_path / "log"
    pipeline(tmp_path, [succeed, succeed]).run()
    journal = log / EVENTS_FILE
    events = read_events(str(log))
    # the runner of a second run was killed after its first step: no end event
    extra = [{"seq": events[-1]["seq"] + 1, "time": 5.0, "event": "run_started",
              "host": "node7", "pid": 77, "run_steps": [0, 1], "start_idx": 0},
             {"seq": events[-1]["seq"] + 2, "time": 6.0, "event": "step_started",
              "step_id": 0, "index": 0}]
    with open(journal, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(e) + "\n" for e in extra))
        handle.write('{"seq": 99, "time": 7.0, "event": "step_fin')  # cut by a kill
    header = read_run_header(str(log))
    assert header is not None
    assert (header.state, header.host, header.pid, header.started) == ("running", "node7", 77,
                                                                       5.0)
    assert header.ended is None and header.last_seq == extra[-1]["seq"]
    assert header_of(header) == header_of(folded(log))


def test_no_journal_or_an_empty_one_gives_none(tmp_path):
    assert read_run_header(str(tmp_path)) is None
    (tmp_path / EVENTS_FILE).write_bytes(b"")
    assert read_run_header(str(tmp_path)) is None
    (tmp_path / EVENTS_FILE).write_bytes(b'{"seq": 1, "ev')
    assert read_run_header(str(tmp_path)) is None
