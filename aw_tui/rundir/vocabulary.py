"""The words of a run: step statuses and run states, and which of them count as done.

The one owner of these words (as luigi's ``task_status``): the engine writes them into the
journal, the journal's fold and every view (``--batch``, ``status``, the TUI) read them from
here, so a status cannot mean one thing in one place and another elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DONE_STATUSES",
    "ENDED_STATUSES",
    "ERROR",
    "FAILED",
    "FINISHED",
    "IDLE",
    "INTERRUPTED",
    "PENDING",
    "RUNNING",
    "RUN_STATES",
    "SKIPPED",
    "STALE",
    "STEP_STATUSES",
    "SUCCESS",
    "UNKNOWN",
    "count_done",
    "count_ended",
]

# -- a step's status ------------------------------------------------------------------------
#: Not started in this run.
PENDING = "pending"
#: Started, not yet ended.
RUNNING = "running"
#: Its function returned ``{'status': 'success'}``.
SUCCESS = "success"
#: It returned ``{'status': 'error'}`` or raised.
ERROR = "error"
#: It returned a dict without a ``status`` the seed knows (stored as ``unknown``).
UNKNOWN = "unknown"
#: Not selected for this run (tags, ``run_steps``, a start index past it).
SKIPPED = "skipped"
#: Stopped by Ctrl-C, a signal or a stop request while it ran.
INTERRUPTED = "interrupted"

#: Not a journal status: what a view shows for a step whose last result is no longer current
#: (:mod:`aw_tui.rundir.freshness`: its kwargs, a file it read, its tool or a step it
#: depends on changed since it ran); ``--resume`` runs it again.
STALE = "stale"

#: Step statuses a view can show, in the order of their life.
STEP_STATUSES: tuple[str, ...] = (PENDING, RUNNING, SUCCESS, ERROR, UNKNOWN, SKIPPED, INTERRUPTED)
#: Statuses after which a step counts as done: ``resume`` never runs it again.
DONE_STATUSES: frozenset[str] = frozenset({SUCCESS, UNKNOWN})
#: Statuses of a step that ran to its end, well or not (progress counts).
ENDED_STATUSES: frozenset[str] = DONE_STATUSES | {ERROR}

# -- a run's state --------------------------------------------------------------------------
#: No run in this run directory yet.
IDLE = "idle"
#: FINISHED: every selected step ended; FAILED: a step's error stopped the run.
FINISHED = "finished"
FAILED = "failed"
#: Ctrl-C, SIGTERM, SIGHUP or a stop request ended it (resumable).
#: (the same word as the step status).
RUN_STATES: tuple[str, ...] = (IDLE, RUNNING, FINISHED, FAILED, INTERRUPTED)


def count_done(counts: Mapping[str, int]) -> int:
    """How many steps are done (``resume`` skips them), from counts by status."""
    return sum(counts.get(status, 0) for status in DONE_STATUSES)


def count_ended(counts: Mapping[str, int]) -> int:
    """How many steps ran to their end, well or not, from counts by status."""
    return sum(counts.get(status, 0) for status in ENDED_STATUSES)
