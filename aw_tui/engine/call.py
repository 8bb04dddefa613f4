"""One step's call and what it gave: the unit an executor runs, here or on a worker.

:class:`StepCall` is picklable (a Dask worker unpickles it); it sets the step's
:class:`~aw_tui.base.stepcontext.StepContext`, writes the ``started`` marker when asked, calls
the step through its pipeline and turns every exception of the step into a
:class:`StepOutcome`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.stepcontext import StepContext, step_context
from aw_tui.base.stepoutput import capture_python_output
from aw_tui.engine.errors import format_exception, is_disk_error
from aw_tui.engine.steps import PipelineStep
from aw_tui.rundir.trust import read_own_json

__all__ = ["WORKER_LOST", "StepCall", "StepOutcome"]

#: ``step_interrupted`` reason of a step whose worker died (a killed Dask worker, a batch
#: job that reached its walltime): the step did not finish and ``resume`` runs it again.
WORKER_LOST = "worker lost"

@dataclass
class StepOutcome:
    """What running one step gave: its result or the exception it raised."""

    step_id: int
    result: Any = None
    error: BaseException | None = None
    traceback: str | None = None
    duration: float = 0.0
    host: str | None = None
    worker: str | None = None
    started: float | None = None
    #: Set by an executor when the step did not finish because the worker running it was
    #: lost (e.g. :data:`WORKER_LOST`); ``error`` then holds what the executor saw.
    lost: str | None = None
    #: Set when the step failed because it could not write its output file in the run
    #: directory (full, read-only): the runner stops the run instead of recording an error.
    rundir_error: OSError | None = None


@dataclass
class StepCall:
    """A picklable call of one step, run in this process or on a worker.

    Parameters
    ----------
    pipeline : Pipeline
        Passed to the step function when its signature names ``pipeline``.
    step : PipelineStep
        The step to run.
    output_path : str, optional
        Where the tools' raw output goes (``steps/<id>.out``).
    log_dir : str, optional
        The run directory.
    worker : str, optional
        A label of where the call runs, set by the executor.
    marker_path : str, optional
        ``steps/<id>.started``: when set, the call writes there (atomically) where and when
        it started (``step_id``, ``host``, ``pid``, ``worker``, ``time``, ``attempt``), so the
        runner can journal ``step_started`` when a remote worker really starts the step. A
        marker already present means an earlier attempt of this call died with its worker:
        ``attempt`` counts up and the output file starts afresh.
    """

    pipeline: Any
    step: PipelineStep
    output_path: str | None = None
    log_dir: str | None = None
    worker: str | None = None
    listeners: list[Any] = field(default_factory=list)
    marker_path: str | None = None

    def __call__(self) -> StepOutcome:
        outcome = StepOutcome(self.step.step_id, host=socket.gethostname(), worker=self.worker)
        outcome.started = time.time()
        start = time.monotonic()
        if self.marker_path:
            self._mark_started(outcome)
        timeout = getattr(self.step, "timeout", None)
        context = StepContext(
            step_id=self.step.step_id,
            output_path=self.output_path,
            log_dir=self.log_dir,
            listeners=list(self.listeners),
            deadline=start + timeout if timeout else None,
        )
        try:
            with capture_python_output(), step_context(context):
                outcome.result = self.pipeline.call_step(self.step)
        except Exception as exc:
            if self._in_run_directory(exc):
                outcome.rundir_error = exc  # type: ignore[assignment]
            outcome.error = exc
            outcome.traceback = format_exception(exc)
        outcome.duration = time.monotonic() - start
        if timeout and (context.timed_out or outcome.duration > timeout):
            self._timed_out(outcome, timeout, stopped=context.timed_out)
        return outcome

    def _in_run_directory(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a failed write (full, read-only) of a file in the run directory."""
        if not is_disk_error(exc) or not self.log_dir:
            return False
        filename = getattr(exc, "filename", None)
        if not isinstance(filename, str):
            return False
        folder = os.path.abspath(self.log_dir)
        return os.path.abspath(filename).startswith(folder + os.sep)

    def _timed_out(self, outcome: StepOutcome, timeout: float, stopped: bool) -> None:
        """Make ``outcome`` the ``error`` result of a step that ran past its ``timeout``."""
        what = ("the tool it was running was stopped" if stopped
                else "it returned late (a Python step is not interrupted)")
        result: dict[str, Any] = {
            "status": "error",
            "error_msg": (f"timeout: step {self.step.step_id} ran past its timeout of "
                          f"{timeout:g} s; {what}"),
            "timeout": timeout,
        }
        if outcome.traceback:
            result["error"] = outcome.traceback
        outcome.result = result
        outcome.error = None
        outcome.traceback = None

    def _mark_started(self, outcome: StepOutcome) -> None:
        assert self.marker_path is not None
        attempt = 1
        try:
            attempt = int(read_own_json(self.marker_path).get("attempt") or 1) + 1
        except (ValueError, TypeError, AttributeError):
            pass
        if attempt > 1 and self.output_path:
            with contextlib.suppress(OSError):
                os.truncate(self.output_path, 0)
        marker = {
            "step_id": self.step.step_id,
            "host": outcome.host,
            "pid": os.getpid(),
            "worker": self.worker,
            "time": outcome.started,
            "attempt": attempt,
        }
        with contextlib.suppress(OSError):
            atomic_write_text(self.marker_path, json.dumps(marker), fsync=False)
