"""How groups of independent steps run: serial (default), local threads, or Dask.

Every executor implements the :class:`Executor` protocol, and the run loop
(:mod:`aw_tui.engine.loop`) knows executors only through it. The engine keeps the seed's
semantics on top of it (``run_step_idx`` only moves past a group when all of it finished, an
error stops the run after the running members end). With no executor (``None``) the loop
runs every step itself, in order, in the calling thread.

A new executor is a class with the members of :class:`Executor`; :class:`LocalExecutor`
(threads) and :class:`aw_tui.engine.dask_cluster.DaskExecutor` (a Dask cluster) are the two
there are. :func:`executor_from_config` builds one from a project's ``[executor]`` table.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from typing import Any, Protocol, runtime_checkable

from aw_tui.engine.call import StepCall, StepOutcome

__all__ = ["Executor", "LocalExecutor", "executor_from_config"]


@runtime_checkable
class Executor(Protocol):
    """What the run loop needs from whatever runs a group of independent steps.

    An attribute or a property serves for ``capacity`` and ``label``.
    """

    @property
    def capacity(self) -> int:
        """How many steps the loop keeps in flight at once (at least 1)."""
        ...

    @property
    def label(self) -> str:
        """Where the steps run, for the journal's ``run_started`` and the TUI (``local x4``)."""
        ...

    def submit(self, call: StepCall) -> Any:
        """Start ``call`` (or queue it); return a future-like handle of it."""
        ...

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        """Those of ``futures`` that are done, waiting up to ``timeout`` s for one (maybe none)."""
        ...

    def outcome(self, future: Any, step: Any) -> StepOutcome:
        """The :class:`StepOutcome` of a done future, never raising.

        A step whose worker was lost has ``lost`` set (e.g. ``WORKER_LOST``) and ``error``
        holding what the executor saw; an exception of the step itself is in ``error``.
        """
        ...

    def cancel(self, future: Any) -> None:
        """Cancel a step that has not started; an executor may also end a running one."""
        ...

    def close(self) -> None:
        """Release the executor's threads, workers or cluster."""
        ...


class LocalExecutor:
    """Run up to ``jobs`` independent steps at once in threads of this process.

    Tool steps spend their time in the tool's own process, so threads are enough to keep
    ``jobs`` tools busy; pure-Python steps share this process's interpreter.
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, not {jobs}")
        self.capacity = jobs
        self.label = f"local x{jobs}"
        self._pool = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="aw-tui-step")
        self._slots: dict[cf.Future, str] = {}

    def submit(self, call: StepCall) -> cf.Future:
        """Start ``call`` on a free thread."""
        return self._pool.submit(_run_in_thread, call)

    def wait_any(self, futures: list[cf.Future], timeout: float) -> list[cf.Future]:
        """The futures that finished within ``timeout`` seconds."""
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def outcome(self, future: cf.Future, step: Any) -> StepOutcome:
        """The outcome of a finished future."""
        try:
            return future.result()
        except BaseException as exc:  # the call itself catches Exceptions
            return StepOutcome(step.step_id, error=exc, traceback=repr(exc))

    def cancel(self, future: cf.Future) -> None:
        """Cancel a step that has not started."""
        future.cancel()

    def close(self) -> None:
        """Release the threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run_in_thread(call: StepCall) -> StepOutcome:
    # The journal says which of the threads ran the step (host/aw-tui-step_2).
    call.worker = f"{os.uname().nodename}/{threading.current_thread().name}"
    return call()


def executor_from_config(config: dict[str, Any]) -> Executor | None:
    """An executor from an ``[executor]`` table: ``kind`` = serial, local or dask.

    Returns
    -------
    Executor or None
        None for ``serial``: the run loop then runs each step itself.

    Raises
    ------
    ValueError
        For an unknown kind or bad settings.
    ImportError
        For ``kind = "dask"`` without the ``dask`` extra installed.
    """
    kind = config.get("kind", "serial")
    if kind == "serial":
        return None
    if kind == "local":
        return LocalExecutor(int(config.get("jobs") or os.cpu_count() or 1))
    if kind == "dask":
        try:
            # Dask is an optional extra and slow to import (~1 s): --batch and the serial
            # and local executors start without it.
            from aw_tui.engine.dask_cluster import DaskExecutor  # lazy: optional, slow
        except ImportError as exc:
            raise ImportError(
                "[executor] kind = 'dask' needs Dask: pip install 'aw-tui[dask]' "
                f"({exc})"
            ) from None
        return DaskExecutor.from_config(config)
    raise ValueError(f"[executor] kind = {kind!r}: use 'serial', 'local' or 'dask'")
