"""A run at a glance, cheap enough to list a hundred runs at once: the lock and the newest
run's part of the journal, never a pickle.

:func:`glance` finds the newest ``run_started`` line from the end of ``events.jsonl`` (as
:func:`aw_tui.rundir.journal.read_run_header` does) and reads the lines after it with one
regular expression over the mapped file: each line's ``seq``, ``time`` and ``event``, and
for a step event its ``step_id``, ``index``, then ``status`` and ``duration``
(``step_finished``) or ``func`` (``step_started``). It relies on the order of the keys the
runner writes (docs/run-directory.md: ``seq``, ``time``, ``event`` first, then the event's
fields in the order of its table), and never parses a step's summary or provenance.

What it cannot tell cheaply it leaves out: which finished steps are *stale* needs the
checkpoint and the project file (:func:`aw_tui.target.freshness_of`), so ``counts['stale']``
is None here.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aw_tui.rundir.layout import EVENTS_FILE
from aw_tui.rundir.lock import read_lock
from aw_tui.rundir.vocabulary import (
    DONE_STATUSES,
    ERROR,
    FAILED,
    FINISHED,
    IDLE,
    INTERRUPTED,
    PENDING,
    RUNNING,
    SKIPPED,
)

__all__ = ["DEAD", "Glance", "glance"]

#: The state of a run whose journal says it runs but whose runner holds no lock.
DEAD = "dead"

_RUN_STARTED = b'"event": "run_started"'
_ENDS = {b"run_finished": FINISHED, b"run_failed": FAILED, b"run_interrupted": INTERRUPTED}
# One line's head: seq, time, event, then a step event's step_id, index and the first of its
# own fields (status of step_finished, func of step_started) and duration.
_LINE = re.compile(
    rb'\n\{"seq": (\d+), "time": ([-+.eE\d]+), "event": "(\w+)"'
    rb'(?:, "step_id": (\d+|null), "index": (\d+|null)'
    rb'(?:, "(?:status|func)": "((?:[^"\\]|\\.)*)")?'
    rb'(?:, "duration": ([-+.eE\d]+|null))?)?'
)


@dataclass
class Glance:
    """A run directory's newest run, from its lock and the tail of its journal.

    Attributes
    ----------
    log_dir : str
    state : str
        ``idle``, ``running``, ``finished``, ``failed``, ``interrupted``, or ``dead`` (the
        journal says running, no runner holds the lock).
    live : bool
        A runner holds the lock.
    counts : dict
        ``done``, ``failed``, ``pending``, ``running``, ``interrupted``, ``skipped``,
        ``total`` (steps of the newest run) and ``stale`` (None: not known cheaply).
    running : list of dict
        The running steps: ``step_id``, ``index``, ``func``, ``started``.
    last_activity : float or None
        The time of the journal's last line (or of the lock, for a runner that has not
        written yet).
    slurm_job : str or None
        The Slurm job that runs (or ran) the newest run, from its ``run_started`` line.
    """

    log_dir: str
    state: str = IDLE
    live: bool = False
    pipeline_name: str | None = None
    run_name: str | None = None
    host: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    last_activity: float | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    running: list[dict[str, Any]] = field(default_factory=list)
    remaining: float | None = None
    slurm_job: str | None = None
    failed_step: int | None = None

    @property
    def elapsed(self) -> float | None:
        """Seconds from the run's start to its end (or now, while it runs)."""
        if self.started is None:
            return None
        end = self.ended if self.ended is not None else (
            time.time() if self.state == RUNNING else self.last_activity)
        return max(0.0, (end or self.started) - self.started)

    def to_json(self) -> dict[str, Any]:
        """Plain data (``aw-tui status DIR --json``)."""
        return {"log_dir": self.log_dir, "state": self.state, "live": self.live,
                "pipeline_name": self.pipeline_name, "run_name": self.run_name,
                "host": self.host, "pid": self.pid, "started": self.started,
                "ended": self.ended, "elapsed": self.elapsed,
                "remaining": self.remaining, "last_activity": self.last_activity,
                "counts": dict(self.counts), "running": [dict(r) for r in self.running],
                "slurm_job": self.slurm_job, "failed_step": self.failed_step}


def _number(raw: bytes | None) -> float | None:
    if not raw or raw == b"null":
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _line_at(data: Any, pos: int, end: int) -> tuple[dict[str, Any] | None, int, int]:
    """The event on the line holding ``pos`` (None when it does not parse), its bounds."""
    start = data.rfind(b"\n", 0, pos) + 1
    stop = data.find(b"\n", pos, end)
    stop = end if stop == -1 else stop
    try:
        event = json.loads(bytes(data[start:stop]))
    except ValueError:
        event = None
    return (event if isinstance(event, dict) else None), start, stop


def _newest_run(data: Any, end: int) -> tuple[dict[str, Any] | None, int]:
    """The last ``run_started`` event and where its line ends (0 when there is none)."""
    limit = end
    while True:
        pos = data.rfind(_RUN_STARTED, 0, limit)
        if pos == -1:
            return None, 0
        event, start, stop = _line_at(data, pos, end)
        if event is not None and event.get("event") == "run_started":
            return event, stop
        limit = start if start > 0 else pos


def glance(log_dir: str, now: float | None = None) -> Glance:
    """The newest run of ``log_dir`` at a glance (see the module's docstring).

    Never raises for a missing, empty or damaged journal: a run directory without one is
    ``idle``; damaged lines are skipped.
    """
    now = time.time() if now is None else now
    result = Glance(os.path.abspath(log_dir))
    lock = read_lock(log_dir)
    result.live = lock is not None and lock.is_alive()
    if result.live and lock is not None:
        result.host, result.pid, result.last_activity = lock.host, lock.pid, lock.started
    try:
        handle = open(os.path.join(log_dir, EVENTS_FILE), "rb")  # noqa: SIM115 - closed below
    except OSError:
        return _finish(result, None, _Steps(), now)
    with handle:
        try:
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty, or a file system without mmap
            return _finish(result, None, _Steps(), now)
        with data:
            end = data.rfind(b"\n") + 1  # what follows the last newline is not complete
            started, after = _newest_run(data, end)
            lines = _LINE.findall(data, after, end) if started else []
    return _finish(result, started, _fold(result, lines), now)


@dataclass
class _Steps:
    """What the newest run's lines say of each step, by step id as written (bytes)."""

    status: dict[bytes, bytes] = field(default_factory=dict)
    started: dict[bytes, tuple[bytes, bytes, bytes]] = field(default_factory=dict)
    duration: dict[bytes, bytes] = field(default_factory=dict)


def _fold(result: Glance, lines: list[tuple[bytes, ...]]) -> _Steps:
    """Each step event of the newest run, in order (a step's last event wins)."""
    steps = _Steps()
    status, started, duration = steps.status, steps.started, steps.duration
    for _seq, when, kind, step_id, index, word, seconds in lines:
        if kind == b"step_finished":
            status[step_id] = word or b"unknown"
            duration[step_id] = seconds
            if word == b"error":  # (vocabulary.ERROR)
                result.failed_step = int(step_id)
        elif kind == b"step_started":
            status[step_id] = b"running"
            started[step_id] = (when, index, word)
        elif kind == b"step_interrupted":
            status[step_id] = b"interrupted"
        elif kind in _ENDS:
            result.state, result.ended = _ENDS[kind], _number(when)
    if lines:
        result.last_activity = _number(lines[-1][1]) or result.last_activity
    return steps


def _text(raw: bytes) -> str:
    if b"\\" not in raw:
        return raw.decode("utf-8", "replace")
    try:
        return str(json.loads(b'"' + raw + b'"'))
    except ValueError:
        return raw.decode("utf-8", "replace")


def _finish(result: Glance, started: dict[str, Any] | None, steps: _Steps,
            now: float) -> Glance:
    counts: dict[str, Any] = dict.fromkeys(
        ("done", "failed", "pending", "running", "interrupted", "skipped"), 0)
    counts.update(total=0, stale=None)
    result.counts = counts
    if started is None:
        result.state = RUNNING if result.live else IDLE
        return result
    if result.state == IDLE:
        result.state = RUNNING
    result.pipeline_name = started.get("pipeline_name")
    result.run_name = started.get("run_name")
    result.started = started.get("time")
    result.slurm_job = started.get("slurm_job")
    if not result.live:
        result.host, result.pid = started.get("host"), started.get("pid")
    if result.last_activity is None:
        result.last_activity = started.get("time")
    run_steps = [s for s in started.get("run_steps") or [] if isinstance(s, int)]
    completed = set(started.get("completed") or [])
    start_idx = int(started.get("start_idx") or 0)
    ended = result.state != RUNNING
    durations = []
    words = {RUNNING.encode(): RUNNING, INTERRUPTED.encode(): INTERRUPTED,
             ERROR.encode(): "failed"}
    done = {status.encode() for status in DONE_STATUSES}
    for index, step_id in enumerate(run_steps):
        key = str(step_id).encode()
        word = steps.status.get(key)
        if word is None:
            status = "done" if step_id in completed else (
                SKIPPED if index < start_idx else PENDING)
        elif word in done:
            status = "done"
            seconds = _number(steps.duration.get(key))
            if seconds is not None:
                durations.append(seconds)
        else:
            status = words.get(word) or word.decode("utf-8", "replace")
            if status == RUNNING and ended:
                status = INTERRUPTED  # its end is missing: it did not finish
        if status == RUNNING:
            when, at, func = steps.started.get(key, (b"", b"", b""))
            result.running.append({
                "step_id": step_id, "index": int(at) if at.isdigit() else index,
                "func": _text(func) if func else None, "started": _number(when)})
        counts[status] = counts.get(status, 0) + 1
    counts["total"] = len(run_steps)
    if result.live:
        result.state = RUNNING  # (a runner that has not written its run_started yet, too)
    elif result.state == RUNNING:
        result.state = DEAD
    if result.state == RUNNING and durations:
        left = counts["pending"] + counts["running"]
        busy = sum(max(0.0, now - (r["started"] or now)) for r in result.running)
        result.remaining = max(0.0, sum(durations) / len(durations) * left - busy)
    return result
