"""The Slurm job of each run a view shows: polled off the UI thread, shared between views,
and stopped through the runner first (without Textual, so it is testable on its own).

A view (a run's header, a row of the dashboard) calls :meth:`JobWatch.view` on the UI
thread: it answers at once with what is known, and when that is older than the interval
(:data:`aw_tui.launchers.slurm.POLL_INTERVAL`, 10 s) it queues one poll of that run for the
watch's one worker thread, which reads ``launcher.json`` and asks Slurm
(:func:`aw_tui.launchers.slurm.job_status`). However many views show a run, its job is asked
about at most once per interval, plus once right after this process submitted or cancelled
it (:meth:`JobWatch.forget`). The process shares one watch, :data:`WATCH`.

:func:`stop_run` is what ``x`` does: a job that has not started is cancelled; a running one
is asked to stop through ``control/`` (as a local runner is), and when its runner has not
taken the request within :data:`STOP_PATIENCE` seconds, the request is withdrawn and the job
gets ``scancel --signal=TERM``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aw_tui.launchers.slurm import (
    ENDED_STATES,
    POLL_INTERVAL,
    JobStatus,
    SlurmJob,
    cancel_job,
    job_status,
    read_launcher,
)
from aw_tui.rundir import control

__all__ = ["STOP_PATIENCE", "WATCH", "JobView", "JobWatch", "StopOutcome", "clock", "stop_run"]

#: Seconds a running job's runner has to take a stop request before ``scancel``.
STOP_PATIENCE = 5.0
#: What a job is called before Slurm has been asked about it.
SUBMITTED = "SUBMITTED"


def clock(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03`` (``-`` for None)."""
    if seconds is None:
        return "-"
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class JobView:
    """A run's Slurm job as last seen: ``launcher.json`` and Slurm's answer.

    ``state`` is Slurm's word (``PENDING``, ``RUNNING``, ``COMPLETED``, ``TIMEOUT``, ...),
    ``UNKNOWN`` when Slurm has forgotten the job, or ``SUBMITTED`` before the first answer.
    ``time_left`` is the walltime left when Slurm answered (``checked``, Unix time).
    """

    job_id: str
    state: str
    reason: str | None = None
    node: str | None = None
    time_left: float | None = None
    exit_code: str | None = None
    checked: float = 0.0
    submitted: float = 0.0
    previous_jobs: tuple[str, ...] = ()

    @classmethod
    def of(cls, job: SlurmJob, status: JobStatus | None) -> JobView:
        """The view of ``job`` with Slurm's ``status`` (None: not asked yet)."""
        if status is None:
            return cls(job.job_id, SUBMITTED, submitted=job.submitted,
                       previous_jobs=tuple(job.previous_jobs))
        return cls(job.job_id, status.state, status.reason, status.node, status.time_left,
                   status.exit_code, status.checked, job.submitted, tuple(job.previous_jobs))

    @property
    def active(self) -> bool:
        """Whether the job is queued or running (not ended, not forgotten by Slurm)."""
        return self.state not in ENDED_STATES and self.state != "UNKNOWN"

    @property
    def pending(self) -> bool:
        """Whether the job waits in the queue (it has not started)."""
        return self.state in ("PENDING", SUBMITTED)

    def time_left_now(self, now: float | None = None) -> float | None:
        """Walltime left now (counted down since Slurm answered), for a running job."""
        if self.time_left is None or self.state != "RUNNING":
            return None
        return max(0.0, self.time_left - ((now or time.time()) - self.checked))

    def text(self, now: float | None = None) -> str:
        """One phrase: ``job 12 PENDING (JobHeldUser)``, ``job 12 RUNNING on node3, 9:41
        left``, ``job 12 TIMEOUT``, ``job 12 submitted``."""
        if self.state == SUBMITTED:
            return f"job {self.job_id} submitted"
        words = f"job {self.job_id} {self.state}"
        if self.state == "PENDING" and self.reason:
            words += f" ({self.reason})"
        if self.state == "RUNNING" and self.node:
            words += f" on {self.node}"
        left = self.time_left_now(now)
        if left is not None:
            words += f", {clock(left)} left"
        if self.state == "UNKNOWN":
            words = f"job {self.job_id} ended (Slurm no longer knows it)"
        elif not self.active and self.exit_code not in (None, "0:0"):
            words += f" (exit {self.exit_code})"
        return words

    @property
    def style(self) -> str:
        """A colour name for the state (Rich style)."""
        if self.state == "RUNNING":
            return "green"
        if self.pending:
            return "yellow"
        if self.state == "COMPLETED":
            return ""
        return "red" if not self.active else "yellow"


class JobWatch:
    """The Slurm job of each run directory, polled at most once per ``interval`` per run.

    Parameters
    ----------
    interval : float
        Seconds between two polls of one run.
    status : callable, optional
        ``status(job_id, max_age=...)`` -> JobStatus (default: Slurm's, cached per process).
    launcher : callable, optional
        ``launcher(log_dir)`` -> SlurmJob or None (default: ``launcher.json``).
    """

    def __init__(self, interval: float = POLL_INTERVAL,
                 status: Callable[..., JobStatus] | None = None,
                 launcher: Callable[[str], SlurmJob | None] | None = None) -> None:
        self.interval = interval
        self.status = status or job_status
        self.launcher = launcher or read_launcher
        self.polls = 0
        """How many polls ran (each reads ``launcher.json`` and asks Slurm once at most)."""
        self._views: dict[str, JobView | None] = {}
        self._last: dict[str, float] = {}
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def view(self, log_dir: str | None) -> JobView | None:
        """What is known of the run's job, at once (never blocks); polls in the background
        when the last poll of this run is older than the interval."""
        if not log_dir:
            return None
        key = os.path.abspath(log_dir)
        with self._lock:
            known = self._views.get(key)
            due = time.monotonic() - self._last.get(key, -1e18) >= self.interval
            if due and key not in self._queued:
                self._queued.add(key)
                self._queue.put(key)
                self._ensure_worker()
        return known

    def poll(self, log_dir: str) -> JobView | None:
        """Poll the run now, in this thread (blocking: ``launcher.json`` and Slurm)."""
        key = os.path.abspath(log_dir)
        with self._lock:
            self._last[key] = time.monotonic()
        job = self.launcher(key)
        found = None
        if job is not None and job.kind == "slurm":
            try:
                found = JobView.of(job, self.status(job.job_id, max_age=self.interval))
            except Exception as exc:  # Slurm unreachable: say so, keep going
                found = JobView(job.job_id, "UNKNOWN", reason=f"cannot ask Slurm: {exc}",
                                checked=time.time(), submitted=job.submitted)
        with self._lock:
            self.polls += 1
            self._views[key] = found
        return found

    def note_submitted(self, log_dir: str, job: SlurmJob, status: JobStatus | None) -> None:
        """This process just submitted ``job`` for the run (``status``: Slurm's first answer)."""
        key = os.path.abspath(log_dir)
        with self._lock:
            self._views[key] = JobView.of(job, status)
            self._last[key] = time.monotonic()

    def forget(self, log_dir: str) -> None:
        """Poll the run at the next :meth:`view` (after this process cancelled its job)."""
        with self._lock:
            self._last.pop(os.path.abspath(log_dir), None)

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="aw-tui-jobwatch",
                                            daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            try:
                self.poll(key)
            except Exception:  # a bad launcher.json must not end the worker
                pass
            finally:
                with self._lock:
                    self._queued.discard(key)


#: The watch every view of this process shares.
WATCH = JobWatch()


@dataclass
class StopOutcome:
    """What :func:`stop_run` did: ``requested`` (a request left for a runner),
    ``answered`` (the job's runner took it), ``cancelled`` (a pending job removed) or
    ``signalled`` (``scancel --signal=TERM``); ``message`` says it to the user."""

    how: str
    message: str


def _taken(request: str, patience: float) -> bool:
    """Whether the runner took the request file (it deletes it) within ``patience`` s."""
    deadline = time.monotonic() + patience
    while os.path.exists(request):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def stop_run(log_dir: str, when: str, patience: float = STOP_PATIENCE,
             watch: JobWatch = WATCH) -> StopOutcome:
    """Stop the run of ``log_dir`` (``when``: ``now`` or ``after_step``); blocks up to
    ``patience`` seconds, so call it from a worker thread.

    Without an active Slurm job (``launcher.json``), a stop request is left in
    ``control/`` for the live runner. A job still PENDING is cancelled (``scancel``); a
    running job's runner gets the request, and when it has not taken it within
    ``patience`` seconds (the runner is still starting, or hung), the request is withdrawn
    and the job gets ``scancel --signal=TERM`` (the runner records the step as interrupted).

    Raises
    ------
    aw_tui.launchers.slurm.SlurmError
        When ``scancel`` is missing or fails.
    """
    job = watch.launcher(log_dir)
    status = None
    if job is not None and job.kind == "slurm":
        status = watch.status(job.job_id, max_age=0)
    if job is not None and status is not None and status.state == "PENDING":
        cancel_job(job.job_id)
        watch.forget(log_dir)
        return StopOutcome("cancelled", f"Slurm job {job.job_id} had not started "
                           f"({status.reason or 'pending'}): cancelled it (scancel)")
    request = control.request_stop(log_dir, when)
    if job is None or status is None or status.state in ENDED_STATES or status.state == "UNKNOWN":
        return StopOutcome("requested", "stop requested")
    if _taken(request, patience):
        return StopOutcome("answered", f"the runner of Slurm job {job.job_id} took the stop "
                           "request" + (" and stops now" if when == "now" else
                                        ": it stops after the current step"))
    with contextlib.suppress(OSError):
        os.remove(request)  # withdrawn: a later runner must not obey it
    cancel_job(job.job_id, "TERM")
    watch.forget(log_dir)
    return StopOutcome("signalled", f"the runner of Slurm job {job.job_id} did not answer "
                       f"within {patience:.0f} s: sent it SIGTERM (scancel --signal=TERM)")
