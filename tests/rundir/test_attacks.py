"""Attacks by another member of a project's group (issue 11): run as a second Unix user.

The test creates that user (``useradd``) and runs the attacker's code as it. It needs root:
it skips with a reason otherwise, and fails under ``CI=true`` (a CI image that cannot run
these tests must not pass silently). The run directory is shared the way group projects
are: group-writable folders (``chmod 2775``) of the attacker's group.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dill
import pytest
from tooling import on_ci

from aw_tui.base.atomic import atomic_dump
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.checkpoint import CheckpointError, load_checkpoint, resume_verdict
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import make_dirs
from aw_tui.testing_funcs import succeed

#: A Python any user can run (a pyenv or venv under /root is not reachable by the attacker).
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)),
              "python3")


@pytest.fixture(scope="module")
def attacker() -> Iterator[pwd.struct_passwd]:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        reason = "the attack tests create a second Unix user (useradd): run them as root"
        if on_ci():
            pytest.fail(f"{reason} (CI=true: they must run)")
        pytest.skip(reason)
    name = f"awtatk{os.getpid() % 1000000}"
    subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def shared(attacker: pwd.struct_passwd) -> Iterator[Path]:
    """A project folder the attacker's group can write (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="awt-shared-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def share(path: Path, attacker: pwd.struct_passwd) -> None:
    """Make a folder group-writable for the attacker's group (2775), as on a cluster."""
    os.chown(path, 0, attacker.pw_gid)
    path.chmod(0o2775)


def as_attacker(attacker: pwd.struct_passwd, code: str) -> None:
    subprocess.run([PYTHON, "-c", textwrap.dedent(code)], check=True, user=attacker.pw_uid,
                   group=attacker.pw_gid, extra_groups=[], capture_output=True, timeout=30)


PLANT = """
    import os, pickle, sys
    class Planted:
        def __reduce__(self):
            return (os.mkdir, ({pwned!r},))
    target = {target!r}
    tmp = target + ".new"
    with open(tmp, "wb") as handle:
        pickle.dump(Planted(), handle)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)  # the folder is group-writable: the name is theirs to take
"""


def succeed_in_a_file(n: int) -> dict:
    """Results JSON would not give back exactly (a tuple): in ``steps/<id>.result.p``."""
    return {"status": "success", "n": (n,)}


def finished_run(shared: Path, func=succeed_in_a_file) -> Path:
    """A run of 3 steps whose checkpoint is the one of its start (as after a kill -9)."""
    log = shared / "log"
    pipe = Pipeline({"log": str(log), "temp": str(shared / "temp")}, create_paths=True)
    for i in range(3):
        pipe.add_step(func, ["t"], n=i)
    pipe.run()
    checkpoint = load_checkpoint(str(log / "pipeline.p"))
    checkpoint.journal_seq = 1  # the run_started event
    checkpoint.completed_step_ids = set()
    checkpoint.run_step_idx = 0
    for step in checkpoint.steps:
        step.results = None
    atomic_dump(str(log / "pipeline.p"), lambda h: dill.dump(checkpoint, h))
    return log


def test_a_step_result_planted_by_another_user_is_never_loaded(shared, attacker):
    log = finished_run(shared)
    share(log, attacker)
    share(log / "steps", attacker)
    pwned = shared / "pwned-result"
    as_attacker(attacker, PLANT.format(pwned=str(pwned), target=str(log / "steps/1.result.p")))
    pipe = load_pipeline(str(log))  # what check, --resume and the TUI do
    assert not pwned.exists(), "the planted pickle ran"
    assert pipe.completed_step_ids == {0, 2}
    assert pipe.run_step_idx == 1  # the step runs again on resume


def test_a_result_file_planted_beside_an_inline_result_is_never_read(shared, attacker):
    log = finished_run(shared, func=succeed)  # plain results: in the journal lines
    share(log, attacker)
    share(log / "steps", attacker)
    pwned = shared / "pwned-result"
    as_attacker(attacker, PLANT.format(pwned=str(pwned), target=str(log / "steps/1.result.p")))
    pipe = load_pipeline(str(log))
    assert not pwned.exists(), "the planted pickle ran"
    assert pipe.completed_step_ids == {0, 1, 2}
    assert pipe.steps[1].results == succeed(n=1)


def test_a_checkpoint_swapped_by_another_user_is_refused(shared, attacker):
    log = finished_run(shared)
    share(log, attacker)
    pwned = shared / "pwned-checkpoint"
    as_attacker(attacker, PLANT.format(pwned=str(pwned), target=str(log / "pipeline.p")))
    with pytest.raises(CheckpointError, match=f"owned by uid {attacker.pw_uid}"):
        load_pipeline(str(log))
    verdict = resume_verdict(str(log))
    assert verdict.state == "refused" and f"uid {attacker.pw_uid}" in (verdict.reason or "")
    assert not pwned.exists(), "the planted pickle ran"


def test_a_control_edit_by_another_user_is_rejected(shared, attacker):
    log = shared / "log"
    pipe = Pipeline({"log": str(log), "temp": str(shared / "temp")}, create_paths=True)
    pipe.add_step(succeed, ["t"], n=0)
    pipe.add_step(succeed, ["t"], n=1)
    make_dirs(str(log / "control"))
    share(log, attacker)
    share(log / "control", attacker)
    request = {"action": "edit", "step_id": 1, "func_kwargs": {"n": 666}}
    as_attacker(attacker, f"""
        import json
        with open({str(log / "control" / "1.json")!r}, "w") as handle:
            json.dump({request!r}, handle)
    """)
    pipe.run()
    assert pipe.steps[1].func_kwargs == {"n": 1}
    assert not [e for e in read_events(str(log)) if e["event"] == "edit_applied"]
    (warning,) = [e for e in read_events(str(log)) if e["event"] == "warning"]
    assert f"owned by uid {attacker.pw_uid}" in warning["message"]
    rejected = json.loads((log / "control" / "rejected" / "1.json").read_text())
    assert "not by the runner's user" in rejected["reason"]
    assert not (log / "control" / "1.json").exists()
