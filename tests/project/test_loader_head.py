"""``load_project(..., steps=False)`` parses only the head of a file whose steps come last
(a list of a hundred big projects reads each in a millisecond), and the same values."""

from __future__ import annotations

from pathlib import Path

from aw_tui.project.loader import head_without_steps, load_project

HEAD = """[pipeline]
name = "big"
[paths]
log = "work/log"
[vars]
band = "r"
[launcher]
kind = "slurm"
[launcher.slurm]
partition = "debug"
"""
STEP = """
[[steps]]
func = "aw_tui.testing_funcs:succeed"
tags = ["s{n}"]
[steps.kwargs]
n = {n}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.toml"
    path.write_text(text)
    return path


def test_the_head_gives_the_same_project_header(tmp_path: Path) -> None:
    text = HEAD + "".join(STEP.format(n=n) for n in range(300))
    assert head_without_steps(text) == HEAD + "\n"
    path = _write(tmp_path, text)
    quick, whole = load_project(path, steps=False), load_project(path)
    for name in ("name", "paths", "vars", "launcher_config", "executor_config", "log_dir"):
        assert getattr(quick, name) == getattr(whole, name), name
    assert not quick.complete and len(whole.steps) == 300


def test_a_table_after_the_steps_makes_it_read_the_whole_file(tmp_path: Path) -> None:
    text = '[pipeline]\nname = "x"\n' + STEP.format(n=1) + '[paths]\nlog = "elsewhere"\n'
    assert head_without_steps(text) is None
    assert load_project(_write(tmp_path, text), steps=False).log_dir == str(
        tmp_path / "elsewhere")
    nested = HEAD + STEP.format(n=1) + "grid = [\n[1, 2],\n]\n"  # a value's line starts with [
    assert head_without_steps(nested) is None
    assert head_without_steps(HEAD) is None  # no steps: nothing to leave out


def test_steps_are_not_checked_without_steps(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + STEP.format(n=1) + "\n[[steps]]\nfunc = = 1\n")
    assert load_project(path, steps=False).log_dir == str(tmp_path / "work" / "log")


def test_inputs_are_left_out_of_the_head_too(tmp_path: Path) -> None:
    """``aw-tui PROJECT`` reads the head to find the run directory: 100,000 items before the
    steps are not parsed there (then once more for the steps)."""
    items = ", ".join(f'"f{i}"' for i in range(500))
    inputs = f'[inputs.frames]\nitems = [{items}]\ntext_fields = ["image"]\n'
    text = HEAD + inputs + STEP.format(n=1)
    assert head_without_steps(text) == HEAD
    path = _write(tmp_path, text)
    quick, whole = load_project(path, steps=False), load_project(path)
    for name in ("name", "paths", "vars", "launcher_config", "executor_config", "log_dir"):
        assert getattr(quick, name) == getattr(whole, name), name
    assert len(whole.inputs["frames"]) == 500
    assert head_without_steps(HEAD + inputs + '[executor]\nkind = "local"\n' + STEP.format(
        n=1)) is None  # a table of the head after the inputs: read whole
