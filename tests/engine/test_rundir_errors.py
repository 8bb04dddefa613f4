"""A run directory that is full or read-only stops the run cleanly (issue 11, item 12).

A clear message naming the folder and what is wrong, exit code 2, no traceback, and the run
left resumable: the step that was being recorded runs again, no finished step runs twice,
and the journal names the right index on resume.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from aw_tui import testing_funcs as tf
from aw_tui.base.errors import EXIT_BAD_INPUT
from aw_tui.engine.errors import RunDirectoryError
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import RunStore

ROOT = os.geteuid() == 0


def counts(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def fill_disk(path: str) -> dict:
    """A step that fills the file system its ``path`` is on, then succeeds."""
    with open(path, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"x" * 4096)
    return {"status": "success", "summary": {"note": "y" * 300}}


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "256k"):
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _counted_pipeline(log: Path, marks: Path, n: int = 4) -> Pipeline:
    pipeline = Pipeline({"log": str(log), "temp": str(log.parent / "temp")}, create_paths=True)
    for i in range(n):
        pipeline.add_step(tf.touch, path=str(marks / f"{i}.txt"))
    return pipeline


def test_a_journal_write_that_fails_mid_run_leaves_the_right_index(tmp_path, monkeypatch):
    # Injected: the disk fills just as step 1's step_finished line is written.
    marks = tmp_path / "marks"
    marks.mkdir()
    pipeline = _counted_pipeline(tmp_path / "log", marks)
    real = RunStore.append_event

    def append_event(self, event, **fields):
        if event == "step_finished" and fields.get("step_id") == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.journal_path)
        return real(self, event, **fields)

    monkeypatch.setattr(RunStore, "append_event", append_event)
    with pytest.raises(RunDirectoryError) as info:
        pipeline.run()
    assert info.value.exit_code == EXIT_BAD_INPUT == 2
    message = str(info.value)
    assert str(tmp_path / "log") in message and "is full" in message
    assert "resume" in info.value.hint
    # In memory, as on disk: step 1 is not finished.
    assert pipeline.run_step_idx == 1 and 1 not in pipeline.completed_step_ids
    monkeypatch.setattr(RunStore, "append_event", real)
    reloaded = load_pipeline(str(tmp_path / "log"))
    assert reloaded.run_step_idx == 1
    reloaded.run(resume=True)
    resumed = [e for e in read_events(str(tmp_path / "log")) if e["event"] == "run_started"][-1]
    assert resumed["start_idx"] == 1
    assert [counts(marks / f"{i}.txt") for i in range(4)] == [1, 2, 1, 1]


@pytest.mark.skipif(not ROOT, reason="mounting a small tmpfs needs root")
def test_a_full_disk_stops_the_run_with_exit_2_and_resume_finishes_it(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    with small_tmpfs(tmp_path / "disk") as disk:
        log = disk / "log"
        pipeline = Pipeline({"log": str(log), "temp": str(tmp_path / "temp")},
                            create_paths=True)
        pipeline.add_step(tf.touch, path=str(marks / "0.txt"))
        pipeline.add_step(fill_disk, path=str(disk / "filler"))
        for i in range(2, 5):
            pipeline.add_step(tf.touch, path=str(marks / f"{i}.txt"))
        with pytest.raises(RunDirectoryError) as info:
            pipeline.run()
        assert info.value.exit_code == 2
        assert f"the file system of the run directory {log} is full" in str(info.value)
        os.unlink(disk / "filler")
        reloaded = load_pipeline(str(log))
        events = read_events(str(log))
        finished = {e["step_id"] for e in events
                    if e["event"] == "step_finished" and e.get("completed")}
        # The checkpoint and the journal agree: the first step not finished comes next.
        assert reloaded.run_step_idx == min(set(range(5)) - finished)
        # The write that failed is the first after the disk filled: step 1's line, or (when
        # it fit in the journal's last page) a later step's: that step ran but was not
        # recorded, so it runs again; no finished step does.
        ran = {e["step_id"] for e in events if e["event"] == "step_started"}
        recorded = reloaded.run_step_idx
        reloaded.steps[1].func_kwargs = {"path": str(tmp_path / "no-filler")}
        reloaded.steps[1].func = tf.touch
        reloaded.run(resume=True)
        assert [s.results["status"] for s in reloaded.steps] == ["success"] * 5
    assert [counts(marks / f"{i}.txt") for i in (0, 2, 3, 4)] == [
        2 if i == recorded and i in ran else 1 for i in (0, 2, 3, 4)]


def _project(folder: Path, log: str) -> Path:
    project = folder / "project.toml"
    project.write_text(
        f'[paths]\nlog = "{log}"\ntemp = "temp"\n[pipeline]\ncreate_paths = true\n'
        '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n'
        '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n'
    )
    return project


def _batch(project: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch", *extra],
                          capture_output=True, text=True, timeout=120, cwd=project.parent)


def test_a_read_only_run_directory_is_exit_2_with_a_clear_message(tmp_path):
    log = tmp_path / "log"
    project = _project(tmp_path, str(log))
    assert _batch(project).returncode == 0
    if ROOT:  # root writes through permissions: use a read-only bind mount
        proc = subprocess.run(["mount", "--bind", "-o", "ro", str(log), str(log)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot bind-mount read-only: {proc.stderr.strip()}")
        undo = ["umount", str(log)]
    else:
        log.chmod(0o555)
        (log / "steps").chmod(0o555)
        undo = ["chmod", "-R", "u+w", str(log)]
    try:
        proc = _batch(project, "--resume")
    finally:
        subprocess.run(undo, capture_output=True)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(log) in proc.stderr
    assert ("read-only file system" in proc.stderr if ROOT else "not writable" in proc.stderr)
    # Nothing was lost: once writable, the run resumes.
    again = _batch(project, "--resume")
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_message_says_what_is_wrong_for_each_kind_of_failure():
    from aw_tui.engine.errors import run_directory_error

    folder = f"/runs/{uuid.uuid4().hex}"
    cases = {
        errno.ENOSPC: "is full",
        errno.EDQUOT: "is full",
        errno.EROFS: "read-only file system",
        errno.EACCES: "not writable by you",
    }
    for code, words in cases.items():
        error = run_directory_error(OSError(code, os.strerror(code), f"{folder}/x"), folder)
        assert words in str(error) and folder in str(error) and error.exit_code == 2
