"""The compiled expansion (aw_tui.project.evaluate): one parse per template, item shortcuts
per item, values not shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from project_helpers import (
    errors_of,
    one_error,
    touch,
    write_project,
)

from aw_tui.project.loader import load_project


# -- the compiled expansion (one parse per template, item shortcuts per item) ----------------
def test_same_item_different_filters_in_two_steps(tmp_path: Path) -> None:
    touch(tmp_path, "img/a.b.fits", "img/c.fits")
    path = write_project(tmp_path, """\
        [inputs.s]
        items = ["img/a.b.fits", { image = "img/c.fits", name = "own", stem = 5 }]
        text_fields = ["name"]
        [[steps]]
        name = "one"
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        tags = ["{item.stem}", "{item.name}"]
        [steps.kwargs]
        a = "{item.image|stem}"
        b = "{item.stem}"
        c = "{item.name}-{item.index}"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        tags = ["{item.image|suffix:.cat}"]
        [steps.kwargs]
        a = "{item.image|name}"
        b = "{item.suffix}"
        c = "{item.parent}/{item.stem}.x"
        d = "{steps.one.kwargs.b}"
    """)
    img = tmp_path / "img"
    steps = load_project(path).steps
    assert [s.kwargs for s in steps[:2]] == [
        {"a": "a.b", "b": "a.b", "c": "a.b.fits-0"},
        {"a": "c", "b": 5, "c": "own-1"},  # fields win over the file-name shortcuts
    ]
    assert [s.tags for s in steps[:2]] == [["a.b", "a.b.fits"], ["5", "own"]]
    assert [s.kwargs for s in steps[2:]] == [
        {"a": "a.b.fits", "b": ".fits", "c": f"{img}/a.b.x", "d": ["a.b", 5]},
        {"a": "c.fits", "b": ".fits", "c": f"{img}/5.x", "d": ["a.b", 5]},
    ]
    assert [s.tags for s in steps[2:]] == [[str(img / "a.b.cat")], [str(img / "c.cat")]]


def test_error_in_one_item_names_that_item(tmp_path: Path) -> None:
    touch(tmp_path, *(f"f{i}.fits" for i in range(5)))
    path = write_project(tmp_path, """\
        [inputs.s]
        text_fields = ["wt"]
        [[inputs.s.items]]
        image = "f0.fits"
        wt = "w0"
        [[inputs.s.items]]
        image = "f1.fits"
        wt = "w1"
        [[inputs.s.items]]
        image = "f2.fits"
        [[inputs.s.items]]
        image = "{vars.nope}"
        wt = "w3"
        [[inputs.s.items]]
        image = "f4.fits"
        wt = "w4"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        [steps.kwargs]
        ok = "{item.image}"
        w = "{item.wt}"
    """)
    errors = errors_of(path)
    assert errors[0].startswith(f"{path}:12: inputs.s.items[3].image: ")
    assert "'vars.nope'" in errors[0]
    assert len(errors) == 1  # the set failed: its steps are not expanded
    path.write_text(path.read_text().replace("{vars.nope}", "f3.fits"))
    error = one_error(path, "have no field 'wt'")
    assert error.startswith(f"{path}:22: steps[0].kwargs.w: {{item.wt}}: items of input set 's'")
    assert len(errors_of(path)) == 1  # item 2 only, reported once


def test_expanded_values_are_not_shared(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits", "b.fits")
    path = write_project(tmp_path, """\
        [vars]
        lst = [1, 2]
        tbl = { k = [1, { z = 2 }] }
        [inputs.s]
        items = ["a.fits", "b.fits"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        outputs = { o = ["{item.stem}"] }
        [steps.kwargs]
        params = ["A", "B"]
        const = { x = 1 }
        lst = "{vars.lst}"
        tbl = "{vars.tbl}"
        whole = "{item}"
        out = "{outputs.o}"
    """)
    project = load_project(path)
    first, second = (step.kwargs for step in project.steps)
    for key in ("params", "const", "lst", "tbl", "whole", "out"):
        assert first[key] is not second[key], key
    assert first["tbl"]["k"] is not second["tbl"]["k"]
    assert first["lst"] is not project.vars["lst"]
    assert first["whole"] is not project.inputs["s"][0]
    assert first["out"] is not project.steps[0].outputs["o"]
    assert first["tbl"] == {"k": [1, {"z": 2}]} and first["out"] == ["a"]


@pytest.mark.parametrize("value", [
    "/a/b", "/a/b/", "/a//b", "//a/b", "///a", "/a/./b", "/a/../b", "/a/.hidden", "/a/b.",
    "/a/b..c", "/.", "/..", "/", "a/b", "./a", "~", "~/a", "/a/~b", "/a b/c", "/a\\b",
])
def test_abspath_shortcut_is_normpath(tmp_path: Path, value: str) -> None:
    from aw_tui.project.errors import Reporter
    from aw_tui.project.evaluate import Evaluator

    loader = Evaluator(Reporter("project.toml", ""), str(tmp_path))
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        path = os.path.join(str(tmp_path), path)
    assert loader.abspath(value) == os.path.normpath(path)
