"""The state of a step now (issue 12), without the tools: provenance records and
:func:`aw_tui.rundir.freshness.assess`, and a pipeline built in Python whose input changes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.freshness import Planned, assess, records_of
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.provenance import canonical, fingerprint, kwargs_changes
from aw_tui.target import open_pipeline, resolve_target, resume_plan, resume_verdict

CALLS: list[str] = []


def copy_text(src: str, dst: str, big: Any = None) -> dict[str, Any]:
    """A step that reads one file and writes another."""
    CALLS.append(os.path.basename(dst))
    Path(dst).write_text(Path(src).read_text() + "+")
    return {"status": "success"}


def pure(value: int) -> dict[str, Any]:
    """A step that reads and writes no file."""
    CALLS.append(f"pure{value}")
    return {"status": "success"}


class Thing:
    def __repr__(self) -> str:
        return f"<Thing at {hex(id(self))}>"


def test_canonical_kwargs_do_not_depend_on_memory_addresses() -> None:
    assert fingerprint(canonical({"a": Thing(), "f": copy_text})) == \
        fingerprint(canonical({"a": Thing(), "f": copy_text}))
    assert fingerprint(canonical({"x": (1, 2)})) == fingerprint(canonical({"x": [1, 2]}))
    assert fingerprint(canonical({"x": 1})) != fingerprint(canonical({"x": 1.5}))


def test_each_changed_key_is_named_with_old_and_new_values() -> None:
    old = canonical({"api_kwargs": {"config": {"DETECT_THRESH": 3, "FILTER": False}},
                     "files": ["a.fits", "b.fits"]})
    new = canonical({"api_kwargs": {"config": {"DETECT_THRESH": 7}},
                     "files": ["a.fits", "b.fits", "c.fits"]})
    assert kwargs_changes(old, new) == [
        "api_kwargs.config.DETECT_THRESH 3 -> 7",
        "api_kwargs.config.FILTER false -> (none)",
        "files: added c.fits",
    ]


def _chain(tmp_path: Path, n: int = 3) -> Pipeline:
    """a.txt -> 1.txt -> 2.txt ... one step each, in a pipeline with a run directory."""
    (tmp_path / "a.txt").write_text("a")
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path)}, create_paths=True)
    src = tmp_path / "a.txt"
    for i in range(1, n + 1):
        dst = tmp_path / f"{i}.txt"
        pipe.add_step(copy_text, [f"s{i}"], src=str(src), dst=str(dst))
        src = dst
    return pipe


def _states(pipe: Pipeline) -> list[tuple[str, str, list[str]]]:
    planned = [Planned(s.identity, s.func_kwargs, s.func, s.step_id) for s in pipe.steps]
    found = assess(planned, records_of(pipe.steps, pipe.completed_step_ids),
                   known=[s.identity for s in pipe.steps])
    return [(s.identity, s.state, s.reasons) for s in found.states]


def test_a_changed_input_makes_its_reader_and_everything_downstream_stale(tmp_path) -> None:
    pipe = _chain(tmp_path)
    pipe.run()
    assert [s for _, s, _ in _states(pipe)] == ["done"] * 3
    record = pipe.steps[1].provenance
    assert list(record["reads"]) == [str(tmp_path / "1.txt")]
    assert list(record["writes"]) == [str(tmp_path / "2.txt")]
    # Rewritten with the same content (a new time): not a change.
    (tmp_path / "1.txt").write_text((tmp_path / "1.txt").read_text())
    assert [s for _, s, _ in _states(pipe)] == ["done"] * 3
    (tmp_path / "a.txt").write_text("changed")
    assert _states(pipe) == [
        ("0", "stale", [f"file {tmp_path / 'a.txt'} changed"]),
        ("1", "stale", ["0 is stale"]),
        ("2", "stale", ["1 is stale"]),
    ]


def test_a_rerun_upstream_makes_the_steps_below_stale(tmp_path) -> None:
    pipe = _chain(tmp_path)
    pipe.run()
    time.sleep(0.01)
    pipe.run(run_steps=[pipe.steps[0]])
    states = _states(pipe)
    assert states[0][1] == "done"
    assert states[1] == ("1", "stale", ["0 reran after it"])
    assert states[2] == ("2", "stale", ["1 is stale"])


def test_steps_without_files_follow_the_order_of_the_seed(tmp_path) -> None:
    pipe = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path)}, create_paths=True)
    for value in range(4):
        pipe.add_step(pure, [f"p{value}"], value=value)
    pipe.run()
    assert [s for _, s, _ in _states(pipe)] == ["done"] * 4
    pipe.steps[1].func_kwargs = {"value": 10}
    assert _states(pipe) == [
        ("0", "done", []),
        ("1", "stale", ["value 1 -> 10"]),
        ("2", "stale", ["1 is stale"]),
        ("3", "stale", ["1 is stale", "2 is stale"]),
    ]


def test_a_python_pipeline_resumes_its_stale_steps_and_keep_stale_keeps_them(tmp_path) -> None:
    pipe = _chain(tmp_path)
    pipe.run()
    CALLS.clear()
    (tmp_path / "a.txt").write_text("new input")
    target = resolve_target(str(tmp_path / "log"))
    plan = resume_plan(target, resume_verdict(target).pipeline)
    assert [(i, name, why.split(":")[0]) for i, name, why in plan.to_run] == [
        (0, "0", "stale"), (1, "1", "stale"), (2, "2", "stale")]
    kept = open_pipeline(target, resume=True, keep_stale=True)
    assert any("--keep-stale: kept 3 stale" in note for note in kept.notes)
    kept.pipeline.run(resume=True)
    assert CALLS == []
    opened = open_pipeline(target, resume=True)
    opened.pipeline.run(resume=True)
    assert CALLS == ["1.txt", "2.txt", "3.txt"]
    assert (tmp_path / "3.txt").read_text() == "new input+++"
    again = load_pipeline(str(tmp_path / "log"))
    assert [s for _, s, _ in _states(again)] == ["done"] * 3


def test_the_record_goes_into_the_journal_or_a_file_and_is_replayed(tmp_path) -> None:
    pipe = _chain(tmp_path, 2)
    pipe.steps[0].func_kwargs["big"] = ["x" * 100] * 400  # 40 kB: too big for a line
    pipe.run()
    events = [e for e in read_events(str(tmp_path / "log")) if e["event"] == "step_finished"]
    assert events[0]["provenance"] == "file"
    path = tmp_path / "log" / "steps" / "0.provenance.json"
    assert json.loads(path.read_text())["identity"] == "0"
    assert oct(path.stat().st_mode & 0o777) in ("0o600", "0o644")
    record = events[1]["provenance"]
    assert record["identity"] == "1" and record["completed"] is True
    assert record["func"]["name"].endswith("test_freshness.copy_text")
    assert len(record["fingerprint"]) == 64
    assert not (tmp_path / "log" / "steps" / "1.provenance.json").exists()
    # A checkpoint older than the journal: the records come back from the journal / file.
    loaded = load_pipeline(str(tmp_path / "log"))
    assert loaded.steps[1].provenance["fingerprint"] == record["fingerprint"]
    assert loaded.steps[0].provenance["kwargs"]["big"][0] == "x" * 100


def test_removed_new_and_running_steps() -> None:
    record = {"completed": True, "finished": 1.0, "kwargs": {}, "fingerprint":
              fingerprint(canonical({})), "func": {"name": "m.f", "source": None},
              "reads": {}, "writes": {"/x": None}}
    planned = [Planned("a", {}, None, 0), Planned("b", {}, None, 1),
               Planned("c", {}, None, 2)]
    found = assess(planned, {"a": record, "gone": record}, known=["a", "gone", "b"],
                   running=["c"], removed=[("gone", 7)])
    assert [(s.identity, s.state, s.reasons) for s in found.states] == [
        ("a", "stale", ["function m.f -> builtins.NoneType"]),
        ("b", "pending", []),
        ("c", "running", []),
    ]
    assert [(s.identity, s.state, s.step_id) for s in found.removed] == [("gone", "removed", 7)]
    assert found.counts() == {"done": 0, "stale": 1, "pending": 1, "running": 1, "failed": 0,
                              "removed": 1}
