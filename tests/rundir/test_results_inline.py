"""A step's results in its ``step_finished`` line (issue 16, run cost on ext4).

JSON-exact results (a JSON round trip gives back equal values of the same types) up to 16 KiB
go into the line and no ``steps/<id>.result.p`` is written; anything else goes to that file
and the line says ``"results": "file"``. Every reader (replay, resume, rebuild, the TUI
session: tests/tui/test_session_results.py) takes the results from where the line says.
"""

from __future__ import annotations

import collections
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aw_tui import load_pipeline
from aw_tui.pipeline import Pipeline
from aw_tui.rundir.journal import JSONText, encode_line, read_events
from aw_tui.rundir.store import (
    MAX_LINE,
    RESULTS_INLINE,
    RunStore,
    json_exact,
    rebuild_checkpoint,
)
from aw_tui.rundir.trust import load_trusted

PLAIN = {
    "status": "success",
    "summary": {"objects": 12, "seeing": 0.81, "name": "é ☃ \u2028"},
    "argv": [["sex", "a.fits"], ["sex", "b.fits"]],
    "nested": {"empty": {}, "list": [], "none": None, "flag": True, "neg": -0.0, "big": 2**70},
}


class Custom:
    """A result value of the user's own (never JSON-exact)."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return type(other) is Custom and other.x == self.x

    __hash__ = None  # type: ignore[assignment]


def plain(i: int, side: str) -> dict[str, Any]:
    with open(side, "a") as handle:
        handle.write(f"{i}\n")
    return {**PLAIN, "i": i}


def returning(value: Any) -> dict[str, Any]:
    return {"status": "success", "value": value}


def new_pipeline(tmp_path: Path, name: str = "log") -> Pipeline:
    return Pipeline({"temp": str(tmp_path / "temp"), "log": str(tmp_path / name)},
                    create_paths=True)


def finished_lines(log: Path) -> list[dict[str, Any]]:
    return [e for e in read_events(str(log)) if e["event"] == "step_finished"]


def result_files(log: Path) -> list[str]:
    return sorted(p.name for p in (log / "steps").glob("*.result.p"))


def same(a: Any, b: Any) -> bool:
    """Equal values of exactly the same types, at any depth (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# -- the check ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    PLAIN, {}, [], "", 0, 1.5, -0.0, True, None, [[{"a": [1, "b", None]}]], 10**300,
])
def test_json_exact_values(value):
    assert json_exact(value)
    assert same(json.loads(json.dumps(value)), value)


@pytest.mark.parametrize("value", [
    (1, 2), {"a": (1,)}, [np.float64(1.5)], {"a": np.int64(3)}, {1, 2}, {1: "a"},
    collections.OrderedDict(a=1), {"a": float("nan")}, [float("inf")], [-float("inf")],
    Custom(1), {"s": "x" * RESULTS_INLINE}, list(range(RESULTS_INLINE)), b"bytes",
    {"a": [1, {"b": frozenset()}]}, np.str_("numpy text"),
])
def test_values_json_does_not_give_back_exactly_are_not_exact(value):
    assert not json_exact(value)


def test_the_check_stops_on_cycles_and_on_deep_nesting():
    loop: list[Any] = []
    loop.append(loop)
    assert not json_exact(loop)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert not json_exact(deep, limit=10**9)


# -- plain results: in the line, no file ------------------------------------------------------
def test_plain_results_go_into_their_lines_no_result_file_and_come_back_equal(tmp_path):
    side = tmp_path / "side"
    pipeline = new_pipeline(tmp_path)
    for i in range(5):
        pipeline.add_step(plain, i=i, side=str(side))
    pipeline.run()
    log = tmp_path / "log"
    assert result_files(log) == []
    lines = finished_lines(log)
    assert [e["results"] for e in lines] == [{**PLAIN, "i": i} for i in range(5)]
    # the other fields the line had before are still there, taken from the results
    assert lines[0]["summary"] == PLAIN["summary"] and lines[0]["status"] == "success"

    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 5
    assert all(same(step.results, {**PLAIN, "i": i}) for i, step in enumerate(loaded.steps))
    # A resume after the normal end runs nothing again and keeps the results.
    loaded.run(resume=True)
    assert side.read_text().split() == ["0", "1", "2", "3", "4"]
    again = load_pipeline(str(log))
    assert all(same(step.results, {**PLAIN, "i": i}) for i, step in enumerate(again.steps))


def test_a_result_near_the_limit_is_inline_one_over_it_goes_to_the_file(tmp_path):
    pipeline = new_pipeline(tmp_path)
    fits = "x" * (RESULTS_INLINE - 100)
    pipeline.add_step(returning, value=fits)
    pipeline.add_step(returning, value=fits + "y" * 200)
    pipeline.add_step(returning, value="é" * (RESULTS_INLINE // 2))  # 2 bytes each in UTF-8
    pipeline.run()
    log = tmp_path / "log"
    lines = finished_lines(log)
    assert lines[0]["results"] == {"status": "success", "value": fits}
    assert [e["results"] for e in lines[1:]] == ["file", "file"]
    assert result_files(log) == ["1.result.p", "2.result.p"]
    loaded = load_pipeline(str(log))
    assert [s.results["value"] for s in loaded.steps] == [
        fits, fits + "y" * 200, "é" * (RESULTS_INLINE // 2)]
    assert max(len(line) for line in (log / "events.jsonl").read_bytes().splitlines()) < MAX_LINE


# -- other results: to the file, back with their types --------------------------------------------
INEXACT = {
    "tuple": (1, "a", (2.5, None)),
    "numpy float": np.float64(0.5),
    "numpy array": np.arange(3),
    "set": {1, 2, 3},
    "custom class": Custom(7),
    "dict subclass": collections.OrderedDict(b=1, a=2),
    "int key": {1: "one"},
    "nan": float("nan"),
    "infinity": [1.0, float("inf")],
    "bytes": b"\x00\x01",
}


@pytest.mark.parametrize("name", list(INEXACT))
def test_results_json_would_change_go_to_the_file_and_come_back_with_their_types(
        tmp_path, name):
    value = INEXACT[name]
    pipeline = new_pipeline(tmp_path)
    pipeline.add_step(returning, value="plain")
    pipeline.add_step(returning, value=value)
    pipeline.run()
    log = tmp_path / "log"
    lines = finished_lines(log)
    assert lines[0]["results"] == {"status": "success", "value": "plain"}
    assert lines[1]["results"] == "file"
    assert result_files(log) == ["1.result.p"]
    for results in (load_pipeline(str(log)).steps[1].results,
                    load_trusted(str(log / "steps" / "1.result.p"))):
        back = results["value"]
        if isinstance(value, np.ndarray):
            assert type(back) is np.ndarray and back.tolist() == value.tolist()
        else:
            assert same(back, value), (back, value)


def test_inline_results_that_would_make_their_line_too_long_go_to_the_file(tmp_path):
    # The line repeats parts of the results (summary, error_msg) and holds the provenance:
    # results under their own limit can still make a line over 64 KiB. They are then written
    # to the file, never cut to a preview.
    store = RunStore(str(tmp_path / "log"))
    results = {"status": "success", "summary": {"text": "s" * 15_000}}
    field = store.results_field(4, results)
    assert isinstance(field, JSONText)
    assert not (tmp_path / "log" / "steps" / "4.result.p").exists()
    record = store.append_event("step_finished", step_id=4, status="success",
                                summary=results["summary"], provenance={"p": "p" * 40_000},
                                results=field)
    assert record["results"] == "file" and "truncated" not in record
    line = finished_lines(tmp_path / "log")[0]
    assert line["results"] == "file" and line["provenance"] == {"p": "p" * 40_000}
    assert load_trusted(str(tmp_path / "log" / "steps" / "4.result.p")) == results
    store.close()


# -- kill -9 mid-run, then resume ----------------------------------------------------------------
KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from aw_tui import Pipeline
    from aw_tui.rundir import store

    def note(step_id, side, value):
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        return {"status": "success", "step": step_id, "value": value,
                "summary": {"step": step_id}}

    def kill_me(step_id, side, value):
        import os, signal
        with open(side, "a") as handle:
            handle.write(f"{step_id}\\n")
        os.kill(os.getpid(), signal.SIGKILL)

    log, side, old = sys.argv[1:4]
    if old == "old":  # the writer before results went into the lines: every result a file
        store.json_exact = lambda value, limit=0: False
    pipeline = Pipeline({"temp": log + "-temp", "log": log}, create_paths=True)
    for i in range(4):
        pipeline.add_step(note, step_id=i, side=side, value=[i, {"x": i * 0.5}])
    pipeline.add_step(kill_me, step_id=4, side=side, value=None)
    pipeline.add_step(note, step_id=5, side=side, value="last")
    pipeline.run()
    """
)


def note(step_id: int, side: str, value: Any) -> dict[str, Any]:
    with open(side, "a") as handle:
        handle.write(f"{step_id}\n")
    return {"status": "success", "step": step_id, "value": value, "summary": {"step": step_id}}


def expected(step_id: int) -> dict[str, Any]:
    value = {4: None, 5: "last"}.get(step_id, [step_id, {"x": step_id * 0.5}])
    return {"status": "success", "step": step_id, "value": value, "summary": {"step": step_id}}


def killed_run(tmp_path: Path, old: bool = False) -> tuple[Path, Path]:
    """A run SIGKILLed inside its step 4 (the checkpoint is the one of the run's start)."""
    side, log = tmp_path / "side", tmp_path / "log"
    (tmp_path / "kill.py").write_text(KILL_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "kill.py"), str(log), str(side), "old" if old else "new"],
        capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    return log, side


def resume_to_the_end(log: Path, side: Path) -> Pipeline:
    loaded = load_pipeline(str(log))
    loaded.steps[4].func = note
    loaded.run(resume=True)
    return loaded


def test_a_run_killed_mid_run_resumes_from_its_inline_results(tmp_path):
    log, side = killed_run(tmp_path)
    assert result_files(log) == []
    assert [e["results"] for e in finished_lines(log)] == [expected(i) for i in range(4)]
    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 4
    assert loaded.completed_step_ids == {0, 1, 2, 3}
    assert all(same(loaded.steps[i].results, expected(i)) for i in range(4))
    assert [s.results for s in loaded.steps[4:]] == [None, None]

    loaded.steps[4].func = note
    loaded.run(resume=True)
    assert side.read_text().split() == ["0", "1", "2", "3", "4", "4", "5"]  # 4 ran again
    final = load_pipeline(str(log))
    assert all(same(final.steps[i].results, expected(i)) for i in range(6))
    assert result_files(log) == []


def test_a_checkpoint_rebuilt_from_the_journal_has_the_inline_results(tmp_path):
    log, side = killed_run(tmp_path)
    resume_to_the_end(log, side)
    (log / "pipeline.p").write_bytes(b"cut short")
    fresh = new_pipeline(tmp_path)
    for i in range(4):
        fresh.add_step(note, step_id=i, side=str(side), value=[i, {"x": i * 0.5}])
    fresh.add_step(note, step_id=4, side=str(side), value=None)
    fresh.add_step(note, step_id=5, side=str(side), value="last")
    rebuild_checkpoint(str(log), fresh)
    rebuilt = load_pipeline(str(log))
    assert rebuilt.run_step_idx == 6
    assert all(same(s.results, expected(i)) for i, s in enumerate(rebuilt.steps))


def strip_results_fields(log: Path) -> None:
    """Rewrite the journal as a runner before results went into the lines wrote it."""
    lines = []
    for event in read_events(str(log)):
        event.pop("results", None)
        lines.append(encode_line(event))
    (log / "events.jsonl").write_bytes(b"".join(lines))


def test_an_old_style_journal_and_its_result_files_still_replay(tmp_path):
    log, side = killed_run(tmp_path, old=True)
    assert result_files(log) == ["0.result.p", "1.result.p", "2.result.p", "3.result.p"]
    strip_results_fields(log)
    assert all("results" not in e for e in finished_lines(log))
    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 4
    assert all(same(loaded.steps[i].results, expected(i)) for i in range(4))
    # without its result file, a step of an old journal is not finished: it runs again
    (log / "steps" / "2.result.p").unlink()
    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 2 and loaded.steps[2].results is None
    loaded.steps[4].func = note
    loaded.run(resume=True)
    assert side.read_text().split() == ["0", "1", "2", "3", "4", "2", "4", "5"]
    final = load_pipeline(str(log))
    assert all(same(final.steps[i].results, expected(i)) for i in range(6))


def test_a_damaged_or_missing_result_file_of_a_file_line_means_the_step_runs_again(tmp_path):
    log, side = killed_run(tmp_path, old=True)  # every result in a file
    assert [e["results"] for e in finished_lines(log)] == ["file"] * 4
    data = (log / "steps" / "1.result.p").read_bytes()
    (log / "steps" / "1.result.p").write_bytes(data[: len(data) // 2])
    (log / "steps" / "3.result.p").unlink()
    loaded = load_pipeline(str(log))
    assert loaded.run_step_idx == 1
    assert loaded.completed_step_ids == {0, 2}
    assert [s.results is not None for s in loaded.steps] == [True, False, True, False, False,
                                                              False]
    loaded.steps[4].func = note
    loaded.run(resume=True)
    # the steps that are not finished run again, the others not
    assert side.read_text().split() == ["0", "1", "2", "3", "4", "1", "3", "4", "5"]
    final = load_pipeline(str(log))
    assert all(same(final.steps[i].results, expected(i)) for i in range(6))


def test_a_step_finished_inline_after_a_file_result_is_read_from_its_line(tmp_path):
    # An earlier run left steps/0.result.p; the newer line holds the results: the stale
    # file is never what a reader gives back.
    pipeline = new_pipeline(tmp_path)
    pipeline.add_step(returning, value=(1, 2))
    pipeline.run()
    log = tmp_path / "log"
    assert result_files(log) == ["0.result.p"]
    pipeline.steps[0].func_kwargs = {"value": [1, 2]}
    pipeline.run()
    assert finished_lines(log)[-1]["results"] == {"status": "success", "value": [1, 2]}
    fresh = new_pipeline(tmp_path)
    fresh.add_step(returning, value=[1, 2])
    rebuild_checkpoint(str(log), fresh)
    assert same(load_pipeline(str(log)).steps[0].results, {"status": "success", "value": [1, 2]})

