"""Loading project files (aw_tui.project.loader): the seed's examples, input sets, steps,
paths, loading without steps."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from project_helpers import (
    REPO,
    errors_of,
    one_error,
    touch,
    write_project,
)

from aw_tui.project.loader import ProjectError, load_project


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
