"""Interpolation (aw_tui.project.interpolate): typing, filters, templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_helpers import (
    touch,
    write_project,
)

from aw_tui.project.interpolate import InterpolationError, Ref, navigate, parse_template, render
from aw_tui.project.loader import load_project

# -- interpolation: typing and filters ---------------------------------------------------------
VALUES = {
    "flag": True,
    "n": 3,
    "x": 1.5,
    "names": ["a.fits", "b.fits"],
    "path": "/d/img.fits",
    "table": {"k": "v"},
    "rows": [{"image": "/d/a.fits"}, {"image": "/d/b.fits"}],
}


def lookup(ref: Ref) -> object:
    if ref.root != "v":
        raise InterpolationError(f"no {ref.root}")
    return navigate(VALUES, ref.accessors, ref.text, "v")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{v.flag}", True),
        ("{v.n}", 3),
        ("{v.x}", 1.5),
        ("{v.names}", ["a.fits", "b.fits"]),
        ("{v.table}", {"k": "v"}),
        ("{ v.n }", 3),
        ("n={v.n}", "n=3"),
        ("{v.flag}!", "true!"),
        ("{v.names}", ["a.fits", "b.fits"]),
        ("list {v.names}", "list a.fits,b.fits"),
        ("{v.x}{v.n}", "1.53"),
        ("plain", "plain"),
        ("{{literal}}", "{literal}"),
        ("{{{v.n}}}", "{3}"),
        ("}}{{", "}{"),
        ("{v.path|name}", "img.fits"),
        ("{v.path|stem}", "img"),
        ("{v.path|parent}", "/d"),
        ("{v.path|suffix}", ".fits"),
        ("{v.path|suffix:.cat}", "/d/img.cat"),
        ("{v.path|name|suffix:.wtmap.fits}", "img.wtmap.fits"),
        ("{v.path|suffix:}", "/d/img"),
        ("{v.path|replace:.fits:.cat}", "/d/img.cat"),
        ("{v.path|replace:img:}", "/d/.fits"),
        ("{v.names|stem}", ["a", "b"]),
        ("{v.names|suffix:.cat|join}", "a.cat,b.cat"),
        ("{v.names|join: + }", "a.fits + b.fits"),
        ("{v.rows|map:image|name}", ["a.fits", "b.fits"]),
        ("{v.rows[*].image|stem}", ["a", "b"]),
        ("{v.rows.image}", ["/d/a.fits", "/d/b.fits"]),
        ("{v.rows[1].image}", "/d/b.fits"),
        ("{v.rows.1.image}", "/d/b.fits"),
        ("{v.names[-1]}", "b.fits"),
        ("{v.path|parent|name}", "d"),
    ],
)
def test_render(template: str, expected: object) -> None:
    assert render(template, lookup) == expected


@pytest.mark.parametrize(
    ("template", "needles"),
    [
        ("{v.n", ["unclosed '{'", "'{{'"]),
        ("a}b", ["single '}'", "'}}'"]),
        ("{}", ["empty reference"]),
        ("{v.a{b}}", ["inside a reference", "nested"]),
        ("{v.n|nope}", ["unknown filter '|nope'", "filters are"]),
        ("{v.n|stm}", ["did you mean 'stem'"]),
        ("{v.n|stem}", ["needs text", "an integer"]),
        ("{v.path|replace:a}", ["takes 2 argument", "|replace:OLD:NEW"]),
        ("{v.table} x", ["a table", "cannot be put inside text"]),
        ("{v.nmes}", ["has no 'nmes'", "did you mean 'v.names'"]),
        ("{v.names[5]}", ["out of range", "2 element"]),
        ("{v.n[*]}", ["not an array"]),
        ("{v.path.stem}", ["has no '.stem'", "{v.path|stem}"]),
        ("{v.path|map:image}", ["needs an array of tables"]),
        ("{v.names|map:image}", ["not a table"]),
        ("{v.rows|map:wtmap}", ["no field 'wtmap'"]),
        ("{v.path|join}", ["|join needs an array"]),
        ("{bad ref}", ["not a valid reference"]),
    ],
)
def test_render_errors(template: str, needles: list[str]) -> None:
    with pytest.raises(InterpolationError) as info:
        render(template, lookup)
    text = info.value.message + " | " + info.value.hint
    for needle in needles:
        assert needle in text, text


def test_parse_template_parts() -> None:
    parts = parse_template("a{x.y[*].z|suffix:.cat}b")
    assert parts[0] == "a" and parts[2] == "b"
    expr = parts[1]
    assert expr.ref.root == "x" and expr.ref.accessors[0] == "y"
    assert expr.filters[0].name == "suffix" and expr.filters[0].args == (".cat",)


def test_project_typing_rules(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """
        [vars]
        flag = true
        n = 7
        ratio = 0.5
        frames = [1, 2]
        word = "w"
        [inputs.s]
        items = ["a.fits"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        ignore_errors = "{vars.flag}"
        tags = ["t{vars.n}", "{vars.frames}", "{item.index}"]
        [steps.kwargs]
        flag = "{vars.flag}"
        n = "{vars.n}"
        ratio = "{vars.ratio}"
        frames = "{vars.frames}"
        text = "{vars.word}-{vars.n}-{vars.flag}-{vars.frames}"
        index = "{item.index}"
        braces = "{{not a ref}}"
        nested = { deep = ["{vars.n}", "x{vars.n}"] }
    """)
    step = load_project(path).steps[0]
    assert step.ignore_errors is True
    assert step.tags == ["t7", "1,2", "0"]
    assert step.kwargs == {
        "flag": True, "n": 7, "ratio": 0.5, "frames": [1, 2], "text": "w-7-true-1,2",
        "index": 0, "braces": "{not a ref}", "nested": {"deep": [7, "x7"]},
    }


@pytest.mark.parametrize("template", [
    "{v.s}", "{v.n}", "{v.lst}", "{v.tbl}", "{v.lst|join:-}", "x{v.lst}y", "{v.s|stem}",
    "{v.s|name|suffix:.cat}-{v.n}", "{{a}}{v.b}", "{v.tbls|map:n}", "{v.tbls.n}",
    "{v.paths|parent}", "{v.tbl}x", "{v.nope}",
])
def test_bind_template_matches_render(template: str) -> None:
    import copy as copymod

    from aw_tui.project.interpolate import bind_template, copy_value

    data = {"v": {"s": "/x/y.fits", "n": 3, "b": True, "lst": [1, "a"], "tbl": {"k": [1]},
                  "tbls": [{"n": "p"}, {"n": "q"}], "paths": ["/a/b", "/c/d/"]}}

    def resolve(ref: Ref) -> object:
        return navigate(data[ref.root], ref.accessors, ref.text, ref.root)

    def outcome(func: object) -> object:
        try:
            return ("value", func())  # type: ignore[operator]
        except InterpolationError as exc:
            return ("error", exc.message, exc.hint)

    bound = bind_template(parse_template(template), lambda ref: lambda context: resolve(ref))
    assert outcome(lambda: bound(None)) == outcome(lambda: render(template, resolve))
    for value in (data["v"]["tbl"], data["v"]["lst"], [data["v"]["tbl"]] * 2, "s", 1.5):
        copied = copy_value(value)
        assert copied == copymod.deepcopy(value)
        assert (copied is value) == (copymod.deepcopy(value) is value)
