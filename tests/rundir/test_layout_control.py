"""The run directory's layout (one owner of its names) and the one way an edit is applied."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import pytest

from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir import control
from aw_tui.rundir.journal import last_seq, read_events
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.store import RunStore
from aw_tui.testing_funcs import succeed

seen_values: list[Any] = []


def record(when: Any = None, **_: Any) -> dict[str, Any]:
    """A step that remembers the value it was called with."""
    seen_values.append(when)
    return {"status": "success"}


def make_pipeline(tmp_path: Path, *funcs: Any) -> Pipeline:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                    create_paths=True)
    for func in funcs:
        pipe.add_step(func, ["t"])
    return pipe


def test_every_file_a_run_writes_is_named_by_the_layout(tmp_path):
    pipe = make_pipeline(tmp_path, succeed, succeed)
    pipe.run(run_name="night1")
    layout = RunLayout(str(tmp_path / "log"))
    named = {layout.checkpoint("night1"), layout.journal, layout.steps}
    for step_id in (0, 1):
        named |= {layout.step_result(step_id), layout.step_output(step_id),
                  layout.step_provenance(step_id)}
    found = {str(p) for p in Path(layout.root).rglob("*")}
    assert found - named == set(), "a file the layout does not name"
    assert layout.checkpoint("night1") in found and layout.journal in found


def test_a_toml_datetime_sent_to_the_runner_arrives_as_a_datetime(tmp_path):
    """One encoding for edits: a control request used to carry ``repr(datetime)``."""
    seen_values.clear()
    when = datetime.datetime(2026, 12, 2, 21, 30, 5)
    pipe = make_pipeline(tmp_path, record)
    log = str(tmp_path / "log")
    control.request_edit(log, 0, {"when": when, "day": [datetime.date(2026, 1, 2)]})
    pipe.run()  # the runner reads the request before step 0 starts
    assert seen_values == [when]
    (edit,) = [e for e in read_events(log) if e["event"] == "edit_applied"]
    assert edit["source"] == "control"
    assert control.decode_kwargs(edit["func_kwargs"]) == {
        "when": when, "day": [datetime.date(2026, 1, 2)]}
    assert load_pipeline(log).steps[0].func_kwargs["when"] == when


def test_an_edit_that_is_not_a_toml_table_is_refused_by_the_one_apply_edit(tmp_path):
    pipe = make_pipeline(tmp_path, succeed)
    store = RunStore(str(tmp_path / "log"))
    store.acquire_lock()
    try:
        assert "not a TOML value" in control.apply_edit(
            store, pipe, 0, {"cmd": object()}, "control")
        assert "table" in control.apply_edit(store, pipe, 0, [1, 2], "control")
        assert "no step" in control.apply_edit(store, pipe, 9, {}, "control")
        assert control.apply_edit(store, pipe, 0, {"n": 1}, "python") is None
    finally:
        store.close()
    assert pipe.steps[0].func_kwargs == {"n": 1}
    assert [e["event"] for e in read_events(str(tmp_path / "log"))] == ["edit_applied"]


def test_the_journal_seq_continues_after_a_last_line_over_64_kib(tmp_path):
    log = str(tmp_path / "log")
    store = RunStore(log)
    store.append_event("warning", step_id=None, message="x")
    store.append_event("warning", step_id=None, message="y" * 200_000)
    store.close()
    assert last_seq(log) == 2
    store = RunStore(log)
    assert store.append_event("warning", step_id=None, message="z")["seq"] == 3
    store.close()
    assert [e["seq"] for e in read_events(log)] == [1, 2, 3]


def test_last_seq_of_a_missing_empty_or_damaged_journal(tmp_path):
    journal = tmp_path / "events.jsonl"
    assert last_seq(str(tmp_path)) == 0
    journal.write_bytes(b"")
    assert last_seq(str(tmp_path)) == 0
    journal.write_bytes(b'{"seq": 4}\n{"seq": 5, "ev')  # a runner killed mid-line
    assert last_seq(str(tmp_path), block=3) == 4
    journal.write_bytes(b'{"seq": 4}\ngarbage\n')
    assert last_seq(str(tmp_path)) is None
    journal.write_bytes(json.dumps({"seq": 7, "pad": "p" * 10}).encode() + b"\n\n")
    assert last_seq(str(tmp_path), block=4) == 7
    assert os.path.exists(journal)


def test_an_edit_with_no_runner_takes_the_lock_as_a_runner_does(tmp_path):
    from aw_tui.rundir.lock import RunLockedError

    pipe = make_pipeline(tmp_path, succeed, succeed)
    pipe.run()
    log = str(tmp_path / "log")
    live = RunStore(log)
    live.acquire_lock()  # a runner is live: the viewer must not write
    try:
        with pytest.raises(RunLockedError):
            control.apply_edit_without_runner(log, None, 1, {"n": 2}, lambda: load_pipeline(log))
    finally:
        live.close()
    assert not [e for e in read_events(log) if e["event"] == "edit_applied"]
    edited, written = control.apply_edit_without_runner(
        log, None, 1, {"n": 2}, lambda: load_pipeline(log))
    assert written == RunLayout(log).checkpoint()
    assert load_pipeline(log).steps[1].func_kwargs == {"n": 2}
    assert edited.completed_step_ids == {0, 1}  # the run's state, not a stale copy
    with pytest.raises(control.EditRefused, match="not a TOML value"):
        control.apply_edit_without_runner(log, None, 1, {"n": None}, lambda: load_pipeline(log))


def test_a_fifo_or_a_foreign_marker_never_hangs_or_fools_the_runner(tmp_path):
    from aw_tui.rundir.trust import read_own_json

    os.mkfifo(tmp_path / "3.started")
    assert read_own_json(str(tmp_path / "3.started")) is None  # would block in open()
    (tmp_path / "4.started").write_text('{"attempt": 2}')
    assert read_own_json(str(tmp_path / "4.started")) == {"attempt": 2}
    os.symlink(tmp_path / "4.started", tmp_path / "5.started")
    assert read_own_json(str(tmp_path / "5.started")) is None
