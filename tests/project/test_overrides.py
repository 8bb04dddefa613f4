"""Per-member overrides of a foreach step (``[steps.items."KEY".kwargs]``): merged over the
template for that member only, with references, and checked like every other key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from project_helpers import RECORD_PY, one_error, touch, write_project

from aw_tui.project.loader import load_project
from aw_tui.project.overrides import deep_merge

HEAD = """\
    [paths]
    temp = "work/temp"
    images = "images"

    [vars]
    strict = 9

    [inputs.exposures]
    glob = "images/*.fits"

    [[steps]]
    name = "detect"
    func = "funcs.py:record"
    foreach = "exposures"
    outputs = { catalog = "{paths.temp}/{item.stem}.cat" }
    [steps.kwargs]
    out = "{paths.temp}/record.jsonl"
    frames = [1]
    [steps.kwargs.api_kwargs.config]
    DETECT_THRESH = 3
    CATALOG_NAME = "{outputs.catalog}"
"""


def project(tmp_path: Path, tail: str) -> Path:
    (tmp_path / "funcs.py").write_text(RECORD_PY)
    touch(tmp_path, "images/206401.fits", "images/206402.fits", "images/206403.fits")
    return write_project(tmp_path, textwrap.dedent(HEAD) + textwrap.dedent(tail))


def test_deep_merge_merges_tables_key_by_key_and_replaces_the_rest() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"z": 1}}
    over = {"a": {"y": [3], "w": 2}, "b": {"t": 1}, "c": 5}
    assert deep_merge(base, over) == {"a": {"x": 1, "y": [3], "w": 2}, "b": {"t": 1}, "c": 5}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"z": 1}}  # unchanged


def test_an_override_changes_one_member_only_and_may_use_references(tmp_path: Path) -> None:
    path = project(tmp_path, """\
        # only this member:
        [steps.items."206401".kwargs.api_kwargs.config]
        DETECT_THRESH = "{vars.strict}"
        CHECKIMAGE_NAME = "{item.stem}-{outputs.catalog|name}"
        [steps.items.206403.kwargs]
        frames = [2, 3]
    """)
    steps = {s.identity: s.kwargs for s in load_project(path).steps}
    config = {k: v["api_kwargs"]["config"] for k, v in steps.items()}
    assert config["detect[206401]"] == {
        "DETECT_THRESH": 9, "CATALOG_NAME": str(tmp_path / "work/temp/206401.cat"),
        "CHECKIMAGE_NAME": "206401-206401.cat"}
    assert config["detect[206402]"]["DETECT_THRESH"] == 3
    assert "CHECKIMAGE_NAME" not in config["detect[206402]"]
    assert config["detect[206403]"]["DETECT_THRESH"] == 3
    assert [steps[k]["frames"] for k in sorted(steps)] == [[1], [1], [2, 3]]


def test_steps_that_refer_to_the_kwargs_see_the_member_s_own(tmp_path: Path) -> None:
    path = project(tmp_path, """\
        [steps.items."206402".kwargs.api_kwargs.config]
        DETECT_THRESH = 5

        [[steps]]
        func = "funcs.py:record"
        [steps.kwargs]
        out = "x"
        thresholds = "{steps.detect.kwargs.api_kwargs.config.DETECT_THRESH}"
    """)
    assert load_project(path).steps[-1].kwargs["thresholds"] == [3, 5, 3]


def test_an_unknown_item_key_gets_a_did_you_mean_and_the_keys(tmp_path: Path) -> None:
    path = project(tmp_path, """\
        [steps.items."206410".kwargs.api_kwargs.config]
        DETECT_THRESH = 7
    """)
    error = one_error(path, "steps[0].items.206410")
    assert error.startswith(f"{path}:22: steps[0].items.206410: no member with the item key "
                            "'206410' in this foreach step\n")
    assert "fix: did you mean '2064" in error
    assert "item keys: 206401, 206402, 206403" in error
    assert "detect[KEY]" in error


@pytest.mark.parametrize(("tail", "needles"), [
    ('[steps.items."206401"]\nkwarg = { a = 1 }\n',
     ["steps[0].items.206401.kwarg", "unknown key 'kwarg'", "did you mean 'kwargs'?"]),
    ('[steps.items]\n"206401" = 3\n',
     ["steps[0].items.206401", "must be a table with kwargs, got an integer"]),
    ('[steps.items."206401"]\nkwargs = "x"\n',
     ["steps[0].items.206401.kwargs", "kwargs must be a table, got a string"]),
    ('[steps.items."206401".kwargs]\nx = "{vars.nope}"\n',
     ["steps[0].items.206401.kwargs.x", "'vars.nope'"]),
])
def test_override_errors_name_the_key_and_the_fix(tmp_path: Path, tail: str,
                                                   needles: list[str]) -> None:
    path = project(tmp_path, "")
    path.write_text(path.read_text() + textwrap.dedent(tail))
    error = one_error(path, *needles)
    assert error.startswith(f"{path}:") and "\n    fix: " in error


def test_items_only_on_foreach_steps(tmp_path: Path) -> None:
    path = project(tmp_path, """\
        [[steps]]
        func = "funcs.py:record"
        [steps.kwargs]
        out = "x"
        [steps.items."206401".kwargs]
        out = "y"
    """)
    error = one_error(path, "steps[1].items", "only for foreach steps")
    assert 'add foreach = "SET"' in error


def test_override_kwargs_are_checked_against_the_signature(tmp_path: Path) -> None:
    path = project(tmp_path, """\
        [[steps]]
        name = "strict"
        func = "funcs.py:strict"
        foreach = "exposures"
        [steps.kwargs]
        a = 1
        [steps.items."206402".kwargs]
        bb = 2
    """)
    error = one_error(path, "steps[1].items.206402.kwargs.bb")
    assert "strict takes no argument 'bb'" in error and "did you mean 'b'?" in error
