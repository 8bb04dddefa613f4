"""Issue 11 (cli side) and issue 14 item 9: bad flags, closed pipes, terminal escapes, folders,
checkpoints that --resume would refuse, and copied or moved projects."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

AW = [sys.executable, "-m", "aw_tui"]
ESCAPES = ("\x1b", "\x07", "\x9b")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*AW, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def write_project(folder: Path, steps: str, name: str = "t") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text(
        f'[pipeline]\nname = "{name}"\ncreate_paths = true\n'
        '[paths]\ntemp = "work/temp"\nlog = "work/log"\n' + steps
    )
    return project


def step(func: str, tags: list[str], **kwargs: object) -> str:
    text = f'[[steps]]\nfunc = "{func}"\ntags = {json.dumps(tags)}\n'
    if kwargs:
        text += "[steps.kwargs]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in kwargs.items())
    return text


def succeed_steps(count: int) -> str:
    return "".join(step("aw_tui.testing_funcs:succeed", [f"s{i}"]) for i in range(count))


def events(project: Path) -> list[dict]:
    journal = project.parent / "work" / "log" / "events.jsonl"
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: size and mtime."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- item 11: flags validated up front, in --batch and in check alike ---------------------
@pytest.mark.parametrize(("flags", "named"), [
    (["--run-name", "a/b"], "--run-name"),
    (["--run-name", "../x"], "--run-name"),
    (["--jobs", "0"], "--jobs 0"),
    (["--jobs", "-5"], "--jobs -5"),
    (["--start-idx", "3"], "--start-idx 3"),  # 3 steps: indexes 0..2
    (["--start-idx", "41"], "--start-idx 41"),
    (["--start-idx", "-1"], "--start-idx -1"),
])
def test_bad_run_flags_exit_2_before_anything_runs(tmp_path, flags, named):
    project = write_project(tmp_path, succeed_steps(3))
    proc = run(str(project), "--batch", *flags)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr and "fix the step" not in proc.stderr
    assert events(project) == []  # nothing ran: no run_started, no run_interrupted
    assert not (tmp_path / "work").exists()  # nothing was written: not even the folders
    checked = run("check", str(project), *flags)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert named in checked.stderr


def test_check_accepts_what_batch_accepts(tmp_path):
    project = write_project(tmp_path, succeed_steps(3))
    assert run("check", str(project), "--start-idx", "2", "--jobs", "2",
               "--run-name", "night-1.b").returncode == 0
    assert run(str(project), "--batch", "--start-idx", "2", "--jobs", "2",
               "--run-name", "night-1.b").returncode == 0


def test_check_rejects_a_selection_with_no_step_like_batch(tmp_path):
    project = write_project(tmp_path, succeed_steps(2))
    assert run(str(project), "--batch", "--tags", "nope").returncode == 2
    proc = run("check", str(project), "--tags", "nope")
    assert proc.returncode == 2 and "no step matches" in proc.stderr


# -- item 13: a closed output pipe ends quietly ----------------------------------------------
@pytest.mark.parametrize("command", ["status", "check"])
def test_closed_output_pipe_ends_quietly(tmp_path, command):
    project = write_project(tmp_path, succeed_steps(3))
    assert run(str(project), "--batch").returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already gone
    try:
        proc = subprocess.run([*AW, command, str(project)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141  # as a Unix tool ended by SIGPIPE


def test_batch_whose_output_reader_went_away_runs_to_the_end(tmp_path):
    project = write_project(tmp_path, succeed_steps(3))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([*AW, str(project), "--batch"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr  # the run's own exit code
    assert proc.stderr == ""
    assert [e["event"] for e in events(project)][-1] == "run_finished"


def test_status_piped_into_head_prints_its_first_lines(tmp_path):
    # 2000 steps: ~90 kB of status, more than a pipe holds (64 kB), so status is still
    # writing when head has gone
    project = write_project(tmp_path, succeed_steps(2000))
    assert run(str(project), "--batch").returncode == 0
    status = subprocess.Popen([*AW, "status", str(project)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-3"], stdin=status.stdout, capture_output=True, text=True,
                          timeout=120)
    status.stdout.close()
    err = status.stderr.read().decode()
    assert status.wait(timeout=120) in (0, 141)
    assert len(head.stdout.splitlines()) == 3
    assert err == ""


# -- item 14: text from projects, files and tools never reaches the terminal raw ----------------
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
CLEAR = "\x1b[2J"


def test_escapes_from_names_tags_files_and_tool_errors_are_made_visible(tmp_path):
    data = tmp_path / f"img{CLEAR}.fits"
    data.write_text("x")
    name = json.dumps(f"night{OSC52}")[1:-1]  # a TOML basic string holds \u001b escapes
    project = write_project(
        tmp_path,
        step("aw_tui.testing_funcs:succeed", ["ok"], image=str(data))
        + step("aw_tui.testing_funcs:fail", ["bad"], message=f"tool said {OSC52}{CLEAR}"),
        name=name,
    )
    outputs = []
    batch = run(str(project), "--batch")
    assert batch.returncode == 1
    outputs.append(batch)
    outputs.append(run("status", str(project)))
    outputs.append(run("check", str(project)))
    outputs.append(run(str(project), "--batch", "--resume", "--run-name", f"x{CLEAR}"))
    outputs.append(run("check", str(project), "--start-idx", f"1{OSC52}"))  # argparse's error
    assert outputs[-1].returncode == 2
    for proc in outputs:
        text = proc.stdout + proc.stderr
        assert not any(c in text for c in ESCAPES), repr(text)
    assert "^[]52;c;cm0gLXJmIH4=^G" in batch.stdout + batch.stderr  # shown, not obeyed
    assert "^[[2J" in outputs[2].stdout  # the file name in check's table
    assert "^[[2J" in outputs[3].stderr  # the flag in its error message


def test_inert_shows_every_control_character():
    from aw_tui.base.text import inert

    text = "a\x1b]0;title\x07b\x9b31mc\x7fd\re\tf\ng"
    assert inert(text) == "a^[]0;title^Gb\\x9b31mc^?d^Me\tf\ng"
    assert inert(text, one_line=True).endswith("e^If^Jg")
    assert not any(chr(c) in inert("".join(map(chr, range(0x100))), one_line=True)
                   for c in [*range(0x20), *range(0x7F, 0xA0)])


# -- issue 14 item 9: a folder names its project in every command ------------------------------
def test_a_folder_with_project_toml_is_the_project_everywhere(tmp_path):
    project = write_project(tmp_path / "proj", succeed_steps(2))
    assert run(str(project), "--batch").returncode == 0
    folder = project.parent
    checked = run("check", ".", cwd=folder)
    assert checked.returncode == 0, checked.stderr
    assert "valid, 2 steps" in checked.stdout
    assert "all 2 steps are done and current; --resume would run nothing" in checked.stdout
    status = json.loads(run("status", ".", "--json", cwd=folder).stdout)
    assert status["state"] == "finished"
    assert status["counts"].get("success") == 2
    resumed = run(".", "--batch", "--resume", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout

    from aw_tui.target import resolve_target

    for expand in (True, False):  # the TUI opens with expand=False
        target = resolve_target(str(folder), expand=expand)
        assert (target.kind, target.path) == ("project", str(project))


def test_a_folder_holding_one_run_directory_is_that_run(tmp_path):
    project = write_project(tmp_path, succeed_steps(2))
    assert run(str(project), "--batch").returncode == 0
    status = json.loads(run("status", str(tmp_path / "work"), "--json").stdout)
    assert status["log_dir"] == str(tmp_path / "work" / "log")
    assert status["state"] == "finished"


def test_a_folder_that_names_nothing_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    for command in (["check"], ["status"], []):
        proc = run(*command, str(tmp_path / "empty"), *(["--batch"] if not command else []))
        assert proc.returncode == 2
        assert "no project.toml" in proc.stderr and "Traceback" not in proc.stderr


# -- item 10: check and status say what --resume would do with a bad checkpoint -----------------
def _damage(checkpoint: Path, how: str) -> str:
    if how == "truncated":
        data = checkpoint.read_bytes()
        checkpoint.write_bytes(data[: len(data) // 2])
        return "cannot be loaded"
    checkpoint.chmod(checkpoint.stat().st_mode | stat.S_IWGRP)
    return "group or others can write"


@pytest.mark.parametrize("how", ["truncated", "group-writable"])
def test_check_and_status_report_a_checkpoint_resume_would_refuse(tmp_path, how):
    project = write_project(tmp_path, step("aw_tui.testing_funcs:succeed", ["a"])
                            + step("aw_tui.testing_funcs:fail", ["b"]))
    assert run(str(project), "--batch").returncode == 1
    reason = _damage(tmp_path / "work" / "log" / "pipeline.p", how)
    resumed = run(str(project), "--batch", "--resume")
    assert resumed.returncode == 2 and reason in resumed.stderr
    checked = run("check", str(project))
    assert checked.returncode == 2
    assert "--resume would refuse it" in checked.stdout and reason in checked.stdout
    assert "no checkpoint yet" not in checked.stdout
    status = run("status", str(project))
    assert status.returncode == 0
    assert "--resume would refuse it" in status.stdout and reason in status.stdout
    as_json = json.loads(run("status", str(project), "--json").stdout)
    assert reason in as_json["resume"]["refused"]
    if how == "truncated":
        # The recovery the refusal offers: rebuild from the project file and the journal.
        assert "--rebuild-checkpoint" in resumed.stderr
        rebuilt = run("check", str(project), "--rebuild-checkpoint")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert "rebuilt" in rebuilt.stderr and "--resume would run 1 of 2 step(s)" in rebuilt.stdout
        assert list((tmp_path / "work" / "log").glob("pipeline.p.damaged-*"))
        again = run(str(project), "--batch", "--resume")
        assert again.returncode == 1 and "FAILED" in again.stderr  # step b fails again
        assert "[1/2]" not in again.stdout  # step a, finished before, did not run again


# -- item 5: a copied or moved project never writes into the original ----------------------------
def _failed_run(folder: Path) -> Path:
    project = write_project(
        folder,
        step("aw_tui.testing_funcs:touch", ["a"], path="{paths.temp}/a.txt")
        + step("aw_tui.testing_funcs:fail", ["b"])
        + step("aw_tui.testing_funcs:touch", ["c"], path="{paths.temp}/c.txt"),
    )
    assert run(str(project), "--batch").returncode == 1
    return project


@pytest.mark.parametrize("how", ["copy", "move"])
def test_resuming_a_copied_or_moved_project_refuses_and_leaves_the_original_alone(tmp_path, how):
    orig = _failed_run(tmp_path / "orig").parent
    before = tree(orig)
    other = tmp_path / "other"
    if how == "copy":
        shutil.copytree(orig, other, symlinks=True, copy_function=shutil.copy2)
    else:
        shutil.move(orig, other)
    procs = [run(*argv) for argv in ([str(other / "project.toml"), "--batch", "--resume"],
                                     [str(other / "work" / "log"), "--batch"],
                                     ["check", str(other / "project.toml")])]
    if how == "copy":
        assert tree(orig) == before  # not one byte written into the original
    else:
        assert not orig.exists()  # not re-created
    for proc in procs:
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "copied or moved" in proc.stdout + proc.stderr
    # Starting afresh in the new place works, and writes only there.
    fresh = run(str(other / "project.toml"), "--batch")
    assert fresh.returncode == 1 and "broken" not in fresh.stderr
    assert (other / "work" / "temp" / "a.txt").exists()
    if how == "copy":
        assert tree(orig) == before


# -- item 6: check and status name a damaged journal line ------------------------------------------
def test_check_and_status_name_a_damaged_journal_line(tmp_path):
    project = write_project(tmp_path, step("aw_tui.testing_funcs:succeed", ["a"])
                            + step("aw_tui.testing_funcs:succeed", ["b"])
                            + step("aw_tui.testing_funcs:fail", ["c"]))
    assert run(str(project), "--batch").returncode == 1
    journal = tmp_path / "work" / "log" / "events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines)
                  if b'"step_finished"' in line and b'"step_id": 1' in line)
    lines[number] = b"garbage\n"
    journal.write_bytes(b"".join(lines))
    checked = run("check", str(project))
    assert f"journal line {number + 1}: damaged" in checked.stdout, checked.stdout
    assert "--resume runs them again" in checked.stdout
    status = json.loads(run("status", str(project), "--json").stdout)
    assert status["journal_problems"][0]["line"] == number + 1
    table = run("status", str(project)).stdout
    assert f"journal line {number + 1}: damaged" in table
