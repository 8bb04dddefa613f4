"""Running a tool: the step ends when the tool ends, and a step may have a timeout (issue 11.15)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import dill
import pytest

from aw_tui import testing_funcs as tf
from aw_tui.base.process import DRAIN_SECONDS, CommandTimeout, run_command
from aw_tui.base.toolguard import tool_guard
from aw_tui.engine.executors import LocalExecutor
from aw_tui.engine.steps import PipelineStep
from aw_tui.pipeline import Pipeline, PipelineError, load_pipeline
from aw_tui.rundir.journal import read_events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent, the shell, is gone: init reaps it soon).
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, seconds: float = 3.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


def test_a_background_child_holding_stdout_does_not_keep_the_tool_running():
    # The tool prints, leaves a child that keeps its stdout open for 60 s, and exits.
    argv = ["sh", "-c", "sleep 60 & echo child=$!; echo done"]
    start = time.monotonic()
    result = run_command(argv)
    elapsed = time.monotonic() - start
    assert elapsed < 1.0 + DRAIN_SECONDS, f"waited {elapsed:.1f} s for a background child"
    assert result.returncode == 0
    assert "done" in result.text
    child = int(result.text.split("child=")[1].split()[0])
    assert _wait_dead(child), "the background child of the tool was left running"


def test_output_of_a_tool_that_exits_normally_is_complete(tmp_path: Path):
    out = tmp_path / "out.txt"
    code = "import sys\nfor i in range(20000): sys.stdout.write(f'line {i}\\n')\n"
    result = run_command([sys.executable, "-c", code], output_path=str(out))
    assert result.returncode == 0
    assert out.read_text().splitlines()[-1] == "line 19999"
    assert result.nbytes == out.stat().st_size


def test_a_tool_that_writes_line_by_line_is_copied_in_few_reads(tmp_path: Path):
    """A chatty tool (a write per progress line, as SExtractor's ``ESC[1M> Line:``) is
    copied in pieces of many writes, each byte once and in order: its runner no longer
    wakes, reads and writes once per line (35,000 reads for the 20 MB of the streaming
    benchmark, the runner ~85 % busy; ~60 now)."""
    out = tmp_path / "out.txt"
    code = ("import os\nfor i in range(100000):\n"
            "    os.write(2, b'\\x1b[1M> Line: %5d\\n\\x1b[1A' % i)\n")
    reads = []
    result = run_command([sys.executable, "-c", code], output_path=str(out),
                         listeners=[reads.append])
    assert result.returncode == 0
    expected = b"".join(b"\x1b[1M> Line: %5d\n\x1b[1A" % i for i in range(100000))
    assert out.read_bytes() == expected == b"".join(reads)
    # Measured: ~50 reads (14,600 read by read before); 1,000 leaves room for a slow machine.
    assert len(reads) < 1000, f"{len(reads)} reads for 100,000 writes"


def test_output_that_comes_slowly_is_copied_as_it_comes(tmp_path: Path):
    """Gathering never holds a line back: the tool writes its next line only once the
    listener has seen the last one (it waits for a file the listener writes), so a line
    kept until more output came would stop the tool (and fail here)."""
    out = tmp_path / "out.txt"
    code = ("import os, sys, time\nfor i in range(5):\n"
            "    print(i, flush=True)\n"
            "    end = time.monotonic() + 20\n"
            f"    while not os.path.exists(os.path.join({str(tmp_path)!r}, f'seen-{{i}}')):\n"
            "        if time.monotonic() > end: sys.exit(3)\n"
            "        time.sleep(0.01)\n")

    def seen(chunk: bytes) -> None:
        for line in chunk.split():
            (tmp_path / f"seen-{int(line)}").touch()

    result = run_command([sys.executable, "-c", code], output_path=str(out), listeners=[seen])
    assert result.returncode == 0, "a line was held back until more output came"
    assert out.read_bytes() == b"0\n1\n2\n3\n4\n"


def test_a_command_timeout_stops_the_whole_process_group():
    argv = ["sh", "-c", "sleep 60 & echo child=$!; sleep 60"]
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run_command(argv, timeout=0.5)
    assert time.monotonic() - start < 4.5
    assert "0.5 s" in str(info.value)
    child = int(info.value.output.decode().split("child=")[1].split()[0])
    assert _wait_dead(child)


def test_run_command_rejects_a_timeout_that_is_not_positive():
    with pytest.raises(ValueError, match="timeout"):
        run_command(["true"], timeout=0)


def _pipeline(tmp_path: Path) -> Pipeline:
    return Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                    create_paths=True)


def test_a_step_whose_tool_leaves_a_child_is_timed_by_the_tool(tmp_path: Path):
    pipeline = _pipeline(tmp_path)
    pipeline.add_step(tf.run_argv, argv=["sh", "-c", "sleep 60 & echo started"])
    start = time.monotonic()
    pipeline.run()
    assert time.monotonic() - start < 5
    finished = [e for e in read_events(str(tmp_path / "log")) if e["event"] == "step_finished"]
    assert finished[0]["status"] == "success"
    assert finished[0]["duration"] < 1.0 + DRAIN_SECONDS
    assert "started" in (tmp_path / "log" / "steps" / "0.out").read_text()


def test_a_step_timeout_stops_the_tool_and_records_an_error(tmp_path: Path):
    pipeline = _pipeline(tmp_path)
    step = pipeline.add_step(tf.run_argv, timeout=0.5, argv=["sleep", "60"])
    pipeline.add_step(tf.succeed)
    assert step.timeout == 0.5
    start = time.monotonic()
    with pytest.raises(PipelineError, match=r"timeout of 0\.5 s"):
        pipeline.run()
    assert time.monotonic() - start < 5
    assert step.results["status"] == "error"
    assert "timeout" in step.results["error_msg"]
    events = read_events(str(tmp_path / "log"))
    finished = [e for e in events if e["event"] == "step_finished"]
    assert finished[0]["status"] == "error"
    assert "timeout of 0.5 s" in finished[0]["error_msg"]
    # Resumable: the run stopped on the step, which runs again (now with time enough).
    reloaded = load_pipeline(str(tmp_path / "log"))
    assert reloaded.run_step_idx == 0
    assert reloaded.steps[0].timeout == 0.5
    reloaded.steps[0].timeout = 30
    reloaded.steps[0].func_kwargs = {"argv": ["true"]}
    reloaded.run(resume=True)
    assert [s.results["status"] for s in reloaded.steps] == ["success", "success"]


def test_a_python_step_that_returns_past_its_timeout_is_an_error(tmp_path: Path):
    pipeline = _pipeline(tmp_path)
    pipeline.add_step(tf.sleep, timeout=0.2, ignore_errors=True, seconds=0.4)
    with pytest.warns(UserWarning, match=r"timeout of 0\.2 s"):
        pipeline.run()
    assert pipeline.steps[0].results["status"] == "error"


@pytest.mark.parametrize("bad", [0, -1, "10", True, float("inf")])
def test_add_step_rejects_a_bad_timeout(tmp_path: Path, bad):
    with pytest.raises(ValueError, match="timeout"):
        _pipeline(tmp_path).add_step(tf.succeed, timeout=bad)


def test_timeout_is_pickled_and_old_steps_load_without_one():
    step = PipelineStep(tf.succeed, 3, timeout=12)
    assert dill.loads(dill.dumps(step)).timeout == 12.0
    old = PipelineStep(tf.succeed, 4)
    del old.timeout  # a step pickled before steps had a timeout (its state has none)
    assert "timeout" not in old.__getstate__()
    assert pickle.loads(pickle.dumps(old)).timeout is None


def test_a_timeout_holds_for_steps_run_in_threads(tmp_path: Path):
    pipeline = _pipeline(tmp_path)
    for _ in range(2):
        pipeline.add_step(tf.run_argv, independent=True, group="g", timeout=0.5,
                          argv=["sleep", "60"])
    executor = LocalExecutor(2)
    start = time.monotonic()
    try:
        with pytest.raises(PipelineError, match="timeout"):
            pipeline.run(executor=executor)
    finally:
        executor.close()
    assert time.monotonic() - start < 6
    assert [s.results["status"] for s in pipeline.steps] == ["error", "error"]


# -- a tool dies with its runner, without an extra exec per tool (issue 16) ------------------
_RUNNER = """
import sys
from aw_tui.base.process import dies_with_runner, run_command
print(dies_with_runner(), flush=True)
run_command(["sh", "-c", "sleep 60 & echo child=$! tool=$$; sleep 60"], output_path=sys.argv[1])
"""


def test_a_tool_and_its_children_die_with_a_runner_killed_by_sigkill(tmp_path: Path):
    out = tmp_path / "tool.out"
    runner = subprocess.Popen([sys.executable, "-c", _RUNNER, str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout.readline().strip() == "watchdog"
        deadline = time.monotonic() + 30
        while "tool=" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline, "the tool never started"
            time.sleep(0.02)
        text = out.read_text()
        child = int(text.split("child=")[1].split()[0])
        tool = int(text.split("tool=")[1].split()[0])
        # No wrapper exec'd in between: the tool is the runner's own child, a plain sh.
        with open(f"/proc/{tool}/cmdline", "rb") as handle:
            assert handle.read().split(b"\0")[0] == b"sh"
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    assert _wait_dead(tool, 5), "the tool outlived its runner"
    assert _wait_dead(child, 5), "a child of the tool outlived the runner"


def test_a_forked_child_starts_its_own_watchdog():
    run_command(["true"])
    parent_watchdog = tool_guard.pid
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its watchdog, never return into pytest
        try:
            run_command(["true"])
            os.write(write_end, str(tool_guard.pid).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as handle:
        child_watchdog = int(handle.read() or 0)
    assert parent_watchdog and child_watchdog and child_watchdog != parent_watchdog


def test_a_tool_that_closes_its_output_early_still_runs_to_its_end(tmp_path: Path):
    done = tmp_path / "done"
    argv = ["sh", "-c", f"echo start; exec >&- 2>&-; sleep 0.5; echo > {done}"]
    result = run_command(argv)
    assert result.returncode == 0 and "start" in result.text
    assert done.exists(), "the tool was killed when it closed its output"
