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


def _event(seq: int, time: float, event: str, **fields) -> dict:
    return {"seq": seq, "time": time, "event": event, **fields}


def test_time_left_comes_from_the_same_function_in_earlier_runs_and_elapsed_adds_them():
    state = RunState()
    events = [
        _event(1, 100.0, "run_started", run_steps=[0, 1, 2], start_idx=0, resume=False),
        _event(2, 100.0, "step_started", step_id=0, func="SWarp"),
        _event(3, 128.0, "step_finished", step_id=0, status="success", duration=28.0),
        _event(4, 128.0, "step_started", step_id=1, func="SExtractor"),
        _event(5, 130.0, "step_finished", step_id=1, status="error", duration=2.0),
        _event(6, 130.0, "run_failed", step_id=1, index=1),
        # Resumed an hour later: the elapsed time is the two runs' time, not the gap.
        _event(7, 3700.0, "run_started", run_steps=[0, 1, 2], start_idx=1, resume=True),
        _event(8, 3700.0, "step_started", step_id=1, func="SExtractor"),
    ]
    for event in events:
        state.apply(event)
    assert state.elapsed(3710.0) == 30.0 + 10.0
    # Nothing of SExtractor finished yet: step 1 and step 2 (never started, function
    # unknown) are expected to take the median of all finished steps (28 s).
    assert state.estimate_remaining(3701.0) == 28.0 - 1.0 + 28.0
    state.apply(_event(9, 3702.0, "step_finished", step_id=1, status="success",
                       duration=2.0))
    state.apply(_event(10, 3702.0, "step_started", step_id=2, func="SExtractor"))
    # Step 2 is a SExtractor step: 2 s, 1 s of them gone.
    assert state.estimate_remaining(3703.0) == 1.0
    # Past its expectation it never says 0 while the step runs.
    assert state.estimate_remaining(3800.0) > 0
    state.apply(_event(11, 3804.0, "run_finished"))
    assert state.estimate_remaining(3805.0) is None
    assert state.elapsed(9999.0) == 30.0 + 104.0


def test_no_estimate_before_any_step_has_finished():
    state = RunState()
    state.apply(_event(1, 1.0, "run_started", run_steps=[0, 1], start_idx=0))
    state.apply(_event(2, 1.0, "step_started", step_id=0, func="SWarp"))
    assert state.estimate_remaining(5.0) is None


def test_run_state_holds_each_step_small_and_knows_its_last_seq() -> None:
    """100,000 steps pending at a run's start share one empty summary, tags and warnings;
    a summary's keys are one string each in the whole state; each step knows the seq of
    its own last event (what a viewer compares with the states it computed)."""
    from aw_tui.rundir.runstate import RunState

    state = RunState()
    state.apply({"event": "run_started", "seq": 1, "run_steps": [0, 1, 2], "start_idx": 0})
    first, second, third = (state.steps[i] for i in (0, 1, 2))
    assert first.summary is second.summary and first.tags is second.tags
    assert first.warnings is second.warnings and first.seq == 0
    for sid, seq in ((0, 2), (1, 3)):
        state.apply({"event": "step_started", "seq": seq, "step_id": sid, "time": 1.0})
    for sid, seq in ((0, 4), (1, 5)):
        key = "".join(["detec", "tions"])  # a new string each, as the JSON decoder gives
        state.apply({"event": "step_finished", "seq": seq, "step_id": sid,
                     "status": "success", "summary": {key: 10 + sid}})
    assert first.summary == {"detections": 10} and second.summary == {"detections": 11}
    assert next(iter(first.summary)) is next(iter(second.summary))
    assert (first.seq, second.seq, third.seq) == (4, 5, 0)
    assert third.summary == {} and third.tags == [] and not third.warnings
