"""Where the step that is running now sends its tools' raw output.

The engine sets a :class:`StepContext` around each step call (in whichever thread, process or
Dask worker runs it); :mod:`aw_tui.base.process` appends the tool's bytes to ``output_path`` and
hands them to ``listeners``. Outside a pipeline there is no context and output goes only to
the listeners the caller gives.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["StepContext", "active_steps", "current_step", "step_context"]


@dataclass
class StepContext:
    """The step being run: its id, its output file, live listeners of its output, its deadline.

    ``deadline`` (a :func:`time.monotonic` time, from the step's ``timeout``) limits every
    command the step runs; a command stopped by it sets ``timed_out``.
    """

    step_id: int | None = None
    output_path: str | None = None
    log_dir: str | None = None
    listeners: list[Callable[[bytes], None]] = field(default_factory=list)
    deadline: float | None = None
    timed_out: bool = False


_current: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "aw_tui_step", default=None
)


#: The steps running in this process now (any thread), in the order they started.
_active: list[StepContext] = []
_active_lock = threading.Lock()


def current_step() -> StepContext | None:
    """The context of the step running in this thread, or None."""
    return _current.get()


def active_steps() -> list[StepContext]:
    """Every step running in this process now, in any thread (a copy)."""
    with _active_lock:
        return list(_active)


@contextlib.contextmanager
def step_context(context: StepContext) -> Iterator[StepContext]:
    """Make ``context`` the current step for the duration of the block."""
    token = _current.set(context)
    with _active_lock:
        _active.append(context)
    try:
        yield context
    finally:
        with _active_lock:
            _active.remove(context)
        _current.reset(token)
