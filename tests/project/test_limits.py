"""The limits of a project file (issue 11, item 11; docs/project-file.md, "Limits").

Each input below crashed ``load_project`` (or the run after it) with a traceback; each must now
be one ``ProjectError`` entry naming the file, the key (and line) and the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dill
import pytest

from aw_tui.project import ProjectError, load_project
from aw_tui.project.limits import (
    MAX_COUNT,
    MAX_NAME_LENGTH,
    MAX_NESTING,
    MAX_REFERENCE_DEPTH,
    run_name_problem,
)

REPO = Path(__file__).resolve().parents[2]
STEP = '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n'


def write(folder: Path, text: str) -> Path:
    path = folder / "project.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(path: Path, *needles: str) -> str:
    """The one error of loading ``path`` that holds every needle (and the file's name)."""
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    matching = [e for e in info.value.errors if all(n in e for n in needles)]
    assert matching, message
    return matching[0]


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


# -- nesting -----------------------------------------------------------------------------------
def test_arrays_nested_500_deep_are_an_error_with_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, f'[vars]\nok = 1\ndeep = {nested(500)}\n{STEP}')
    error = error_of(path, "nest too deeply", "fix:")
    assert error.startswith(f"{path}:3:")


@pytest.mark.parametrize("where", ["vars", "steps.kwargs", "executor"])
def test_values_nested_over_the_limit_are_an_error(tmp_path: Path, where: str) -> None:
    value = nested(MAX_NESTING + 5)
    if where == "steps.kwargs":
        text = f"{STEP}[steps.kwargs]\nframes = {value}\n"
        key = "steps[0].kwargs.frames"
    else:
        text = f"[{where}]\nframes = {value}\n{STEP}"
        key = f"{where}.frames"
    error_of(write(tmp_path, text), key, f"more than {MAX_NESTING} deep")


def test_frames_nested_400_deep_never_reach_the_pickle(tmp_path: Path) -> None:
    path = write(tmp_path, f"{STEP}[steps.kwargs]\nframes = {nested(400)}\n")
    error_of(path, "steps[0].kwargs.frames", "nest")


@pytest.mark.filterwarnings("ignore::aw_tui.engine.errors.PipelineWarning")
def test_nesting_within_the_limit_loads_and_pickles(tmp_path: Path) -> None:
    # The file's top level, [[steps]], the step and kwargs are 4 levels: the rest is the value.
    value = nested(MAX_NESTING - 4)
    project = load_project(write(tmp_path, f"{STEP}[steps.kwargs]\nframes = {value}\n"))
    pipeline = project.build_pipeline()
    assert dill.loads(dill.dumps(pipeline)).steps[0].func_kwargs == project.steps[0].kwargs


def test_references_cannot_build_values_deeper_than_the_limit(tmp_path: Path) -> None:
    """Each step wraps the kwargs of the one before: the value grows with the steps."""
    steps = [f'{STEP}name = "s0"\n[steps.kwargs]\na = 1\n']
    for i in range(1, 40):
        steps.append(f'{STEP}name = "s{i}"\n[steps.kwargs]\na = ["{{steps.s{i - 1}.kwargs}}"]\n')
    error_of(write(tmp_path, "".join(steps)), "nests more than", "steps.s")


def test_a_var_referring_to_deep_vars_is_an_error(tmp_path: Path) -> None:
    lines = ["[vars]", f"v0 = {nested(20)}"]
    lines += [f'v{i} = [["{{vars.v{i - 1}}}"]]' for i in range(1, 10)]
    error_of(write(tmp_path, "\n".join(lines) + f"\n{STEP}"), "vars.v", "nests more than")


# -- references ----------------------------------------------------------------------------------
def chain(length: int, root: str = "vars") -> str:
    lines = [f"[{root}]"]
    lines += [f'c{i} = "{{{root}.c{i + 1}}}"' for i in range(length)]
    lines.append(f'c{length} = "end"')
    return "\n".join(lines) + f'\n{STEP}[steps.kwargs]\nx = "{{{root}.c0}}"\n'


@pytest.mark.parametrize("root", ["vars", "paths"])
def test_a_chain_of_100_references_is_an_error(tmp_path: Path, root: str) -> None:
    error = error_of(write(tmp_path, chain(100, root)),
                     f"references go more than {MAX_REFERENCE_DEPTH} deep", "fix:")
    assert f"{root}.c0 -> {root}.c1" in error


def test_a_chain_within_the_limit_loads(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, chain(MAX_REFERENCE_DEPTH - 2)))
    assert project.steps[0].kwargs == {"x": "end"}


# -- NUL characters ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "key"), [
    ('[[steps]]\nfunc = "aw_tui.testing_funcs:succeed\\u0000"\n', "steps[0].func"),
    ('[paths]\ntemp = "work\\u0000/temp"\n' + STEP, "paths.temp"),
    ('[paths]\nlog = "lo\\u0000g"\n' + STEP, "paths.log"),
    ('[build_paths]\nSExtractor = "se\\u0000x"\n' + STEP, "build_paths.SExtractor"),
    (STEP + '[steps.kwargs]\n"a\\u0000" = 1\n', "steps[0].kwargs.a"),
    (STEP + 'name = "\\U00000000"\n', "steps[0].name"),
])
def test_a_nul_character_is_an_error(tmp_path: Path, text: str, key: str) -> None:
    error_of(write(tmp_path, text), key, "NUL character")


# -- the run directory and other folders ---------------------------------------------------------
@pytest.mark.parametrize(("log", "needle"), [
    ("project.toml", "exists and is not a folder"),
    ("/dev/null", "is in /dev"),
    ("/proc/self", "is in /proc"),
    ("/sys/kernel", "is in /sys"),
    ("/dev/shm/run", "is in /dev"),
])
def test_the_run_directory_must_be_a_folder_outside_the_system(tmp_path: Path, log: str,
                                                                needle: str) -> None:
    path = write(tmp_path, f'[paths]\nlog = "{log}"\n{STEP}')
    error_of(path, "paths.log", needle)


def test_a_symlink_into_proc_is_refused(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/proc/self")
    error_of(write(tmp_path, f'[paths]\nlog = "link/x"\n{STEP}'), "paths.log", "is in /proc")


def test_a_folder_that_is_a_file_or_too_long_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    path = write(tmp_path, f'[paths]\ntemp = "notes.txt"\nlong = "{"x" * 300}"\n{STEP}')
    error_of(path, "paths.temp", "exists and is not a folder")
    error_of(path, "paths.long", "too long")


def test_an_ordinary_run_directory_loads(tmp_path: Path) -> None:
    (tmp_path / "work" / "log").mkdir(parents=True)
    project = load_project(write(tmp_path, f'[paths]\nlog = "work/log"\n{STEP}'))
    assert project.log_dir == str(tmp_path / "work" / "log")


# -- counts --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("table", "key", "value", "needle"), [
    ("executor", "workers", 2**63 - 1, f"limit of {MAX_COUNT}"),
    ("executor", "threads_per_worker", 10**30, f"limit of {MAX_COUNT}"),
    ("executor", "jobs", 0, "1 or more"),
    ("executor", "allowed_failures", -1, "0 or more"),
    ("executor", "workers", 1.5, "must be an integer"),
    ("pipeline", "jobs", 2**63 - 1, f"limit of {MAX_COUNT}"),
])
def test_counts_are_whole_numbers_within_the_limit(tmp_path: Path, table: str, key: str,
                                                   value: object, needle: str) -> None:
    kind = 'kind = "dask"\n' if table == "executor" else ""
    path = write(tmp_path, f"[{table}]\n{kind}{key} = {value}\n{STEP}")
    error_of(path, f"{table}.{key}", needle)


def test_counts_at_the_limit_load(tmp_path: Path) -> None:
    path = write(tmp_path, f'[pipeline]\njobs = {MAX_COUNT}\n[executor]\nkind = "dask"\n'
                           f"workers = {MAX_COUNT}\nallowed_failures = 0\n{STEP}")
    project = load_project(path)
    assert project.jobs == MAX_COUNT and project.executor_config["workers"] == MAX_COUNT


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a/b", ".hidden", "..", "a b", "é", "x" * (MAX_NAME_LENGTH + 1),
                                  "\x1b]52;c;x\x07"])
def test_run_names_use_the_safe_characters(tmp_path: Path, name: str) -> None:
    path = tmp_path / "project.toml"
    path.write_text(f"[pipeline]\nrun_name = {json.dumps(name)}\n{STEP}")
    error_of(path, "pipeline.run_name", "not a safe name")


@pytest.mark.parametrize("name", ["a/b", ".x", "a.b", "é", "x" * (MAX_NAME_LENGTH + 1)])
def test_step_names_use_the_safe_characters(tmp_path: Path, name: str) -> None:
    error_of(write(tmp_path, f'{STEP}name = "{name}"\n'), "steps[0].name",
             "not a usable step name")


def test_safe_names_load(tmp_path: Path) -> None:
    name = "x" * MAX_NAME_LENGTH
    path = write(tmp_path, f'[pipeline]\nrun_name = "night-1.v2_b"\n{STEP}name = "{name}"\n')
    project = load_project(path)
    assert project.run_name == "night-1.v2_b" and project.steps[0].name == name


# -- tags ----------------------------------------------------------------------------------------
def test_a_table_as_a_tag_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.fits").write_bytes(b"")
    path = write(tmp_path, '[inputs.s]\nitems = ["a.fits"]\n'
                           f'{STEP}foreach = "s"\ntags = ["{{item}}"]\n')
    error_of(path, "steps[0].tags[0]", "a tag must be text")


# -- the command line ----------------------------------------------------------------------------
def test_aw_tui_check_reports_a_limit_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, f'[pipeline]\nrun_name = "a/b"\n[vars]\ndeep = {nested(600)}\n{STEP}')
    aw_tui = Path(sys.executable).with_name("aw-tui")
    result = subprocess.run([str(aw_tui), "check", str(path)], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "nest too deeply" in result.stderr


def test_the_documented_limits_are_the_ones_enforced() -> None:
    docs = (REPO / "docs" / "project-file.md").read_text()
    start = docs.index("## Limits")
    section = docs[start:docs.index("\n## ", start + 1)]
    assert f"at most **{MAX_NESTING}** levels" in section
    assert f"at most **{MAX_REFERENCE_DEPTH}**:" in section
    assert f"from 1 to **{MAX_COUNT}**" in section
    assert f"at most {MAX_NAME_LENGTH} characters" in section


def test_run_name_problem_serves_the_command_line_too() -> None:
    assert run_name_problem("night-1.v2") is None
    problem, fix = run_name_problem("a/b")
    assert "'a/b' is not a safe name" in problem and "pipeline-<run_name>.p" in fix


def test_control_characters_of_a_path_are_shown_visibly(tmp_path: Path) -> None:
    (tmp_path / "x\x1b[2J").write_text("")
    error = error_of(write(tmp_path, f'[paths]\nlog = "x\\u001b[2J"\n{STEP}'), "paths.log")
    assert "\x1b" not in error and "x\\x1b[2J" in error


def test_messages_never_carry_terminal_escapes_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "project.toml"
    path.write_text('[pipeline]\n"\\u001b]52;c;eA==\\u0007" = 1\n' + STEP)
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert "\x1b" not in message and "\x07" not in message
    assert "\\x1b]52;c;eA==\\x07" in message  # shown, visibly
    path.write_bytes(b'[pipeline]\nname = "a\x1b[2J\n')  # a syntax error shows the line
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert "\x1b" not in message and '| name = "a\\x1b[2J' in message
