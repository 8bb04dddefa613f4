"""A step keeps its attributes in slots (issue 16: memory at 100,000 steps) and still pickles,
unpickles and resumes as it always did: older checkpoints hold a dict state per step, and a
plain ``dill.load`` of a new checkpoint gives steps with every attribute."""

from __future__ import annotations

import copy
import copyreg
import os
import pickle
from pathlib import Path
from typing import Any

import dill
import pytest

from aw_tui import testing_funcs as tf
from aw_tui.engine.steps import STEP_FIELDS, PipelineStep, same_definition, share_step_values
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.checkpoint import checkpoint_path


class _OldStep:
    """Pickles as a step of an old checkpoint did: the class and a dict state (here without
    the attributes added since, and with one no step has any more)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        # object.__new__(PipelineStep), then BUILD with the dict: what an old pickle does.
        return (copyreg._reconstructor, (PipelineStep, object, None), self.state)


def _old_state(step_id: int, **more: Any) -> dict[str, Any]:
    return {"func": tf.succeed, "step_id": step_id, "tags": ["old", f"t{step_id}"],
            "ignore_errors": False, "ignore_exceptions": False,
            "func_kwargs": {"n": step_id}, "results": None, **more}


def test_a_step_has_no_dict_and_refuses_an_unknown_attribute() -> None:
    step = PipelineStep(tf.succeed, 1, ["a"], func_kwargs={"n": 1})
    assert not hasattr(step, "__dict__")
    with pytest.raises(AttributeError):
        step.not_an_attribute = 1  # type: ignore[attr-defined]
    assert step.identity == "1" and step.provenance is None and step.checks == []
    assert tuple(step.__getstate__()) == STEP_FIELDS  # every attribute, in their order


def test_an_old_dict_state_unpickles_with_defaults_and_its_extra_keys() -> None:
    data = pickle.dumps(_OldStep(_old_state(7, _legacy_note="kept")))
    step = pickle.loads(data)
    assert type(step) is PipelineStep
    assert (step.step_id, step.tags, step.func_kwargs) == (7, ["old", "t7"], {"n": 7})
    assert (step.independent, step.group, step.timeout, step.checks, step.check_severity,
            step.identity, step.provenance) == (False, None, None, [], "error", "7", None)
    assert step._legacy_note == "kept"  # an attribute of an older checkpoint, read
    again = pickle.loads(pickle.dumps(step))
    assert again._legacy_note == "kept" and again.__getstate__() == step.__getstate__()


def test_an_old_dict_state_checkpoint_loads_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pipeline = Pipeline({"log": str(log), "temp": str(tmp_path / "temp")}, "old",
                        create_paths=True)
    for i in range(3):
        pipeline.add_step(tf.succeed, [f"t{i}"], n=i)
    pipeline.run()
    path = checkpoint_path(str(log))
    # Rewrite it as an old aw-tui did: each step a dict state without the newer attributes.
    done = dill.load(open(path, "rb"))  # noqa: SIM115 - the seed's own way
    done.steps = [_OldStep(_old_state(s.step_id, results=s.results)) for s in done.steps]
    done.run_steps = list(done.steps)
    done.run_step_idx = 1  # as if the run had stopped after the first step
    done.completed_step_ids = {0}
    with open(path, "wb") as handle:
        dill.dump(done, handle)
    os.chmod(path, 0o600)
    loaded = load_pipeline(str(log))
    assert [type(s) for s in loaded.steps] == [PipelineStep] * 3
    assert loaded.run_steps[0] is loaded.steps[0]
    loaded.run(resume=True)
    assert [s.results["status"] for s in loaded.steps] == ["success"] * 3


def test_a_plain_dill_load_of_a_new_checkpoint_gives_every_attribute(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pipeline = Pipeline({"log": str(log), "temp": str(tmp_path / "temp")}, "new",
                        create_paths=True)
    pipeline.add_step(tf.succeed, ["a", "x"], independent=True, timeout=30,
                      checks=["n < 5"], n=1)
    pipeline.add_step(tf.fail, ["b"], ignore_errors=True)
    pipeline.run()
    with open(checkpoint_path(str(log)), "rb") as handle:
        loaded = dill.load(handle)
    for before, after in zip(pipeline.steps, loaded.steps, strict=True):
        for name in STEP_FIELDS:
            if name != "func":
                assert getattr(after, name) == getattr(before, name), name
        assert after.func.__name__ == before.func.__name__
    assert loaded.steps[0].results["status"] == "success"
    assert loaded.steps[1].results["status"] == "error"
    assert loaded.steps[0].provenance["identity"] == "0"
    assert loaded.run_steps[0] is loaded.steps[0]


def test_copies_and_sharing_keep_every_value() -> None:
    step = PipelineStep(tf.succeed, 3, ["x", "item7"], func_kwargs={"frame": "item7"})
    step.identity = "each[item7]"
    step.results = {"status": "success", "summary": {"frame": "item7"}}
    step.provenance = {"identity": "each[item7]", "step_id": 3, "status": "success",
                       "kwargs": {"frame": "item7"}, "func": {"name": "f", "source": None},
                       "reads": {}, "writes": {}}
    twin = copy.deepcopy(step)
    share_step_values(twin)
    assert twin.__getstate__() == {**step.__getstate__(), "func": twin.func}
    assert twin.provenance["identity"] is twin.identity
    loaded = pickle.loads(pickle.dumps([twin, copy.deepcopy(twin)]))
    assert loaded[0].provenance["func"] is loaded[1].provenance["func"]
    assert loaded[0].provenance["reads"] is loaded[1].provenance["writes"] == {}
    assert twin.func_kwargs is not twin.provenance["kwargs"]  # the user's dict stays theirs


def test_same_definition() -> None:
    a = PipelineStep(tf.succeed, 1, ["t"], func_kwargs={"n": 1})
    b = PipelineStep(tf.succeed, 2, ["t"], func_kwargs={"n": 1})
    b.results = {"status": "success"}
    b.identity = a.identity
    assert same_definition(a, b)  # ids, results and records aside
    for name, value in (("tags", ["u"]), ("func_kwargs", {"n": 2}), ("identity", "z"),
                        ("timeout", 5.0), ("ignore_errors", True), ("func", tf.fail)):
        c = copy.copy(b)
        setattr(c, name, value)
        assert not same_definition(a, c), name


def test_a_checkpoint_keeps_records_as_text_decoded_when_read(tmp_path: Path) -> None:
    """Issue 16: the record of a finished step is pickled as its JSON text (one object, not
    a dozen); ``step.provenance`` still gives the dict, through plain ``dill.load`` too, and
    the states and a resume read it."""
    log = tmp_path / "log"
    pipeline = Pipeline({"log": str(log), "temp": str(tmp_path / "temp")}, "text",
                        create_paths=True)
    for i in range(3):
        pipeline.add_step(tf.succeed, [f"t{i}"], n=i)
    pipeline.run()
    with open(checkpoint_path(str(log)), "rb") as handle:
        loaded = dill.load(handle)
    held = [s.record_as_held for s in loaded.steps]
    assert all(type(h) is str and h.startswith('{"identity": ') for h in held)
    assert [s.provenance["kwargs"] for s in loaded.steps] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert loaded.steps[0].provenance is not loaded.steps[0].provenance  # decoded each time
    assert loaded.steps[1].__getstate__()["provenance"] == held[1]  # pickled as it is held
    # The states read the text: all done; a changed kwargs makes its step stale.
    from aw_tui.rundir.freshness import Planned, assess, records_of
    records = records_of(loaded.steps, loaded.completed_step_ids)
    planned = [Planned(s.identity, dict(s.func_kwargs), s.func, s.step_id) for s in loaded.steps]
    planned[2] = Planned(planned[2].identity, {"n": 7}, planned[2].func, 2)
    states = assess(planned, records)
    assert [s.state for s in states.states] == ["done", "done", "stale"]
    assert states.states[2].reasons[0].startswith("n 2 -> 7")
    assert states.states[0].finished and states.states[0].finished > 0
    # A record held for another identity (a checkpoint rebuilt over changed steps) counts
    # for the identity it names, not for the step that holds it.
    loaded.steps[0].identity = "renamed"
    assert set(records_of(loaded.steps, loaded.completed_step_ids)) == {"0", "1", "2"}
    resumed = load_pipeline(str(log))
    assert resumed.steps[2].provenance == loaded.steps[2].provenance


def test_hold_record_text_refuses_what_is_not_a_record() -> None:
    step = PipelineStep(tf.succeed, 1)
    with pytest.raises(ValueError, match="not the JSON text"):
        step.hold_record_text("[1, 2]")
    step.hold_record_text('{"identity": "1", "completed": true}')
    assert step.provenance == {"identity": "1", "completed": True}
    other = PipelineStep(tf.succeed, 2)
    other.take_record_of(step)
    assert other.record_as_held is step.record_as_held
