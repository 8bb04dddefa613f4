"""Tests of TOML project files: loading, interpolation, foreach, validation, FuncRef."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import dill
import pytest

from aw_tui.project.funcref import FuncRef, FuncRefError
from aw_tui.project.interpolate import InterpolationError, Ref, navigate, parse_template, render
from aw_tui.project.loader import ProjectError, load_project

REPO = Path(__file__).resolve().parents[2]

RECORD_PY = '''
import json, os

def record(out, **kwargs):
    """Append the kwargs to the JSON-lines file ``out``."""
    with open(out, "a") as handle:
        handle.write(json.dumps(kwargs, sort_keys=True) + "\\n")
    return {"status": "success"}

def with_context(pipeline, step_id, out):
    with open(out, "a") as handle:
        handle.write(json.dumps({"step_id": step_id, "name": pipeline.name}) + "\\n")
    return {"status": "success"}

def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):
    return {"status": "success", "moved": [old_stack, new_stack, old_cat, new_cat]}

def strict(a, b=1):
    return {"status": "success"}
'''


def write_project(folder: Path, text: str, name: str = "project.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def touch(folder: Path, *names: str) -> None:
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")


def errors_of(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load_project(path, **kwargs)
    return info.value.errors


def one_error(path: Path, *needles: str, **kwargs: object) -> str:
    """The single error containing every needle (fails with the whole list otherwise)."""
    errors = errors_of(path, **kwargs)
    matching = [e for e in errors if all(n in e for n in needles)]
    assert matching, "\n".join(errors)
    return matching[0]


# -- a minimal project (the seed's Simple Example) -------------------------------------------
SIMPLE = """
    [pipeline]
    name = "simple"
    create_paths = true

    [paths]
    temp = "work/temp"
    log = "work/log"
    catalogs = "work/catalogs"
    config = "config"

    [inputs.images]
    items = [{ image = "my_img.fits", dqmask = "my_img.dqmask.fits", wtmap = "my_img.wt_map.fits" }]

    [[steps]]
    func = "sextractor"
    foreach = "images"
    tags = ["step1", "SExtractor"]

    [steps.kwargs]
    files = "{item.image}"
    frames = [1]
    params = ["NUMBER", "XWIN_IMAGE"]

    [steps.kwargs.api_kwargs]
    config_file = "{paths.config}/default.sex"

    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{paths.catalogs}/{item.image|name|replace:.fits:.ldac.fits}"
    CATALOG_TYPE = "FITS_LDAC"
    FILTER = false
    WEIGHT_TYPE = "MAP_WEIGHT"
"""


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    touch(tmp_path, "my_img.fits", "my_img.dqmask.fits", "my_img.wt_map.fits",
          "config/default.sex")
    return write_project(tmp_path, SIMPLE)


def test_simple_project(simple: Path, tmp_path: Path) -> None:
    project = load_project(simple)
    assert project.name == "simple"
    assert project.create_paths is True
    assert project.path == simple.resolve()
    assert project.paths["temp"] == str(tmp_path / "work" / "temp")
    assert project.log_dir == str(tmp_path / "work" / "log")
    assert len(project.steps) == 1
    step = project.steps[0]
    assert step.func.label == "SExtractor"
    assert step.tags == ["step1", "SExtractor"]
    assert step.independent is True and step.group == "steps[0]"
    assert step.kwargs == {
        "files": str(tmp_path / "my_img.fits"),
        "frames": [1],
        "params": ["NUMBER", "XWIN_IMAGE"],
        "api_kwargs": {
            "config_file": str(tmp_path / "config" / "default.sex"),
            "config": {
                "CATALOG_NAME": str(tmp_path / "work" / "catalogs" / "my_img.ldac.fits"),
                "CATALOG_TYPE": "FITS_LDAC",
                "FILTER": False,
                "WEIGHT_TYPE": "MAP_WEIGHT",
            },
        },
    }
    assert project.inputs["images"][0]["wtmap"] == str(tmp_path / "my_img.wt_map.fits")
    rows = project.steps_table()
    assert rows[0].index == 0 and rows[0].step_id == 0
    assert rows[0].func == "SExtractor" and rows[0].inputs == "my_img.fits"
    assert rows[0].tags == ["step1", "SExtractor"]
    assert "SExtractor" in project.format_steps_table()


def test_simple_build_pipeline(simple: Path, tmp_path: Path) -> None:
    project = load_project(simple)
    pipeline = project.build_pipeline()
    assert os.path.isdir(tmp_path / "work" / "temp")
    assert pipeline.name == "simple"
    assert pipeline.paths == project.paths
    assert pipeline.catalogs_path == str(tmp_path / "work" / "catalogs")
    assert pipeline.project_fingerprint == project.fingerprint
    assert pipeline.project_path == str(simple.resolve())
    (step,) = pipeline.steps
    assert step.func_name == "SExtractor"
    assert step.func_kwargs == project.steps[0].kwargs
    step.func_kwargs["frames"].append(2)
    assert project.steps[0].kwargs["frames"] == [1]  # a deep copy


def test_project_folder_and_missing_file(simple: Path, tmp_path: Path) -> None:
    assert load_project(tmp_path).path == simple.resolve()
    error = one_error(tmp_path / "nope.toml", "nope.toml", "file not found")
    assert "fix:" in error


def test_default_name_and_settings(tmp_path: Path) -> None:
    folder = tmp_path / "survey"
    folder.mkdir()
    path = write_project(folder, """
        [pipeline]
        run_name = "night1"
        jobs = 4
        description = "test"
        [executor]
        kind = "dask"
        cores = 2
        local_directory = "{env.HOME}/dask"
        [executor.cluster]
        queue = "short"
        job_extra_directives = ["--exclusive"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
    """)
    project = load_project(path)
    assert project.name == "survey"
    assert project.run_name == "night1" and project.jobs == 4
    assert project.create_paths is False
    assert project.executor_config == {
        "kind": "dask", "cores": 2, "local_directory": os.environ["HOME"] + "/dask",
        "cluster": {"queue": "short", "job_extra_directives": ["--exclusive"]},
    }
    assert project.log_dir is None
    assert project.steps[0].independent is False and project.steps[0].group is None


# -- the seed's Full Example -------------------------------------------------------------------
FULL = """
    [pipeline]
    name = "full-example"
    create_paths = true

    [paths]
    temp = "work/temp"
    log = "work/log"
    catalogs = "work/catalogs"
    stacks = "work/stacks"
    images = "images"

    [build_paths]
    SExtractor = "bin/sex"
    SCAMP = "scamp"

    [vars]
    ref_catalog = "2MASS"
    frames = [1]
    stack_name = "test_stack.fits"
    output_cat_name = "test_psf.ldac.fits"
    stack = "{paths.temp}/{vars.stack_name}"
    stack_files = { image = "{vars.stack}", wtmap = "{vars.stack|suffix:.wtmap.fits}" }

    [inputs.exposures]
    glob = "{paths.images}/*.fits"
    exclude = ["*.wtmap.fits", "*.dqmask.fits"]
    required = ["wtmap", "dqmask"]

    [inputs.exposures.fields]
    wtmap = "{item.parent}/{item.stem}.wtmap.fits"
    dqmask = "{item.image|suffix:.dqmask.fits}"

    [[steps]]
    name = "detect"
    func = "sextractor"
    foreach = "exposures"
    tags = ["step1", "SExtractor", "{item.stem}"]
    outputs = { catalog = "{paths.temp}/{item.image|name|suffix:.cat}" }
    [steps.kwargs]
    files = "{item}"
    frames = "{vars.frames}"
    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{outputs.catalog}"
    FILTER = false

    [[steps]]
    func = "scamp"
    tags = ["step2", "SCAMP"]
    [steps.kwargs]
    catalogs = "{steps.detect.outputs.catalog}"
    [steps.kwargs.api_kwargs.config]
    ASTREF_CATALOG = "{vars.ref_catalog}"

    [[steps]]
    func = "swarp"
    tags = ["step3", "SWarp"]
    [steps.kwargs]
    filenames = "{inputs.exposures[*].image}"
    frames = "{vars.frames}"
    [steps.kwargs.api_kwargs.config]
    IMAGEOUT_NAME = "{vars.stack}"
    WEIGHTOUT_NAME = "{vars.stack|suffix:.wtmap.fits}"

    [[steps]]
    func = "aw_tui.api.run_sex"
    tags = ["step4", "SExtractor"]
    [steps.kwargs]
    files = "{vars.stack_files}"
    [steps.kwargs.api_kwargs]
    params = ["NUMBER", "VIGNET(20,20)"]
    [steps.kwargs.api_kwargs.config]
    CATALOG_NAME = "{vars.stack|suffix:.cat}"

    [[steps]]
    func = "psfex"
    tags = ["step5", "PSFEx"]
    [steps.kwargs]
    catalogs = "{vars.stack|suffix:.cat}"

    [[steps]]
    func = "aw.api.run_sex"
    tags = ["step6", "SExtractor"]
    [steps.kwargs]
    files = "{vars.stack_files}"
    [steps.kwargs.api_kwargs.config]
    PSF_NAME = "{vars.stack|suffix:.psf}"
    CATALOG_NAME = "{paths.temp}/{vars.output_cat_name}"

    [[steps]]
    func = "funcs.py:save_output"
    tags = ["step7", "save_output"]
    [steps.kwargs]
    old_stack = "{vars.stack}"
    new_stack = "{paths.stacks}/{vars.stack_name}"
    old_cat = "{paths.temp}/{vars.output_cat_name}"
    new_cat = "{paths.catalogs}/{vars.output_cat_name}"
    catalogs_seen = "{inputs.exposures|map:image|name|join: }"
"""


@pytest.fixture
def full(tmp_path: Path) -> Path:
    for num in ("206401", "206402", "206403"):
        touch(tmp_path, f"images/{num}.fits", f"images/{num}.wtmap.fits",
              f"images/{num}.dqmask.fits")
    (tmp_path / "funcs.py").write_text(RECORD_PY.replace(
        "def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):",
        "def save_output(pipeline, old_stack, new_stack, old_cat, new_cat, catalogs_seen):"))
    return write_project(tmp_path, FULL)


def test_full_example_expansion(full: Path, tmp_path: Path) -> None:
    project = load_project(full)
    images = tmp_path / "images"
    temp = tmp_path / "work" / "temp"
    labels = [s.func.label for s in project.steps]
    assert labels == ["SExtractor"] * 3 + ["SCAMP", "SWarp", "SExtractor", "PSFEx",
                                           "SExtractor", "save_output"]
    assert [s.index for s in project.steps] == list(range(9))
    assert [s.entry for s in project.steps] == [0, 0, 0, 1, 2, 3, 4, 5, 6]
    assert [s.item for s in project.steps[:4]] == [0, 1, 2, None]
    assert project.build_paths == {"SExtractor": str(tmp_path / "bin" / "sex"), "SCAMP": "scamp"}
    # foreach: one step per exposure, in sorted order, each with its own tags and kwargs
    for step, num in zip(project.steps[:3], ("206401", "206402", "206403"), strict=True):
        assert step.tags == ["step1", "SExtractor", num]
        assert step.independent and step.group == "detect"
        assert step.kwargs["files"] == {
            "image": str(images / f"{num}.fits"),
            "wtmap": str(images / f"{num}.wtmap.fits"),
            "dqmask": str(images / f"{num}.dqmask.fits"),
        }
        assert step.kwargs["api_kwargs"]["config"]["CATALOG_NAME"] == str(temp / f"{num}.cat")
        assert step.outputs == {"catalog": str(temp / f"{num}.cat")}
        assert step.kwargs["frames"] == [1]
    scamp, swarp, sex4, psfex, sex6, save = project.steps[3:]
    assert scamp.kwargs["catalogs"] == [str(temp / f"{n}.cat") for n in ("206401", "206402",
                                                                        "206403")]
    assert not scamp.independent and scamp.group is None
    assert swarp.kwargs["filenames"] == [str(images / f"{n}.fits") for n in ("206401", "206402",
                                                                             "206403")]
    stack = str(temp / "test_stack.fits")
    assert swarp.kwargs["api_kwargs"]["config"] == {
        "IMAGEOUT_NAME": stack, "WEIGHTOUT_NAME": str(temp / "test_stack.wtmap.fits")}
    assert sex4.kwargs["files"] == {"image": stack, "wtmap": str(temp / "test_stack.wtmap.fits")}
    assert sex4.kwargs["api_kwargs"]["params"] == ["NUMBER", "VIGNET(20,20)"]
    assert psfex.kwargs["catalogs"] == str(temp / "test_stack.cat")
    assert sex6.kwargs["api_kwargs"]["config"]["PSF_NAME"] == str(temp / "test_stack.psf")
    assert save.kwargs["new_cat"] == str(tmp_path / "work" / "catalogs" / "test_psf.ldac.fits")
    assert save.kwargs["catalogs_seen"] == "206401.fits 206402.fits 206403.fits"
    assert project.func_files == [str(tmp_path / "funcs.py")]
    rows = project.steps_table()
    assert rows[3].inputs == "206401.cat, 206402.cat, 206403.cat"
    assert rows[0].inputs == "206401.fits"


def test_full_example_runs(full: Path, tmp_path: Path) -> None:
    project = load_project(full)
    pipeline = project.build_pipeline()
    result = pipeline.run(run_tags=["step7"])
    assert result["status"] == "success"
    (step,) = pipeline.run_steps
    assert step.results["moved"][1] == str(tmp_path / "work" / "stacks" / "test_stack.fits")
    assert os.path.isfile(os.path.join(project.log_dir, "pipeline.p"))


def test_list_building_variants(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits", "b.fits")
    path = write_project(tmp_path, """
        [inputs.s]
        items = ["a.fits", { image = "b.fits", band = "r" }]
        text_fields = ["band"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        star = "{inputs.s[*].image}"
        implicit = "{inputs.s.image}"
        mapped = "{inputs.s|map:image|stem}"
        first = "{inputs.s[0].image|name}"
        last = "{inputs.s[-1].band}"
        names = "{inputs.s.image|name|join}"
        whole = "{inputs.s}"
    """)
    kwargs = load_project(path).steps[0].kwargs
    a, b = str(tmp_path / "a.fits"), str(tmp_path / "b.fits")
    assert kwargs["star"] == [a, b]
    assert kwargs["implicit"] == [a, b]
    assert kwargs["mapped"] == ["a", "b"]
    assert kwargs["first"] == "a.fits"
    assert kwargs["last"] == "r"
    assert kwargs["names"] == "a.fits,b.fits"
    assert kwargs["whole"] == [{"image": a}, {"image": b, "band": "r"}]


def test_step_outputs_and_kwargs_of_earlier_steps(tmp_path: Path) -> None:
    touch(tmp_path, "x.fits")
    path = write_project(tmp_path, """
        [paths]
        out = "out"
        [inputs.s]
        items = ["x.fits"]
        [[steps]]
        name = "one"
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        outputs = { base = "{item.stem}", cat = "{paths.out}/{outputs.base}.cat" }
        [steps.kwargs]
        n = "{item.index}"
        [[steps]]
        name = "two"
        func = "aw_tui.testing_funcs:succeed"
        outputs = { final = "{paths.out}/final.fits" }
        [steps.kwargs]
        cats = "{steps.one.outputs.cat}"
        ns = "{steps.one.kwargs.n}"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        final = "{steps.two.outputs.final}"
        tags_of_two = "{steps.two.tags}"
    """)
    project = load_project(path)
    one, two, three = project.steps
    assert one.kwargs == {"n": 0}
    assert one.outputs["cat"] == str(tmp_path / "out" / "x.cat")
    assert two.kwargs == {"cats": [str(tmp_path / "out" / "x.cat")], "ns": [0]}
    assert three.kwargs["final"] == str(tmp_path / "out" / "final.fits")
    assert three.kwargs["tags_of_two"] == []


def test_independent_and_group_settings(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits", "b.fits")
    path = write_project(tmp_path, """
        [inputs.s]
        glob = "*.fits"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        independent = false
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        group = "g"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        independent = true
        group = "solo"
    """)
    steps = load_project(path).steps
    assert [(s.independent, s.group) for s in steps] == [
        (False, None), (False, None), (True, "g"), (True, "g"), (True, "solo")]


def test_glob_list_recursive_and_field_name(tmp_path: Path) -> None:
    touch(tmp_path, "d/a/1.cat", "d/b/2.cat", "d/b/skip.cat", "other/3.cat", "other/4.cat")
    path = write_project(tmp_path, """
        [inputs.cats]
        glob = ["d/**/*.cat", "other/*.cat"]
        exclude = ["skip*", "other/4*"]
        field = "catalog"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "cats"
        [steps.kwargs]
        catalog = "{item.catalog}"
        stem = "{item.stem}"
    """)
    project = load_project(path)
    assert [s.kwargs["stem"] for s in project.steps] == ["1", "2", "3"]


def test_explicit_items_with_derived_and_text_fields(tmp_path: Path) -> None:
    touch(tmp_path, "img/a.fits", "img/a.wt.fits")
    path = write_project(tmp_path, """
        [inputs.s]
        items = [{ image = "img/a.fits", band = "r", exptime = 30 }]
        text_fields = ["band", "label"]
        required = ["wtmap"]
        [inputs.s.fields]
        wtmap = "{item.image|suffix:.wt.fits}"
        label = "{item.band}-{item.exptime}"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        [steps.kwargs]
        files = "{item}"
    """)
    files = load_project(path).steps[0].kwargs["files"]
    assert files == {"image": str(tmp_path / "img" / "a.fits"), "band": "r", "exptime": 30,
                     "wtmap": str(tmp_path / "img" / "a.wt.fits"), "label": "r-30"}


def test_paths_expand_user_and_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWTUI_SCRATCH", str(tmp_path / "scratch"))
    path = write_project(tmp_path, """
        [paths]
        home = "~/data"
        scratch = "{env.AWTUI_SCRATCH}/{vars.run}"
        rel = "../up"
        [vars]
        run = "r1"
        table = { a = 1, b = ["{vars.run}", "{paths.home}"] }
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        t = "{vars.table}"
        b0 = "{vars.table.b[0]}"
    """)
    project = load_project(path)
    assert project.paths == {
        "home": str(tmp_path / "home" / "data"),
        "scratch": str(tmp_path / "scratch" / "r1"),
        "rel": str(tmp_path.parent / "up"),
    }
    assert project.vars["table"] == {"a": 1, "b": ["r1", str(tmp_path / "home" / "data")]}
    assert project.steps[0].kwargs == {"t": project.vars["table"], "b0": "r1"}


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


# -- validation errors -------------------------------------------------------------------------
def test_toml_syntax_error_line_and_column(tmp_path: Path) -> None:
    path = write_project(tmp_path, """\
        [pipeline]
        name = "x"

        [[steps]]
        func = sextractor
    """)
    errors = errors_of(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:5:8: TOML syntax error")
    assert "quoted string" in errors[0]


def test_toml_syntax_unclosed_string_and_duplicate(tmp_path: Path) -> None:
    path = write_project(tmp_path, 'a = 1\nb = "x\n')
    assert ":2:" in one_error(path, "closing quote")
    path = write_project(tmp_path, "[vars]\na = 1\nb = 2\na = 3\n")
    assert f"{path}:4:" in one_error(path, "'vars.a'", "keep one")
    path = write_project(tmp_path, "[x]\n[x]\n")
    assert f"{path}:2:" in one_error(path, "declared twice")


def test_error_str_is_readable(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [pipline]
        [[steps]]
        func = "nope"
    """)
    with pytest.raises(ProjectError) as info:
        load_project(path)
    text = str(info.value)
    assert text.startswith(f"{path}: 2 problems in the project file (nothing was run):")
    assert "  - " in text and "fix: did you mean 'pipeline'?" in text
    assert "Traceback" not in text


def test_unknown_keys_everywhere(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """
        [pipline]
        name = "x"
        [pipeline]
        create_path = true
        [inputs.s]
        items = ["a.fits"]
        requird = ["wtmap"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        tag = ["x"]
        ignore_error = true
    """)
    assert ":2: pipline: unknown key 'pipline'" in one_error(path, "did you mean 'pipeline'")
    assert ":5: pipeline.create_path" in one_error(path, "did you mean 'create_paths'")
    assert ":8: inputs.s.requird" in one_error(path, "did you mean 'required'")
    assert ":11: steps[0].tag:" in one_error(path, "did you mean 'tags'")
    assert "steps[0].ignore_error:" in one_error(path, "did you mean 'ignore_errors'")


def test_errors_are_collected_not_first_only(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [pipeline]
        jobs = 0
        [[steps]]
        func = "sextractr"
        [[steps]]
        func = "scamp"
        tags = "x"
        [[steps]]
        func = "swarp"
        ignore_exceptions = 1
    """)
    errors = errors_of(path)
    assert len(errors) >= 4
    joined = "\n".join(errors)
    for needle in ("pipeline.jobs", "steps[0].func", "steps[1].tags",
                   "steps[2].ignore_exceptions"):
        assert needle in joined


def test_unknown_func_lists_builtins(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [[steps]]
        func = "sextractr"
        [[steps]]
        func = "no_such_module_xyz:run"
        [[steps]]
        func = "aw_tui.testing_funcs:nope"
        [[steps]]
        func = "helpers.py:run"
        [[steps]]
        func = 3
        [[steps]]
        tags = ["x"]
    """)
    error = one_error(path, "steps[0].func", "unknown func 'sextractr'")
    assert "did you mean 'sextractor'?" in error
    assert "sextractor, scamp, swarp, psfex" in error
    assert "No module named" in one_error(path, "steps[1].func")
    assert "fix:" in one_error(path, "steps[2].func", "no function 'nope'")
    assert "not found" in one_error(path, "steps[3].func", "helpers.py")
    assert "must be a string" in one_error(path, "steps[4].func")
    assert "sextractor" in one_error(path, "steps[5]", "has no func")


def test_file_func_that_raises_on_import(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise ValueError('oops')\n")
    path = write_project(tmp_path, '[[steps]]\nfunc = "broken.py:run"\n')
    assert "fix the error in that file" in one_error(path, "ValueError: oops")


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('x = "{vars.nope}"', ["steps[0].kwargs.x", "vars.nope", "[vars]"]),
        ('x = "{vars.nme}"', ["did you mean 'vars.name'"]),
        ('x = "{paths.tmp}/a"', ["steps[0].kwargs.x", "did you mean 'paths.temp'"]),
        ('x = "{inputs.exposure}"', ["inputs.exposure", "did you mean 'inputs.exposures'"]),
        ('x = "{env.AW_TUI_SURELY_UNSET}"', ["AW_TUI_SURELY_UNSET", "export"]),
        ('x = "{path.temp}"', ["unknown reference", "did you mean 'paths'"]),
        ('x = "{item.image}"', ["'item' only exists in a foreach step", "foreach"]),
        ('x = "{outputs.cat}"', ["outputs.cat", "not defined"]),
        ('x = "{steps.nope.outputs.x}"', ["no step is named 'nope'", 'name = "nope"']),
        ('x = "{vars}"', ["needs a name after 'vars.'"]),
    ],
)
def test_reference_errors(tmp_path: Path, body: str, needles: list[str]) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, f"""
        [paths]
        temp = "t"
        [vars]
        name = "n"
        [inputs.exposures]
        items = ["a.fits"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        {body}
    """)
    error = one_error(path, *needles)
    assert "fix:" in error
    assert f"{path}:11: steps[0].kwargs.x" in error


def test_nested_kwargs_key_path_and_line(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """\
        [paths]
        temp = "t"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs.api_kwargs.config]
        CATALOG_TYPE = "FITS_LDAC"
        CATALOG_NAME = "{paths.tmp}/x.cat"
    """)
    error = one_error(path, "steps[3].kwargs.api_kwargs.config.CATALOG_NAME")
    assert error.startswith(f"{path}:13: steps[3].kwargs.api_kwargs.config.CATALOG_NAME:")
    assert "did you mean 'paths.temp'?" in error


def test_item_field_errors(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """
        [inputs.s]
        items = ["a.fits"]
        [inputs.s.fields]
        wtmap = "{item.stem}.wt.fits"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
        [steps.kwargs]
        x = "{item.wtmp}"
    """)
    error = one_error(path, "steps[0].kwargs.x", "no field 'wtmp'")
    assert "did you mean 'item.wtmap'?" in error
    assert "[inputs.s.fields]" in error


def test_circular_vars(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [vars]
        a = "{vars.b}/x"
        b = "{vars.c}"
        c = "{vars.a}"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        x = "{vars.a}"
    """)
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert "circular reference: vars.a -> vars.b -> vars.c -> vars.a" in errors[0]


def test_wrong_types(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """
        paths = "p"
        [pipeline]
        name = 3
        create_paths = "yes"
        jobs = true
        [vars]
        n = 1
        [executor]
        kind = "dasc"
        nested = [[1]]
        [inputs.s]
        items = ["a.fits"]
        glob = "*.fits"
        [inputs.t]
        items = "a.fits"
        [inputs.u]
        glob = 3
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        tags = ["a", 1]
        ignore_errors = "{vars.n}"
        independent = "no"
        foreach = 2
        kwargs = 5
        [[steps]]
        name = "has space"
        func = "aw_tui.testing_funcs:succeed"
        outputs = "x"
    """)
    assert "write it as a [paths] section" in one_error(path, "paths: [paths] must be a table")
    assert "without quotes" in one_error(path, "pipeline.create_paths", "true or false")
    assert "pipeline.name" in one_error(path, "must be a string, got an integer")
    one_error(path, "pipeline.jobs", "must be an integer, got a boolean")
    one_error(path, "executor.kind", "did you mean 'dask'?")
    one_error(path, "executor.nested[0]", "plain values")
    one_error(path, "inputs.s", "not both")
    one_error(path, "inputs.t.items", "must be an array")
    one_error(path, "inputs.u.glob", "array of strings")
    one_error(path, "steps[0].tags", 'tags = ["step1", "SExtractor"]')
    one_error(path, "steps[0].ignore_errors", "got an integer")
    one_error(path, "steps[0].independent", "true or false")
    one_error(path, "steps[0].foreach", "must be a string")
    one_error(path, "steps[0].kwargs", "kwargs must be a table")
    one_error(path, "steps[1].name", "not a usable step name")
    one_error(path, "steps[1].outputs", "must be a table")


def test_steps_must_be_an_array(tmp_path: Path) -> None:
    path = write_project(tmp_path, '[steps]\nfunc = "scamp"\n')
    assert "[[steps]]" in one_error(path, "steps", "single table")
    path = write_project(tmp_path, '[pipeline]\nname = "x"\n')
    assert "[[steps]]" in one_error(path, "no steps")


def test_kwargs_checked_against_signature(tmp_path: Path) -> None:
    (tmp_path / "funcs.py").write_text(RECORD_PY)
    path = write_project(tmp_path, """
        [[steps]]
        func = "funcs.py:strict"
        [steps.kwargs]
        b = 2
        c = 3
        step_id = 4
        [[steps]]
        func = "funcs.py:record"
        [steps.kwargs]
        out = "x"
        anything = 1
        [[steps]]
        func = "swarp"
        [steps.kwargs]
        filenmes = ["a.fits"]
    """)
    errors = errors_of(path)
    assert any("steps[0].kwargs.c" in e and "takes no argument 'c'" in e for e in errors)
    assert any("steps[0].kwargs:" in e and "needs the argument 'a'" in e for e in errors)
    assert any("steps[0].kwargs.step_id" in e and "passed by the pipeline" in e for e in errors)
    assert not any("steps[1]" in e for e in errors)
    error = one_error(path, "steps[2].kwargs.filenmes")
    assert "did you mean 'filenames'?" in error


def test_step_names_and_order(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [[steps]]
        name = "a"
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        x = "{steps.b.outputs.y}"
        [[steps]]
        name = "b"
        func = "aw_tui.testing_funcs:succeed"
        outputs = { y = 1 }
        [[steps]]
        name = "b"
        func = "aw_tui.testing_funcs:succeed"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        z = "{steps.b.outputs.z}"
    """)
    one_error(path, "steps[0].kwargs.x", "step 'b' is steps[1], not before this step")
    one_error(path, "steps[2].name", "already used by steps[1]")
    assert "'steps.b.outputs' has: y" in one_error(path, "steps[3].kwargs.z", "no 'z'")


def test_foreach_errors(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [inputs.exposures]
        items = []
        [inputs.globbed]
        glob = "nothing/*.fits"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "exposure"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "globbed"
    """)
    assert "did you mean 'exposures'?" in one_error(path, "steps[0].foreach",
                                                    "no input set named 'exposure'")
    one_error(path, "inputs.exposures.items", "items is empty")
    assert "nothing" in one_error(path, "inputs.globbed.glob", "matched no files")
    one_error(path, "steps[1].foreach", "input set 'globbed' is empty")


def test_missing_input_files(tmp_path: Path) -> None:
    touch(tmp_path, "img/a.fits", "img/a.wtmap.fits", "img/b.fits", "img/x.skip")
    path = write_project(tmp_path, """
        [inputs.globbed]
        glob = "img/*.fits"
        exclude = ["*.wtmap.fits"]
        required = ["wtmap", "dqmask"]
        [inputs.globbed.fields]
        wtmap = "{item.parent}/{item.stem}.wtmap.fits"
        [inputs.listed]
        items = [{ image = "img/a.fits", wtmap = "img/missing.wtmap.fits" }]
        [inputs.excluded]
        glob = "img/*.skip"
        exclude = ["*.skip"]
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
    """)
    error = one_error(path, "inputs.globbed.fields.wtmap", "required 'wtmap' not found")
    assert "b.wtmap.fits (for b.fits)" in error and "a.wtmap.fits (" not in error
    one_error(path, "inputs.globbed.required", "required field 'dqmask' is not a field")
    error = one_error(path, "inputs.listed.items[0].wtmap", "file not found")
    assert "missing.wtmap.fits" in error and "text_fields" in error
    one_error(path, "inputs.excluded.exclude", "are excluded")


def test_check_files_false_skips_existence(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [inputs.listed]
        items = [{ image = "a.fits", wtmap = "a.wtmap.fits" }]
        [inputs.globbed]
        glob = "img/*.fits"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "listed"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "globbed"
    """)
    assert len(errors_of(path)) >= 2
    project = load_project(path, check_files=False)
    assert len(project.steps) == 1
    assert project.inputs["globbed"] == []


def test_build_paths_typo(tmp_path: Path) -> None:
    path = write_project(tmp_path, """
        [build_paths]
        SExtracter = "/opt/sex"
        PSFEx = 3
        STIFF = "stiff"
        [[steps]]
        func = "scamp"
    """)
    one_error(path, "build_paths.SExtracter", "did you mean 'SExtractor'?")
    one_error(path, "build_paths.PSFEx", "must be a string")


# -- FuncRef -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "label", "target", "attr"),
    [
        ("sextractor", "SExtractor", "aw_tui.api", "run_sex"),
        ("SExtractor", "SExtractor", "aw_tui.api", "run_sex"),
        ("scamp", "SCAMP", "aw_tui.api", "run_scamp"),
        ("swarp", "SWarp", "aw_tui.api", "run_swarp"),
        ("psfex", "PSFEx", "aw_tui.api", "run_psfex"),
        ("aw_tui.api.run_sex", "SExtractor", "aw_tui.api", "run_sex"),
        ("aw.api.run_scamp", "SCAMP", "aw_tui.api", "run_scamp"),
        ("astromatic_wrapper.api.run_swarp", "SWarp", "aw_tui.api", "run_swarp"),
        ("aw_tui.api:run_psfex", "PSFEx", "aw_tui.api", "run_psfex"),
        ("os.path:join", "join", "os.path", "join"),
        ("os.path.join", "join", "os.path", "join"),
    ],
)
def test_funcref_spellings(spec: str, label: str, target: str, attr: str) -> None:
    ref = FuncRef(spec)
    assert (ref.label, ref.target, ref.attr) == (label, target, attr)


def test_funcref_call_signature_and_pickle(tmp_path: Path) -> None:
    (tmp_path / "funcs.py").write_text(RECORD_PY)
    ref = FuncRef("funcs.py:with_context", str(tmp_path))
    assert ref.kind == "file" and ref.target == str(tmp_path / "funcs.py")
    assert ref.label == "with_context" and ref.__name__ == "with_context"
    import inspect

    assert list(inspect.signature(ref).parameters) == ["pipeline", "step_id", "out"]
    state = ref.__getstate__()
    assert state == {"spec": "funcs.py:with_context", "base_dir": str(tmp_path)}
    for dumps, loads in ((pickle.dumps, pickle.loads), (dill.dumps, dill.loads)):
        again = loads(dumps(ref))
        assert isinstance(again, FuncRef) and again == ref and again.label == ref.label
    assert len(pickle.dumps(ref)) < 300
    # A function that cannot be found: no signature (call() reports the problem).
    missing = FuncRef("funcs.py:nope", str(tmp_path))
    assert inspect.signature(missing).parameters.keys() == {"args", "kwargs"}
    with pytest.raises(FuncRefError, match="no function 'nope'"):
        missing()


def test_funcref_reimports_changed_file(tmp_path: Path) -> None:
    funcs = tmp_path / "funcs.py"
    funcs.write_text("def f():\n    return 1\n")
    ref = FuncRef("funcs.py:f", str(tmp_path))
    assert ref() == 1
    funcs.write_text("def f():\n    return 22\n")
    os.utime(funcs, ns=(1, 10**18))
    assert ref() == 22


@pytest.mark.parametrize("spec", ["", "  ", "a b", "x.py:not a name", "3:x"])
def test_funcref_bad_specs(spec: str) -> None:
    with pytest.raises(FuncRefError):
        FuncRef(spec)


def test_dill_checkpoint_in_another_process(tmp_path: Path) -> None:
    """A built pipeline pickles with dill; a new interpreter reloads and runs its steps."""
    project_dir = tmp_path / "proj"
    project_dir.mkdir()
    (project_dir / "funcs.py").write_text(RECORD_PY)
    touch(project_dir, "a.fits", "b.fits")
    out = tmp_path / "out.jsonl"
    path = write_project(project_dir, f"""
        [pipeline]
        name = "pickled"
        create_paths = true
        [paths]
        temp = "temp"
        log = "log"
        [inputs.s]
        glob = "*.fits"
        [[steps]]
        func = "funcs.py:record"
        foreach = "s"
        [steps.kwargs]
        out = "{out}"
        image = "{{item.image|name}}"
        [[steps]]
        func = "funcs.py:with_context"
        [steps.kwargs]
        out = "{out}"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        [steps.kwargs]
        n = 1
    """)
    pipeline = load_project(path).build_pipeline()
    checkpoint = tmp_path / "pipeline.p"
    with open(checkpoint, "wb") as handle:
        dill.dump(pipeline, handle)
    script = textwrap.dedent(f"""
        import dill, json, sys
        with open({str(checkpoint)!r}, "rb") as handle:
            pipeline = dill.load(handle)
        results = [pipeline.call_step(step) for step in pipeline.steps]
        print(json.dumps([r["status"] for r in results]))
        print(json.dumps([step.func_name for step in pipeline.steps]))
        print(any(name.startswith("_aw_tui_project_funcs") for name in sys.modules))
        print("textual" in sys.modules)
    """)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert json.loads(lines[0]) == ["success"] * 4
    assert json.loads(lines[1]) == ["record", "record", "with_context", "succeed"]
    assert lines[2] == "True" and lines[3] == "False"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [{"image": "a.fits"}, {"image": "b.fits"},
                       {"step_id": 2, "name": "pickled"}]


def test_pipeline_run_calls_steps_with_kwargs(tmp_path: Path) -> None:
    (tmp_path / "funcs.py").write_text(RECORD_PY)
    touch(tmp_path, "data/a.fits", "data/b.fits")
    out = tmp_path / "out.jsonl"
    path = write_project(tmp_path, f"""
        [pipeline]
        create_paths = true
        [paths]
        temp = "work/temp"
        log = "work/log"
        [vars]
        frames = [1]
        [inputs.s]
        glob = "data/*.fits"
        [[steps]]
        name = "each"
        func = "funcs.py:record"
        foreach = "s"
        tags = ["one", "{{item.stem}}"]
        outputs = {{ cat = "{{paths.temp}}/{{item.stem}}.cat" }}
        [steps.kwargs]
        out = "{out}"
        cat = "{{outputs.cat}}"
        frames = "{{vars.frames}}"
        [[steps]]
        func = "funcs.py:with_context"
        tags = ["two"]
        [steps.kwargs]
        out = "{out}"
        [[steps]]
        func = "funcs.py:record"
        tags = ["three"]
        [steps.kwargs]
        out = "{out}"
        cats = "{{steps.each.outputs.cat}}"
    """)
    project = load_project(path)
    pipeline = project.build_pipeline()
    assert pipeline.run()["status"] == "success"
    temp = tmp_path / "work" / "temp"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [
        {"cat": str(temp / "a.cat"), "frames": [1]},
        {"cat": str(temp / "b.cat"), "frames": [1]},
        {"step_id": 2, "name": tmp_path.name},
        {"cats": [str(temp / "a.cat"), str(temp / "b.cat")]},
    ]
    assert all(step.results["status"] == "success" for step in pipeline.steps)
    # select by an interpolated tag
    out.unlink()
    pipeline.run(run_tags=["b"])
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"cat": str(temp / "b.cat"), "frames": [1]}]
    # the checkpoint reloads with the project fingerprint
    from aw_tui.pipeline import load_pipeline

    again = load_pipeline(project.log_dir)
    assert again.project_fingerprint == project.fingerprint
    assert again.steps[0].func == project.steps[0].func


def test_fingerprint_tracks_toml_and_func_files(tmp_path: Path) -> None:
    (tmp_path / "funcs.py").write_text(RECORD_PY)
    text = '[[steps]]\nfunc = "funcs.py:record"\n[steps.kwargs]\nout = "x"\n'
    path = write_project(tmp_path, text)
    first = load_project(path).fingerprint
    assert first == load_project(path).fingerprint
    assert len(first) == 64
    (tmp_path / "funcs.py").write_text(RECORD_PY + "\n# changed\n")
    second = load_project(path).fingerprint
    assert second != first
    write_project(tmp_path, text + "# a comment\n")
    assert load_project(path).fingerprint != second


# -- the sample project and the import graph ---------------------------------------------------
def test_minimal_sample_config() -> None:
    sample = REPO / "sample_configs" / "minimal" / "project.toml"
    project = load_project(sample, check_files=False)
    (step,) = project.steps
    assert step.func.label == "SExtractor"
    assert step.tags == ["step1", "SExtractor"]
    folder = sample.parent
    assert step.kwargs["files"]["image"] == str(folder / "my_img.fits")
    assert step.kwargs["api_kwargs"]["config"]["CATALOG_NAME"] == str(
        folder / "work" / "catalogs" / "my_img.ldac.fits")
    assert os.path.isfile(step.kwargs["api_kwargs"]["config_file"])
    errors = errors_of(sample)
    assert errors and all("file not found" in e for e in errors)
    assert any("my_img.fits" in e for e in errors)


def test_project_loader_never_imports_textual(full: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from aw_tui.project.loader import load_project
        project = load_project({str(full)!r})
        project.steps_table()
        project.format_steps_table()
        for step in project.steps:
            step.func.__signature__
        assert not any(m == "textual" or m.startswith("textual.") for m in sys.modules), \\
            sorted(m for m in sys.modules if m.startswith("textual"))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_array_of_item_tables_and_error_lines(tmp_path: Path) -> None:
    touch(tmp_path, "a.fits")
    path = write_project(tmp_path, """\
        [inputs.s]
        [[inputs.s.items]]
        image = "a.fits"
        [[inputs.s.items]]
        image = "b.fits"
        wtmap = "b.wtmap.fits"
        [[steps]]
        func = "aw_tui.testing_funcs:succeed"
        foreach = "s"
    """)
    error = one_error(path, "inputs.s.items[1].wtmap", "file not found")
    assert error.startswith(f"{path}:6: ")
    assert one_error(path, "inputs.s.items[1].image").startswith(f"{path}:5: ")


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


def test_load_project_restores_garbage_collection(simple: Path, tmp_path: Path) -> None:
    import gc

    assert gc.isenabled()
    load_project(simple)
    assert gc.isenabled()
    errors_of(tmp_path / "nothing.toml")
    broken = write_project(tmp_path, "[paths\n", "broken.toml")
    errors_of(broken)
    assert gc.isenabled()
    gc.disable()
    try:
        load_project(simple)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_loading_without_steps_reads_what_finds_the_run_directory(tmp_path):
    """steps=False: the same settings and paths, no inputs or steps, and errors in the
    steps are not looked for."""
    from aw_tui.project.loader import load_project

    (tmp_path / "a.fits").write_bytes(b"")
    project = tmp_path / "project.toml"
    project.write_text(
        '[pipeline]\nname = "p"\ncreate_paths = true\n[vars]\nroot = "work"\n'
        '[paths]\nlog = "{vars.root}/log"\ntemp = "{vars.root}/temp"\n'
        '[inputs.frames]\nitems = ["a.fits"]\n'
        '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\nforeach = "frames"\n'
        '[steps.kwargs]\nimage = "{item}"\n'
    )
    full = load_project(project)
    part = load_project(project, steps=False)
    assert full.complete and not part.complete
    assert (part.name, part.create_paths, part.paths, part.log_dir) == (
        full.name, full.create_paths, full.paths, full.log_dir)
    assert part.steps == [] and part.inputs == {} and part.fingerprint == ""
    with pytest.raises(ValueError, match="without its steps"):
        part.build_pipeline()
    project.write_text(project.read_text().replace("testing_funcs:succeed", "nowhere:nothing"))
    assert load_project(project, steps=False).log_dir == full.log_dir
    with pytest.raises(ProjectError):
        load_project(project)

