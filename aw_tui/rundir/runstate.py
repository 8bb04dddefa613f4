"""The state of a run folded from its journal: :class:`RunState` (the run) and
:class:`StepState` (each step), as viewers (the TUI, ``aw-tui status``) show them.

:mod:`aw_tui.rundir.journal` reads the events; this module only folds them. See
``docs/run-directory.md`` for the event format.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aw_tui.rundir.vocabulary import (
    DONE_STATUSES,
    FAILED,
    FINISHED,
    IDLE,
    INTERRUPTED,
    PENDING,
    RUNNING,
    SKIPPED,
    STEP_STATUSES,
    UNKNOWN,
)

__all__ = ["RUN_ENDS", "RunState", "StepState"]

#: The events that end a run.
RUN_ENDS = ("run_finished", "run_failed", "run_interrupted")

#: One object for each word of the steps' events (status, function, host, worker, verdict):
#: 100,000 steps' "success" are one string, not 100,000.
_intern = sys.intern
_SHARED_EVENTS = ("step_started", "step_finished")
_NO_WARNINGS: tuple[str, ...] = ()
#: The summary and tags of a step no event has given any: one object each for all of them
#: (100,000 steps pending in a run's start would otherwise hold 100,000 empty dicts and
#: lists). The state replaces a step's summary and tags, never changes them in place.
_NO_SUMMARY: dict[str, Any] = {}
_NO_TAGS: list[str] = []


def _no_summary() -> dict[str, Any]:
    return _NO_SUMMARY


def _no_tags() -> list[str]:
    return _NO_TAGS


def _no_warnings() -> Sequence[str]:
    return _NO_WARNINGS


def _summary_of(found: Any) -> dict[str, Any]:
    """A step_finished event's summary, its keys one string each in the whole state."""
    if not found:
        return _NO_SUMMARY
    return {(_intern(k) if type(k) is str else k): v for k, v in dict(found).items()}


@dataclass(slots=True)
class StepState:
    """What the journal says about one step.

    One per step of a run (100,000 for a big ``foreach``): its fields are slots, and its
    words (status, function, host, verdict) one string each in the whole state.
    """

    step_id: int
    index: int | None = None
    status: str = PENDING
    duration: float | None = None
    started: float | None = None
    summary: dict[str, Any] = field(default_factory=_no_summary)
    error_msg: str | None = None
    host: str | None = None
    worker: str | None = None
    func: str | None = None
    tags: list[str] = field(default_factory=_no_tags)
    #: ``ok``, ``warn`` or ``bad`` for a tool step (docs/verdicts.md), None otherwise.
    verdict: str | None = None
    #: The step's warnings (at most 20 in the journal; all in its result); an empty tuple
    #: when it gave none.
    warnings: Sequence[str] = field(default_factory=_no_warnings)
    #: The journal ``seq`` of its last step event (started, finished, interrupted); 0 when
    #: none was read.
    seq: int = 0


@dataclass
class RunState:
    """The state of the newest run in a journal, folded event by event.

    Feed it events with :meth:`apply` (or build it with :meth:`from_events`). ``state`` is
    one of ``idle`` (no run yet), ``running``, ``finished``, ``failed`` or ``interrupted``.
    """

    state: str = IDLE
    run_name: str | None = None
    pipeline_name: str | None = None
    host: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    run_steps: list[int] = field(default_factory=list)
    start_idx: int = 0
    failed_step: int | None = None
    failed_index: int | None = None
    error_msg: str | None = None
    reason: str | None = None
    steps: dict[int, StepState] = field(default_factory=dict)
    last_seq: int = 0
    last_time: float | None = None
    stop_requested: str | None = None
    #: Durations of the finished steps of each function, in this run and earlier ones.
    durations: dict[str, list[float]] = field(default_factory=dict)
    #: Time spent in the earlier runs this run resumed (elapsed counts them too).
    earlier: float = 0.0

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> RunState:
        """Fold a list of events into a new state."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def step(self, step_id: int) -> StepState:
        """The state of ``step_id`` (created as pending on first use)."""
        found = self.steps.get(step_id)
        if found is None:
            found = self.steps[step_id] = StepState(step_id)
        return found

    def apply(self, event: dict[str, Any]) -> StepState | None:
        """Apply one event; return the step it changed, if any (its ``seq`` the event's)."""
        st = self._apply(event)
        if st is not None:
            st.seq = int(event.get("seq", 0) or 0)
        return st

    def _apply(self, event: dict[str, Any]) -> StepState | None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0) or 0))
        self.last_time = event.get("time", self.last_time)
        kind = event.get("event")
        step_id = event.get("step_id")
        if kind == "run_started":
            self._begin_run(event)
            resume = bool(event.get("resume"))
            for index, sid in enumerate(self.run_steps):
                st = self.step(sid)
                st.index = index
                if index < self.start_idx:
                    if not resume and st.status == PENDING:
                        st.status = SKIPPED
                elif not (resume and st.status in DONE_STATUSES):
                    st.status = PENDING
                    st.duration = None
                    st.summary = _NO_SUMMARY
                    st.error_msg = None
                    st.verdict, st.warnings = None, _NO_WARNINGS
            return None
        if kind == "step_started" and step_id is not None:
            st = self.step(step_id)
            st.status = RUNNING
            st.index = event.get("index", st.index)
            st.started = event.get("time")
            st.duration = None
            st.error_msg = None
            st.verdict, st.warnings = None, _NO_WARNINGS
            host, worker, func = event.get("host"), event.get("worker"), event.get("func", st.func)
            st.host = _intern(host) if type(host) is str else host
            st.worker = _intern(worker) if type(worker) is str else worker
            st.func = _intern(func) if type(func) is str else func
            tags = event.get("tags")
            if tags and tags != st.tags:
                st.tags = list(tags)
            return st
        if kind == "step_finished" and step_id is not None:
            st = self.step(step_id)
            status = event.get("status") or UNKNOWN
            st.status = _intern(status) if type(status) is str else status
            st.index = event.get("index", st.index)
            st.duration = event.get("duration")
            st.summary = _summary_of(event.get("summary"))
            st.error_msg = event.get("error_msg")
            host, worker = event.get("host", st.host), event.get("worker", st.worker)
            st.host = _intern(host) if type(host) is str else host
            st.worker = _intern(worker) if type(worker) is str else worker
            verdict = event.get("verdict")
            st.verdict = _intern(verdict) if type(verdict) is str else verdict
            found = event.get("warnings")
            st.warnings = [str(w) for w in found] if found else _NO_WARNINGS
            if st.status in DONE_STATUSES and isinstance(st.duration, (int, float)) and st.func:
                found = self.durations.setdefault(st.func, [])
                found.append(float(st.duration))
                del found[:-50]
            return st
        if kind == "step_interrupted" and step_id is not None:
            st = self.step(step_id)
            st.status = INTERRUPTED
            if st.started is not None and event.get("time") is not None:
                st.duration = event["time"] - st.started
            st.error_msg = f"interrupted ({event.get('reason', 'stop')})"
            return st
        if kind == "stop_requested":
            self.stop_requested = event.get("when")
            return None
        if kind in RUN_ENDS:
            self._close_open_steps()
        if kind == "run_finished":
            self.state = FINISHED
            self.ended = event.get("time")
        elif kind == "run_failed":
            self.state = FAILED
            self.ended = event.get("time")
            self.failed_step = step_id
            self.failed_index = event.get("index")
            self.error_msg = event.get("error_msg")
        elif kind == "run_interrupted":
            self.state = INTERRUPTED
            self.ended = event.get("time")
            self.failed_step = step_id
            self.failed_index = event.get("index")
            self.reason = event.get("reason")
        return None

    def _close_open_steps(self) -> None:
        """At a run's end no step runs: one still ``running`` lost its end event (a damaged
        or missing journal line). It did not finish: a resume runs it again."""
        for sid in self.run_steps:
            st = self.steps.get(sid)
            if st is not None and st.status == RUNNING:
                st.status = INTERRUPTED
                st.error_msg = "its end is missing from the journal (a damaged or lost line)"

    def _begin_run(self, event: dict[str, Any]) -> None:
        """The run-level fields of a ``run_started`` event (steps untouched)."""
        if event.get("resume") and self.started is not None:
            end = self.ended if self.ended is not None else self.last_time
            self.earlier += max(0.0, (end or self.started) - self.started)
        elif not event.get("resume"):
            self.earlier = 0.0
        self.state = RUNNING
        self.run_name = event.get("run_name")
        self.pipeline_name = event.get("pipeline_name")
        self.host = event.get("host")
        self.pid = event.get("pid")
        self.started = event.get("time")
        self.ended = None
        self.failed_step = self.failed_index = None
        self.error_msg = self.reason = self.stop_requested = None
        self.run_steps = list(event.get("run_steps") or [])
        self.start_idx = int(event.get("start_idx") or 0)

    def share_with(self, steps: Mapping[int, Any], events: Iterable[dict[str, Any]],
                   summaries: bool = True) -> None:
        """Make the tags and summary of the steps these events are about the very lists and
        dicts of ``steps`` (a pipeline's steps by id: their ``tags`` and result
        ``summary``) where equal: a viewer of a finished 100,000-step run then holds them
        once, not once from the checkpoint and once from the journal. Nothing changes
        value; the state replaces them (never changes them in place) on later events.
        Without ``summaries``, only the tags (steps whose results are read on demand)."""
        for event in events:
            if event.get("event") not in _SHARED_EVENTS:
                continue
            st = self.steps.get(event.get("step_id"))  # type: ignore[arg-type]
            step = steps.get(st.step_id) if st is not None else None
            if step is None:
                continue
            tags = getattr(step, "tags", None)
            if st.tags is not tags and st.tags == tags:
                st.tags = tags
            results = getattr(step, "results", None) if summaries else None
            summary = results.get("summary") if type(results) is dict else None
            if st.summary is not summary and type(summary) is dict and st.summary == summary:
                st.summary = summary
            if st.index is not st.step_id and st.index == st.step_id:
                st.index = st.step_id

    # The views below may run in another thread than the one applying events: they read
    # with ``get`` and copy containers first, so they never change the state or trip over
    # a change.
    def _status(self, step_id: int) -> str:
        found = self.steps.get(step_id)
        return PENDING if found is None else found.status

    def counts(self) -> dict[str, int]:
        """Number of steps of the current run in each status."""
        counts = dict.fromkeys(STEP_STATUSES, 0)
        for sid in list(self.run_steps):
            status = self._status(sid)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def running_steps(self) -> list[StepState]:
        """The steps that are running now (several with a parallel executor)."""
        return [st for st in list(self.steps.values()) if st.status == RUNNING]

    def elapsed(self, now: float) -> float | None:
        """Seconds this run has been running, the earlier runs it resumed included."""
        if self.started is None:
            return None
        return self.earlier + max(0.0, (self.ended if self.ended is not None else now)
                                  - self.started)

    def expected(self, st: StepState) -> float | None:
        """How long a step is expected to take: the median of the finished steps of its
        function (in this run and earlier ones), else of all finished steps; None when no
        step has finished yet."""
        durations = self.durations.get(st.func or "")
        if not durations:
            durations = [d for found in list(self.durations.values()) for d in found]
        if not durations:
            return None
        return float(statistics.median(durations))

    def estimate_remaining(self, now: float) -> float | None:
        """Seconds left while the run is live: each step still to run at its expected
        duration (:meth:`expected`), a running one less the time it has run (at least the
        time it has run so far again, when it is already over its expectation: the
        estimate never says 0 while a step runs). None when nothing is known yet or the run
        is not running."""
        if self.state != RUNNING:
            return None
        total = 0.0
        for sid in list(self.run_steps):
            st = self.steps.get(sid)
            if st is not None and st.status not in (PENDING, RUNNING):
                continue
            expected = self.expected(st) if st is not None else self.expected(StepState(sid))
            if expected is None:
                return None
            if st is not None and st.status == RUNNING:
                ran = max(0.0, now - (st.started or now))
                total += expected - ran if ran < expected else max(1.0, 0.1 * ran)
            else:
                total += expected
        return total
