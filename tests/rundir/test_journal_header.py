"""``read_run_header`` reads the journal backwards a block at a time (issue 16: a map of a
100 MB journal counted in the viewer's memory): the same header whatever the block size,
lines and the ``run_started`` marker cut anywhere by a block's edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from aw_tui import testing_funcs as tf
from aw_tui.pipeline import Pipeline
from aw_tui.rundir import journal
from aw_tui.rundir.journal import RunState, read_events, read_run_header


def _header(state: RunState) -> tuple:
    return (state.state, state.run_name, state.pipeline_name, state.host, state.pid,
            state.started, state.ended, state.run_steps, state.start_idx, state.failed_step,
            state.failed_index, state.error_msg, state.last_seq, state.last_time, state.steps)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("header")
    pipeline = Pipeline({"log": str(folder / "log"), "temp": str(folder / "temp")}, "h",
                        create_paths=True)
    for i in range(4):
        pipeline.add_step(tf.succeed, [f"t{i}"], n=i)
    pipeline.add_step(tf.fail, ["f"])
    for _ in range(2):
        try:
            pipeline.run()
        except Exception:
            pass  # the last step fails: a run_failed at the end
    return folder / "log"


@pytest.mark.parametrize("block", [1, 2, 7, 64, 1000, 1024 * 1024])
def test_the_header_is_the_same_whatever_the_block(log: Path, block: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    expected = read_run_header(str(log))
    assert expected is not None and expected.state == "failed" and expected.failed_step == 4
    events = read_events(str(log))
    starts = [e for e in events if e["event"] == "run_started"]
    assert len(starts) == 2 and expected.started == starts[-1]["time"]
    assert expected.last_seq == events[-1]["seq"]
    monkeypatch.setattr(journal, "_BLOCK", block)
    found = read_run_header(str(log))
    assert found is not None and _header(found) == _header(expected)


def test_a_journal_without_a_complete_line(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_bytes(b'{"seq": 1, "event": "run_sta')
    assert read_run_header(str(tmp_path)) is None
    (tmp_path / "events.jsonl").write_bytes(b"")
    assert read_run_header(str(tmp_path)) is None
    assert read_run_header(str(tmp_path / "missing")) is None
