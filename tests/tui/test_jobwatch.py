"""The TUI's view of a run's Slurm job without Slurm: polled at most once per interval per
run whoever asks, never on the caller's thread, and stopped through the runner first."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aw_tui.launchers.slurm import JobStatus, SlurmJob
from aw_tui.rundir.layout import RunLayout
from aw_tui.tui import jobwatch
from aw_tui.tui.jobwatch import JobView, JobWatch, stop_run


def _job(job_id: str = "42") -> SlurmJob:
    return SlurmJob(kind="slurm", job_id=job_id, submitted=time.time(), script="s", argv=[],
                    options={})


class FakeSlurm:
    """``job_status`` and ``read_launcher`` of one job whose state a test sets."""

    def __init__(self, state: str = "PENDING", reason: str | None = "JobHeldUser") -> None:
        self.state, self.reason = state, reason
        self.asked: list[float] = []
        self.delay = 0.0
        self.job: SlurmJob | None = _job()

    def status(self, job_id: str, max_age: float = 0.0) -> JobStatus:
        self.asked.append(max_age)
        time.sleep(self.delay)
        return JobStatus(job_id, self.state, self.reason, node="n1" if self.state == "RUNNING"
                         else None, time_left=600.0 if self.state == "RUNNING" else None,
                         checked=time.time())

    def launcher(self, log_dir: str) -> SlurmJob | None:
        return self.job


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached"
        time.sleep(0.01)


def test_views_share_one_poll_per_interval_and_never_wait_for_slurm(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    slurm.delay = 0.3  # a slow scontrol: view() must not wait for it
    watch = JobWatch(interval=10.0, status=slurm.status, launcher=slurm.launcher)
    start = time.monotonic()
    assert watch.view(str(tmp_path)) is None  # nothing known yet; a poll is queued
    assert time.monotonic() - start < 0.1
    _wait(lambda: watch.polls == 1)
    # two views (a header, a dashboard row), 1,000 asks within the interval: no new poll
    for _ in range(500):
        for view in (watch.view(str(tmp_path)), watch.view(str(tmp_path) + "/")):
            assert view is not None and view.state == "PENDING"
    time.sleep(0.1)
    assert watch.polls == 1 and len(slurm.asked) == 1
    assert slurm.asked == [10.0]  # and Slurm's own cache is asked with the same age
    watch.forget(str(tmp_path))  # after this process cancelled or submitted: poll again
    slurm.state, slurm.reason = "CANCELLED", None
    watch.view(str(tmp_path))
    _wait(lambda: watch.polls == 2)
    view = watch.view(str(tmp_path))
    assert view is not None and view.state == "CANCELLED" and not view.active


def test_polls_again_once_the_interval_has_passed(tmp_path: Path) -> None:
    slurm = FakeSlurm("RUNNING", None)
    watch = JobWatch(interval=0.2, status=slurm.status, launcher=slurm.launcher)
    deadline = time.monotonic() + 1.1
    while time.monotonic() < deadline:
        watch.view(str(tmp_path))
        time.sleep(0.01)
    _wait(lambda: not watch._queued)
    assert 4 <= watch.polls <= 6, watch.polls  # ~1.1 s / 0.2 s


def test_a_run_without_a_slurm_job_shows_none(tmp_path: Path) -> None:
    slurm = FakeSlurm()
    slurm.job = None
    watch = JobWatch(interval=10.0, status=slurm.status, launcher=slurm.launcher)
    assert watch.poll(str(tmp_path)) is None
    assert watch.view(str(tmp_path)) is None and slurm.asked == []


def test_the_header_phrases() -> None:
    job = _job("7")
    now = time.time()
    pending = JobView.of(job, JobStatus("7", "PENDING", "Resources", checked=now))
    assert pending.text() == "job 7 PENDING (Resources)" and pending.pending and pending.active
    running = JobView.of(job, JobStatus("7", "RUNNING", None, "node3", 581.0, checked=now - 20))
    assert running.text(now) == "job 7 RUNNING on node3, 9:21 left"
    assert JobView.of(job, JobStatus("7", "TIMEOUT", exit_code="0:15")).text() == (
        "job 7 TIMEOUT (exit 0:15)")
    assert JobView.of(job, JobStatus("7", "COMPLETED", exit_code="0:0")).text() == (
        "job 7 COMPLETED")
    assert JobView.of(job, None).text() == "job 7 submitted"
    for state in ("FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY"):
        view = JobView.of(job, JobStatus("7", state))
        assert not view.active and view.style == "red"


@pytest.fixture
def cancels(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(jobwatch, "cancel_job",
                        lambda job_id, signal="TERM": calls.append((job_id, signal)))
    return calls


def _requests(log: Path) -> list[str]:
    folder = RunLayout(str(log)).control
    return [n for n in os.listdir(folder) if n.endswith(".json")] if os.path.isdir(folder) else []


def test_x_on_a_pending_job_cancels_it_without_a_control_request(tmp_path: Path,
                                                                 cancels: list) -> None:
    slurm = FakeSlurm("PENDING", "JobHeldUser")
    watch = JobWatch(status=slurm.status, launcher=slurm.launcher)
    outcome = stop_run(str(tmp_path), "now", watch=watch)
    assert outcome.how == "cancelled" and "had not started (JobHeldUser)" in outcome.message
    assert cancels == [("42", "TERM")] and _requests(tmp_path) == []
    assert slurm.asked == [0]  # asked afresh, not from the cache


def test_x_on_a_running_job_whose_runner_answers_goes_through_control(tmp_path: Path,
                                                                       cancels: list) -> None:
    slurm = FakeSlurm("RUNNING", None)
    watch = JobWatch(status=slurm.status, launcher=slurm.launcher)
    stop = threading.Event()

    def runner() -> None:  # takes each request as the runner's ControlWatcher does
        while not stop.is_set():
            for name in _requests(tmp_path):
                os.remove(os.path.join(RunLayout(str(tmp_path)).control, name))
            time.sleep(0.05)

    thread = threading.Thread(target=runner)
    thread.start()
    try:
        outcome = stop_run(str(tmp_path), "after_step", patience=5, watch=watch)
    finally:
        stop.set()
        thread.join()
    assert outcome.how == "answered" and "after the current step" in outcome.message
    assert cancels == []


def test_x_on_a_running_job_that_does_not_answer_falls_back_to_scancel_term(
        tmp_path: Path, cancels: list) -> None:
    slurm = FakeSlurm("RUNNING", None)
    watch = JobWatch(status=slurm.status, launcher=slurm.launcher)
    start = time.monotonic()
    outcome = stop_run(str(tmp_path), "now", patience=0.5, watch=watch)
    assert 0.5 <= time.monotonic() - start < 3
    assert outcome.how == "signalled" and "scancel --signal=TERM" in outcome.message
    assert cancels == [("42", "TERM")]
    assert _requests(tmp_path) == []  # withdrawn: the next runner must not obey it


def test_x_without_an_active_job_leaves_a_request_for_the_local_runner(
        tmp_path: Path, cancels: list) -> None:
    slurm = FakeSlurm("COMPLETED", None)  # an old job; the live runner is local
    watch = JobWatch(status=slurm.status, launcher=slurm.launcher)
    assert stop_run(str(tmp_path), "now", watch=watch).how == "requested"
    assert len(_requests(tmp_path)) == 1 and cancels == []


def test_a_job_slurm_has_forgotten_has_ended() -> None:
    view = JobView.of(_job("9"), JobStatus("9", "UNKNOWN", "Slurm no longer knows this job"))
    assert view.text() == "job 9 ended (Slurm no longer knows it)" and not view.active
