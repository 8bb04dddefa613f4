"""The aw-tui command: --batch, check, status, doctor, demo; exit codes and signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aw_tui import load_pipeline
from aw_tui.rundir.journal import read_events

AW = [sys.executable, "-m", "aw_tui"]


def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*AW, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def write_project(folder: Path, steps: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text(
        "[pipeline]\nname = \"t\"\ncreate_paths = true\n"
        "[paths]\ntemp = \"work/temp\"\nlog = \"work/log\"\n" + extra + steps
    )
    return project


def step(func: str, tags: list[str], **kwargs: object) -> str:
    text = f'[[steps]]\nfunc = "{func}"\ntags = {json.dumps(tags)}\n'
    if kwargs:
        text += "[steps.kwargs]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in kwargs.items())
    return text


def events_of(project: Path) -> list[dict]:
    return read_events(str(project.parent / "work" / "log"))


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


# -- batch: success, lines, exit codes -------------------------------------------------
def test_batch_runs_project_and_prints_one_line_per_start_and_end(tmp_path):
    steps = "".join(step("aw_tui.testing_funcs:succeed", [f"s{i}", "demo"], n=i)
                    for i in range(3))
    project = write_project(tmp_path, steps)
    proc = run(str(project), "--batch")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "[1/3] s0 demo started" in lines
    assert any(line.startswith("[3/3] s2 demo ok ") and "n=2" in line for line in lines)
    assert lines[-1].startswith("aw-tui: done, 3 steps")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert [e["event"] for e in events_of(project)].count("step_finished") == 3


def test_batch_failed_step_exits_1_and_resume_finishes_without_rerunning(tmp_path):
    side = tmp_path / "side.txt"
    steps = (
        step("aw_tui.testing_funcs:touch", ["a"], path=str(side))
        + step("aw_tui.testing_funcs:fail", ["b"], message="broken input")
        + step("aw_tui.testing_funcs:touch", ["c"], path=str(side))
    )
    project = write_project(tmp_path, steps)
    proc = run(str(project), "--batch")
    assert proc.returncode == 1
    assert "broken input" in proc.stderr
    assert "--resume" in proc.stderr
    assert len(side.read_text().splitlines()) == 1
    pipeline = load_pipeline(str(tmp_path / "work" / "log"))
    assert pipeline.run_step_idx == 1
    # Fix the step in the project file (the one definition of its steps), then resume.
    text = project.read_text()
    assert 'aw_tui.testing_funcs:fail' in text
    project.write_text(text.replace('"aw_tui.testing_funcs:fail"',
                                    '"aw_tui.testing_funcs:succeed"'))
    proc = run(str(project), "--batch", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert len(side.read_text().splitlines()) == 2  # step a was not run again


def test_batch_tags_and_ignore_tags(tmp_path):
    steps = "".join(step("aw_tui.testing_funcs:succeed", [f"s{i}", "odd" if i % 2 else "even"])
                    for i in range(4))
    project = write_project(tmp_path, steps)
    proc = run(str(project), "--batch", "--tags", "odd", "--ignore-tags", "s3")
    assert proc.returncode == 0, proc.stderr
    finished = [e["step_id"] for e in events_of(project) if e["event"] == "step_finished"]
    assert finished == [1]


def test_missing_tool_is_exit_2_with_install_hint(tmp_path):
    steps = step("sextractor", ["a"], files="img.fits")
    project = write_project(tmp_path, steps, extra='[build_paths]\nSExtractor = "/nonexistent/sex"\n')
    (tmp_path / "img.fits").write_bytes(b"")
    proc = run(str(project), "--batch")
    assert proc.returncode == 2
    assert "apt-get install source-extractor" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_second_runner_on_same_run_directory_is_refused(tmp_path):
    steps = step("aw_tui.testing_funcs:sleep", ["a"], seconds=5)
    project = write_project(tmp_path, steps)
    first = subprocess.Popen([*AW, str(project), "--batch"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(e["event"] == "step_started" for e in events_of(project)))
        proc = run(str(project), "--batch")
        assert proc.returncode == 2
        assert f"pid {first.pid}" in proc.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)


# -- validation errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[paths\nlog = 1\n", ":1:"),
        ('[[steps]]\nfunc = "nosuchfunc"\n', "steps[0].func"),
        ('[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\ntagz = ["a"]\n', "tags"),
        ('[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n[steps.kwargs]\nx = "{vars.nope}"\n',
         "steps[0].kwargs.x"),
        ('[[steps]]\nfunc = "sextractor"\nforeach = "missing"\n', "steps[0].foreach"),
        ('[inputs.imgs]\nglob = "nothing/*.fits"\n[[steps]]\nfunc = "sextractor"\n'
         'foreach = "imgs"\n[steps.kwargs]\nfiles = "{item.image}"\n', "inputs.imgs"),
    ],
)
def test_invalid_project_is_exit_2_with_key_path_and_no_traceback(tmp_path, text, expected):
    project = tmp_path / "bad.toml"
    project.write_text(text)
    for command in (["check", str(project)], [str(project), "--batch"]):
        proc = run(*command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert expected in proc.stderr
        assert str(project.name) in proc.stderr
        assert "Traceback" not in proc.stderr


def test_unknown_target_and_bad_flags_are_exit_2(tmp_path):
    assert run(str(tmp_path / "nope.toml"), "--batch").returncode == 2
    proc = run(str(tmp_path), "--batch", "--start-idx", "x")
    assert proc.returncode == 2


# -- check and status --------------------------------------------------------------------
def test_check_lists_steps_and_what_resume_would_run(tmp_path):
    steps = (step("aw_tui.testing_funcs:succeed", ["first"])
             + step("aw_tui.testing_funcs:fail", ["second"])
             + step("aw_tui.testing_funcs:succeed", ["third"]))
    project = write_project(tmp_path, steps)
    proc = run("check", str(project))
    assert proc.returncode == 0
    assert "valid, 3 steps" in proc.stdout
    assert "second" in proc.stdout
    assert "no checkpoint yet" in proc.stdout
    assert run(str(project), "--batch").returncode == 1
    proc = run("check", str(project))
    assert "--resume would run 2 of 3 step(s), in this order" in proc.stdout
    assert re.search(r"(?m)^1\s+steps\[1\]\s+failed$", proc.stdout)
    assert re.search(r"(?m)^2\s+steps\[2\]\s+pending$", proc.stdout)


def test_status_during_and_after_a_run(tmp_path):
    # The second step runs until the test has looked (at most 2 minutes), however long the
    # two status calls take on a loaded machine.
    release = tmp_path / "release"
    wait = 'i=0; while [ ! -e "$1" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done'
    steps = (step("aw_tui.testing_funcs:succeed", ["quick"])
             + step("aw_tui.testing_funcs:run_argv", ["slow"],
                    argv=["sh", "-c", wait, "sh", str(release)]))
    project = write_project(tmp_path, steps)
    runner = subprocess.Popen([*AW, str(project), "--batch"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(e["event"] == "step_started" and e["step_id"] == 1
                             for e in events_of(project)))
        proc = run("status", str(project), "--json")
        status = json.loads(proc.stdout)
        assert status["state"] == "running" and status["live"]
        assert status["pid"] == runner.pid
        assert [s["status"] for s in status["steps"]] == ["success", "running"]
        text = run("status", str(project)).stdout
        assert f"running on {os.uname().nodename} pid {runner.pid}" in text
    finally:
        release.touch()
        assert runner.wait(timeout=60) == 0
    status = json.loads(run("status", str(project), "--json").stdout)
    assert status["state"] == "finished" and not status["live"]
    assert [s["status"] for s in status["steps"]] == ["success", "success"]


def test_status_reports_a_runner_killed_with_sigkill(tmp_path):
    project = write_project(tmp_path, step("aw_tui.testing_funcs:sleep", ["slow"], seconds=30))
    runner = subprocess.Popen([*AW, str(project), "--batch"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    wait_for(lambda: any(e["event"] == "step_started" for e in events_of(project)))
    runner.kill()
    runner.wait()
    status = json.loads(run("status", str(project), "--json").stdout)
    assert status["state"] == "dead"
    assert "resume" in run("status", str(project)).stdout


# -- signals -----------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_tool_leaves_a_resumable_run(tmp_path, sig):
    side = tmp_path / "side.txt"
    steps = (step("aw_tui.testing_funcs:touch", ["a"], path=str(side))
             + step("aw_tui.testing_funcs:print_lines", ["tool"], lines=80, delay=0.05)
             + step("aw_tui.testing_funcs:touch", ["c"], path=str(side)))
    project = write_project(tmp_path, steps)
    runner = subprocess.Popen([*AW, str(project), "--batch"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    out_file = tmp_path / "work" / "log" / "steps" / "1.out"
    wait_for(lambda: out_file.exists() and out_file.stat().st_size > 50)
    runner.send_signal(sig)
    _, err = runner.communicate(timeout=30)
    assert runner.returncode == 130
    assert "interrupted" in err and "--resume" in err
    kinds = [e["event"] for e in events_of(project)]
    assert "step_interrupted" in kinds and kinds[-1] == "run_interrupted"
    pipeline = load_pipeline(str(tmp_path / "work" / "log"))
    assert pipeline.run_step_idx == 1
    # The tool's whole process group is gone: the output file stops growing.
    size = out_file.stat().st_size
    time.sleep(0.3)
    assert out_file.stat().st_size == size
    proc = run(str(project), "--batch", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert len(side.read_text().splitlines()) == 2


def test_doctor_lists_the_tools():
    proc = run("doctor")
    for code in ("SExtractor", "SCAMP", "SWarp", "PSFEx"):
        assert code in proc.stdout
    assert proc.returncode in (0, 2)


def test_python_dash_m_and_console_script_agree():
    proc = run("--help")
    assert proc.returncode == 0
    assert "exit codes" in proc.stdout and "130" in proc.stdout
