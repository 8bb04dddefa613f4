"""The original astromatic_wrapper's pipeline tests, as scenarios against ``aw_tui.utils``.

Scripts written for astromatic_wrapper import ``astromatic_wrapper.utils.pipeline``; here the
same names come from ``aw_tui.utils.pipeline``. Each scenario of the original's
``utils/tests/test_pipeline.py`` is rewritten below; where aw-tui differs on purpose the test
asserts aw-tui's behaviour and names the line of ``docs/migrating.md`` that explains it.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
from pathlib import Path

import dill
import pytest

from aw_tui.utils import pipeline
from aw_tui.utils.utils import get_bool


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("text", "value"),
                         [("YeS", True), ("TrUe", True), ("nO", False), ("fALse", False)])
def test_str_2_bool(text: str, value: bool) -> None:
    assert pipeline.str_2_bool(text) is value


def test_check_path_asks_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # migrating.md "no prompt without a terminal": the question needs a terminal.
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(builtins, "input", lambda prompt="": "y")
    pipeline.check_path(str(tmp_path / "path1"))
    assert (tmp_path / "path1").is_dir()
    monkeypatch.setattr(builtins, "input", lambda prompt="": "n")
    with pytest.raises(pipeline.PipelineError):
        pipeline.check_path(str(tmp_path / "path2"))
    assert not (tmp_path / "path2").exists()
    assert get_bool("again? ") is False


def test_check_path_without_a_terminal_is_an_error_not_a_hang(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(pipeline.PipelineError, match="create_paths=True"):
        pipeline.check_path(str(tmp_path / "path3"))


def _sum(pipeline, step_id, var1, var2):
    return {"status": "success", "next_id": pipeline.next_id, "step_id": step_id,
            "sum": var1 + var2}


def _divide_or_error(var1, var2):
    if var2 == 0:
        return {"status": "error", "error": "Division by 0"}
    return {"status": "success", "diff": var1 / var2}


def _divide(var1, var2):
    return {"status": "success", "diff": var1 / var2}


def test_empty_init() -> None:
    with pytest.warns(UserWarning):  # no 'temp' and no 'log' path: the seed warns
        pipe = pipeline.Pipeline()
    assert pipe.create_paths is False
    assert pipe.steps == []
    assert pipe.next_id == 0
    assert pipe.run_steps is None
    assert pipe.run_warnings is None
    assert pipe.run_step_idx == 0
    assert pipe.paths == {}


def test_init_keeps_every_keyword(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log"
    log.mkdir()
    kwargs = {"paths": {"temp": str(tmp_path / "temp"), "log": str(log)},
              "steps": [1, 2, 3, 4], "next_id": 5, "run_steps": [2, 4],
              "run_warnings": "dummy value", "run_step_idx": 1, "dummy_key": "added me too!"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(pipeline.PipelineError):  # temp does not exist and nobody can answer
        pipeline.Pipeline(**kwargs)
    pipe = pipeline.Pipeline(create_paths=True, pipeline_name="test_pipeline", **kwargs)
    for key, value in kwargs.items():
        assert getattr(pipe, key) == value
    assert pipe.name == "test_pipeline"
    assert os.path.isdir(kwargs["paths"]["temp"])


def test_add_step() -> None:
    with pytest.warns(UserWarning):
        pipe = pipeline.Pipeline()
    pipe.add_step(_sum, ["tag1", "tag2"], var1=5, var2=10)
    step = pipe.steps[0]
    assert len(pipe.steps) == 1 and pipe.next_id == 1
    assert step.func is _sum
    assert set(step.tags) == {"tag1", "tag2"}
    assert step.func_kwargs == {"var1": 5, "var2": 10}
    assert step.results is None


def _four_steps(tmp_path: Path) -> pipeline.Pipeline:
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipe = pipeline.Pipeline(paths=paths, create_paths=True)
    pipe.add_step(_sum, ["func1"], var1=3, var2=4)
    pipe.add_step(_divide_or_error, ["func2"], var1=25, var2=10)
    pipe.add_step(_divide_or_error, ["func2"], var1=1, var2=0)
    pipe.add_step(_divide, var1=1, var2=0)
    return pipe


def test_run_basic(tmp_path: Path) -> None:
    pipe = _four_steps(tmp_path)
    assert pipe.run(ignore_errors=True, ignore_exceptions=True)["status"] == "success"
    assert pipe.steps[0].results == {"next_id": 4, "status": "success", "step_id": 0, "sum": 7}
    assert pipe.steps[1].results == {"diff": 2.5, "status": "success"}
    assert pipe.steps[2].results == {"error": "Division by 0", "status": "error"}
    assert pipe.steps[3].results["status"] == "error"

    for step in pipe.steps:
        step.results = None
    pipe.run(["func2"], ignore_errors=True, ignore_exceptions=True)  # run_tags, positionally
    assert pipe.steps[0].results is None
    assert pipe.steps[1].results == {"diff": 2.5, "status": "success"}
    assert pipe.steps[2].results == {"error": "Division by 0", "status": "error"}
    assert pipe.steps[3].results is None

    for step in pipe.steps:
        step.results = None
    pipe.run(ignore_tags=["func2"], ignore_errors=True, ignore_exceptions=True)
    assert pipe.steps[0].results == {"next_id": 4, "status": "success", "step_id": 0, "sum": 7}
    assert pipe.steps[1].results is None and pipe.steps[2].results is None
    assert pipe.steps[3].results["status"] == "error"


def test_run_advanced_with_the_dill_checkpoint(tmp_path: Path) -> None:
    pipe = _four_steps(tmp_path)
    checkpoint = tmp_path / "log" / "pipeline.p"
    with pytest.raises(pipeline.PipelineError):
        pipe.run()
    with open(checkpoint, "rb") as handle:
        pipe = dill.load(handle)
    assert pipe.run_step_idx == 2
    assert pipe.steps[0].results == {"next_id": 4, "status": "success", "step_id": 0, "sum": 7}

    for step in pipe.steps:
        step.results = None
    # migrating.md "PipelineError chains the step's exception": the original let the
    # ZeroDivisionError itself through; here it is the cause of a PipelineError.
    with pytest.raises(pipeline.PipelineError) as caught:
        pipe.run(resume=True, ignore_errors=True)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)

    with open(checkpoint, "rb") as handle:
        new_pipe = dill.load(handle)
    result = new_pipe.run(start_idx=1, ignore_errors=True, ignore_exceptions=True)
    assert result["status"] == "success"
    assert new_pipe.steps[0].results is None
    assert new_pipe.steps[1].results == {"diff": 2.5, "status": "success"}
    assert new_pipe.steps[2].results == {"error": "Division by 0", "status": "error"}
    assert new_pipe.steps[3].results["status"] == "error"
