"""Step functions (aw_tui.project.funcref) and the pipelines a project builds: pickling,
running, fingerprints."""

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
from project_helpers import (
    RECORD_PY,
    touch,
    write_project,
)

from aw_tui.project.funcref import FuncRef, FuncRefError
from aw_tui.project.loader import load_project


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
