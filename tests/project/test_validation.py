"""Validation errors of project files: each problem named with file, line, key path and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_helpers import (
    RECORD_PY,
    errors_of,
    one_error,
    touch,
    write_project,
)

from aw_tui.project.loader import ProjectError, load_project


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
