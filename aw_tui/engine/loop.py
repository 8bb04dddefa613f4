"""The run loop behind :meth:`aw_tui.pipeline.Pipeline.run`.

It applies the seed's rules (results, ``status``, ignore flags, ``run_step_idx``) and
records everything in the run directory: journal events, per-step results and output, the
checkpoint at the start and at every end of a run, control requests from viewers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from typing import Any

from aw_tui.base import process
from aw_tui.base.gcpause import gc_frozen
from aw_tui.engine.call import WORKER_LOST, StepCall, StepOutcome
from aw_tui.engine.checks import apply_checks, parse_checks
from aw_tui.engine.errors import (
    PipelineError,
    PipelineWarning,
    RunInterrupted,
    is_disk_error,
    run_directory_error,
)
from aw_tui.engine.executors import Executor
from aw_tui.engine.signals import interrupt_main_thread, interrupt_signals
from aw_tui.engine.steps import PipelineStep
from aw_tui.rundir import control
from aw_tui.rundir.journal import JSONText
from aw_tui.rundir.provenance import make_record, paths_in, snapshot
from aw_tui.rundir.store import RunStore
from aw_tui.rundir.trust import read_own_json

# StepCall, StepOutcome and WORKER_LOST live in engine/call.py; named here for old imports.
__all__ = ["WORKER_LOST", "RunEngine", "StepCall", "StepOutcome"]

#: Seconds between two looks at the ``steps/<id>.started`` markers of a running group.
MARKER_POLL = 0.25


#: Seconds kept free at the end of an allocation: a step is not started unless its expected
#: duration plus this fits in what is left.
WALLTIME_MARGIN = 5.0

#: Step starts and ends (INFO) and steps that failed or warned (WARNING), for a Python user's
#: own logging setup (``logging.getLogger("aw_tui")``); silent unless configured.
log = logging.getLogger("aw_tui.engine")
log.addHandler(logging.NullHandler())

#: At most this many warnings of a step go into its journal line (all stay in its result).
JOURNAL_WARNINGS = 20


def warning_texts(result: dict[str, Any]) -> list[str]:
    """A step's warnings as short texts for the journal: its result's ``warnings`` list (a
    tool step's, see docs/verdicts.md), at most :data:`JOURNAL_WARNINGS`, each cut at 300
    characters."""
    warnings = result.get("warnings")
    if not isinstance(warnings, list):
        return []
    return [str(w)[:300] for w in warnings[:JOURNAL_WARNINGS]]


def _text_or_none(value: Any) -> str | None:
    """The original astromatic_wrapper's steps put their message under ``error``."""
    return value if isinstance(value, str) and value else None


class ControlWatcher(threading.Thread):
    """Polls ``control/`` for stop requests while a run is live.

    It acts only on valid stop requests (see :func:`aw_tui.rundir.control.read_request`);
    the run loop rejects the others between steps. Nothing it reads can end it.
    """

    def __init__(self, engine: RunEngine, interval: float = 0.3) -> None:
        super().__init__(name="aw-tui-control", daemon=True)
        self.engine = engine
        self.interval = interval
        self._halt = threading.Event()

    def run(self) -> None:
        store = self.engine.store
        while not self._halt.wait(self.interval):
            if store is None:
                return
            try:
                for request in control.pending_requests(store.layout):
                    if request.action == "stop":
                        control.finish_request(store.layout, request.path)
                        self.engine.request_stop(request.when)
            except Exception as exc:  # a watcher that dies would ignore every later stop
                warnings.warn(f"reading {store.layout.control} failed: {exc}", stacklevel=1)

    def halt(self) -> None:
        """Stop polling."""
        self._halt.set()


class RunEngine:
    """Runs ``pipeline.run_steps`` from ``pipeline.run_step_idx`` (see ``Pipeline.run``)."""

    def __init__(
        self,
        pipeline: Any,
        run_name: str | None = None,
        resume: bool = False,
        ignore_errors: bool | None = None,
        ignore_exceptions: bool | None = None,
        executor: Executor | None = None,
        listeners: list[Any] | None = None,
        deadline: float | None = None,
        expected_seconds: dict[str, float] | None = None,
    ) -> None:
        self.pipeline = pipeline
        #: When the allocation ends (a :func:`time.time`), for a run in a batch job.
        self.deadline = deadline
        #: Expected duration of a step by its function's name, from earlier runs.
        self.expected_seconds = dict(expected_seconds or {})
        self._durations: dict[str, list[float]] = {}
        self.run_name = run_name
        self.resume = resume
        self.ignore_errors = ignore_errors
        self.ignore_exceptions = ignore_exceptions
        self.executor = executor
        self.listeners = list(listeners or [])
        self.store: RunStore | None = None
        self._stop_after_step = False
        self._stop_now = False
        self._interrupting = False
        self._running: dict[int, int] = {}
        # Group members whose start was journalled: step id -> (attempt, worker); and the
        # (inode, mtime) of the marker last read for each.
        self._started: dict[int, tuple[int, str | None]] = {}
        self._marker_seen: dict[int, tuple[int, int]] = {}
        # The files each running step's kwargs named when it started (its provenance).
        self._before: dict[int, dict[str, tuple[int, int] | None]] = {}

    # -- stop requests ------------------------------------------------------------------
    def request_stop(self, when: str) -> None:
        """Stop after the current step (``'after_step'``) or at once (``'now'``)."""
        if self.store is not None:
            self.store.append_event("stop_requested", when=when)
        if when == "now":
            self._stop_now = True
            # Interrupt first: the main thread then raises as soon as the killed tool's
            # output ends, before it can record the tool's death as an error result.
            interrupt_main_thread()
            process.terminate_all()
        else:
            self._stop_after_step = True

    def _on_signal(self, reason: str) -> str | None:
        if self._interrupting:
            return None
        return "stop" if self._stop_now else reason

    # -- the run ------------------------------------------------------------------------
    def execute(self) -> None:
        """Run the scheduled steps; raise as ``Pipeline.run`` documents.

        Raises
        ------
        RunDirectoryError
            When the run directory cannot be written (full, read-only, no permission):
            the run stops, as interrupted, and can be resumed once it is writable.
        """
        try:
            # The pipeline lives through the run: the collector need not walk it again at
            # each full collection the run's allocations trigger (base/gcpause).
            with gc_frozen():
                self._execute()
        except OSError as exc:
            if not is_disk_error(exc) or not self.pipeline.log_dir:
                raise
            raise run_directory_error(exc, os.path.abspath(self.pipeline.log_dir)) from None

    def _execute(self) -> None:
        pipeline = self.pipeline
        if pipeline.log_dir:
            self.store = RunStore(pipeline.log_dir, self.run_name)
            self.store.acquire_lock()
        pipeline.run_store = self.store
        watcher = ControlWatcher(self) if self.store is not None else None
        started = time.monotonic()
        try:
            with interrupt_signals(self._on_signal):
                if self.store is not None:
                    self._journal_run_started()
                try:
                    if self.store is not None:
                        # Inside the try: a Ctrl-C during this (long) write ends the run
                        # in the journal too.
                        self.store.write_checkpoint(pipeline)
                        assert watcher is not None
                        watcher.start()
                    self._loop()
                except KeyboardInterrupt as exc:
                    self._interrupting = True
                    self._record_interrupt(getattr(exc, "reason", "SIGINT"))
                    raise
                except PipelineError:
                    self._checkpoint()
                    raise
                except BaseException as exc:
                    # sys.exit() in a step, or a failure of the runner itself (a full
                    # disk): leave the checkpoint on the step that was running, as for any
                    # other failure, as far as the run directory can still be written.
                    reason = "run directory not writable" if is_disk_error(exc) else (
                        type(exc).__name__)
                    self._record_interrupt(reason, best_effort=True)
                    raise
                if self.store is not None:
                    self.store.append_event(
                        "run_finished", status="success", duration=time.monotonic() - started
                    )
                try:
                    self._checkpoint()
                except KeyboardInterrupt:
                    # Every step ran: save that before stopping, or dill.load would give
                    # the state at the start of the run (a second signal still wins).
                    self._checkpoint()
                    raise
        finally:
            if watcher is not None:
                watcher.halt()
            if self.store is not None:
                # On a full or read-only disk the lock may not go: a later run finds it
                # stale (this pid is gone) and takes over.
                with contextlib.suppress(OSError):
                    self.store.close()
            pipeline.run_store = None

    def _journal_run_started(self) -> None:
        pipeline = self.pipeline
        assert self.store is not None
        self.store.append_event(
            "run_started",
            run_name=self.run_name,
            host=socket.gethostname(),
            pid=os.getpid(),
            run_steps=[step.step_id for step in pipeline.run_steps],
            start_idx=pipeline.run_step_idx,
            resume=self.resume,
            total=len(pipeline.run_steps),
            pipeline_name=pipeline.name,
            checkpoint=self.store.checkpoint,
            completed=sorted(pipeline.completed_step_ids),
            executor=self.executor.label if self.executor is not None else None,
            slurm_job=os.environ.get("SLURM_JOB_ID"),  # the batch job running it, if any
            deadline=self.deadline,
        )

    def _checkpoint(self) -> None:
        if self.store is not None:
            self.store.sync_journal()
            self.store.write_checkpoint(self.pipeline)

    def _record_interrupt(self, reason: str, best_effort: bool = False) -> None:
        """Journal the running steps and the run as interrupted; write the checkpoint.

        With ``best_effort`` each write that fails is skipped (the run is failing already,
        e.g. on a full disk): the checkpoint is atomic, so the previous one stays whole.
        """
        pipeline = self.pipeline
        guard = (lambda: contextlib.suppress(Exception)) if best_effort else contextlib.nullcontext
        if self.store is not None:
            for step_id, index in list(self._running.items()):
                with guard():
                    self.store.append_event(
                        "step_interrupted", step_id=step_id, index=index, reason=reason
                    )
            current = (
                pipeline.run_steps[pipeline.run_step_idx]
                if pipeline.run_step_idx < len(pipeline.run_steps)
                else None
            )
            with guard():
                self.store.append_event(
                    "run_interrupted",
                    step_id=current.step_id if current else None,
                    index=pipeline.run_step_idx,
                    reason=reason,
                )
        self._running.clear()
        with guard():
            self._checkpoint()

    def _loop(self) -> None:
        pipeline = self.pipeline
        while pipeline.run_step_idx < len(pipeline.run_steps):
            self._apply_control()
            if self._stop_after_step:
                raise RunInterrupted("stop")
            batch = self._batch_at(pipeline.run_step_idx)
            self._check_walltime(batch)
            if len(batch) > 1:
                self._run_group(batch)
            else:
                self._run_serial(pipeline.run_step_idx)

    def _expected(self, step: PipelineStep) -> float | None:
        """How long ``step`` will take: the longest of this run's steps of its function, else
        what earlier runs said (``expected_seconds``); None when nothing is known."""
        seen = self._durations.get(step.func_name)
        if seen:
            return max(seen)
        return self.expected_seconds.get(step.func_name)

    def _check_walltime(self, batch: list[PipelineStep]) -> None:
        """Stop cleanly before a step that would outlast the allocation (``deadline``)."""
        if self.deadline is None:
            return
        expected = max((e for e in map(self._expected, batch) if e is not None), default=None)
        left = self.deadline - time.time()
        if expected is not None and expected + WALLTIME_MARGIN > left:
            step = batch[0]
            raise RunInterrupted(
                f"walltime: step {step.step_id} ({step.func_name}) takes about "
                f"{expected:.0f} s and {max(left, 0.0):.0f} s of the allocation are left")

    def _batch_at(self, idx: int) -> list[PipelineStep]:
        steps = self.pipeline.run_steps
        first = steps[idx]
        if self.executor is None or not first.independent or first.group is None:
            return [first]
        batch = [first]
        for step in steps[idx + 1 :]:
            if not step.independent or step.group != first.group:
                break
            batch.append(step)
        return batch

    def _make_call(
        self, step: PipelineStep, worker: str | None = None, marker: bool = False
    ) -> StepCall:
        store = self.store
        if store is not None:
            self._before[step.step_id] = snapshot(paths_in(step.func_kwargs, exist=False))
        return StepCall(
            pipeline=self.pipeline,
            step=step,
            output_path=store.step_output_path(step.step_id) if store else None,
            log_dir=store.log_dir if store else None,
            worker=worker,
            listeners=self.listeners,
            marker_path=self._marker_path(step.step_id) if store and marker else None,
        )

    def _marker_path(self, step_id: int) -> str:
        assert self.store is not None
        return self.store.layout.step_marker(step_id)

    def _journal_step_started(
        self, step: PipelineStep, index: int, host: str | None = None, worker: str | None = None
    ) -> None:
        self._running[step.step_id] = index
        log.info("step %s (%s, run index %s) started%s", step.step_id, step.func_name, index,
                 f" on {worker}" if worker else "")
        if self.store is None:
            return
        with contextlib.suppress(FileNotFoundError):
            # A rerun starts a fresh output file.
            os.unlink(self.store.step_output_path(step.step_id))
        self._started.pop(step.step_id, None)
        self._append_step_started(step, index, host or socket.gethostname(), os.getpid(),
                                  worker, time.time(), 1)

    def _append_step_started(
        self, step: PipelineStep, index: int, host: str | None, pid: int | None,
        worker: str | None, started: float | None, attempt: int,
    ) -> None:
        """The one place a ``step_started`` event is written (fields: docs/run-directory.md)."""
        assert self.store is not None
        self.store.append_event(
            "step_started",
            step_id=step.step_id,
            index=index,
            func=step.func_name,
            tags=step.tags,
            host=host,
            pid=pid,
            worker=worker,
            run_step_idx=self.pipeline.run_step_idx,
            started=started,
            attempt=attempt,
        )

    def _run_serial(self, idx: int) -> None:
        pipeline = self.pipeline
        step = pipeline.run_steps[idx]
        if step.step_id in pipeline.completed_step_ids:
            # A member of a group that finished before the run stopped (resumed without a
            # parallel executor): finished steps never run again.
            pipeline.run_step_idx = idx + 1
            return
        self._journal_step_started(step, idx)
        outcome = self._make_call(step)()
        self._finish_step(step, idx, outcome, advance_to=idx + 1)

    def _run_group(self, batch: list[PipelineStep]) -> None:
        """Run a group of independent steps on the executor; all end before moving on.

        A member is journalled as started when its ``steps/<id>.started`` marker appears
        (the worker really began it, with that worker's host and name), not when it is
        handed to the executor, which may queue it. A member whose worker was lost is
        journalled as interrupted (``worker lost``): like an error, no further member
        starts, the running ones end, and the run stops; ``resume`` runs it again.
        """
        pipeline = self.pipeline
        base = pipeline.run_step_idx
        todo = [
            (base + offset, step)
            for offset, step in enumerate(batch)
            if step.step_id not in pipeline.completed_step_ids
        ]
        failure: PipelineError | None = None
        pending = {}
        queue = list(todo)
        executor = self.executor
        assert executor is not None  # groups run only on an executor (see _loop)
        capacity = max(1, int(executor.capacity or len(queue)))
        try:
            while queue or pending:
                while queue and len(pending) < capacity and failure is None:
                    if self._stop_after_step:
                        queue.clear()
                        break
                    self._apply_control()
                    index, step = queue.pop(0)
                    pending[self._submit(step, index)] = (index, step)
                if not pending:
                    break
                done = executor.wait_any(list(pending), timeout=MARKER_POLL)
                for future, (index, step) in pending.items():
                    if future not in done:
                        self._check_started(step, index)
                for future in done:
                    index, step = pending.pop(future)
                    outcome = executor.outcome(future, step)
                    self._check_started(step, index, outcome)
                    try:
                        if outcome.lost:
                            self._lose_step(step, index, outcome)
                        else:
                            self._finish_step(step, index, outcome, advance_to=None)
                    except PipelineError as exc:
                        if failure is None:
                            failure = exc
                        queue.clear()
        except BaseException:  # Ctrl-C, a signal, a run directory that cannot be written
            for future in pending:
                with contextlib.suppress(Exception):
                    executor.cancel(future)
            raise
        if failure is not None:
            raise failure
        if self._stop_after_step and any(s.step_id not in pipeline.completed_step_ids for s in batch):
            raise RunInterrupted("stop")
        pipeline.run_step_idx = base + len(batch)
        if self.store is not None:
            self.store.append_event(
                "group_finished",
                group=batch[0].group,
                steps=[s.step_id for s in batch],
                run_step_idx=pipeline.run_step_idx,
            )

    def _submit(self, step: PipelineStep, index: int) -> Any:
        """Hand one member to the executor, with a fresh output file and no old marker."""
        self._running[step.step_id] = index
        self._started.pop(step.step_id, None)
        self._marker_seen.pop(step.step_id, None)
        call = self._make_call(step, marker=True)
        for path in (call.output_path, call.marker_path):
            if path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return self.executor.submit(call)

    def _read_marker(self, step_id: int) -> dict[str, Any] | None:
        """The step's ``.started`` marker if it changed since it was last read."""
        path = self._marker_path(step_id)
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns)
        if self._marker_seen.get(step_id) == stamp:
            return None
        marker = read_own_json(path)  # never a FIFO, a link or another user's file
        self._marker_seen[step_id] = stamp
        return marker if isinstance(marker, dict) else None

    def _check_started(
        self, step: PipelineStep, index: int, outcome: StepOutcome | None = None
    ) -> None:
        """Journal ``step_started`` for a member a worker began (again, after a lost worker)."""
        if self.store is None:
            return
        marker = self._read_marker(step.step_id)
        seen = self._started.get(step.step_id)
        if marker is None:
            if seen is None and outcome is not None and outcome.started and not outcome.lost:
                # Ended before its marker was seen, or no marker could be written.
                marker = {
                    "host": outcome.host,
                    "worker": outcome.worker,
                    "time": outcome.started,
                    "pid": None,
                    "attempt": 1,
                }
            else:
                return
        try:
            attempt = int(marker.get("attempt") or 1)
        except (TypeError, ValueError):
            attempt = 1
        if seen is not None and attempt <= seen[0]:
            return
        worker = marker.get("worker")
        self._started[step.step_id] = (attempt, worker)
        if seen is not None:
            self._warn(
                step,
                f"Step {step.step_id} (run_step_idx {index}) started again on {worker} "
                f"(attempt {attempt}): the worker that ran it ({seen[1]}) was lost",
            )
        self._append_step_started(step, index, marker.get("host"), marker.get("pid"), worker,
                                  marker.get("time"), attempt)

    def _lose_step(self, step: PipelineStep, index: int, outcome: StepOutcome) -> None:
        """Record a member whose worker died: interrupted, not finished; raise to stop."""
        self._running.pop(step.step_id, None)
        exc = outcome.error
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else str(outcome.lost)
        where = outcome.worker or (self._started.get(step.step_id) or (None, None))[1]
        failure = PipelineError(
            f"Step {step.step_id} ({step.func_name}, run_step_idx {index}) did not finish: "
            f"{outcome.lost}{f' ({where})' if where else ''}: {detail}. The steps that "
            "finished are kept; resume to run it again"
        )
        if exc is not None:
            failure.__cause__ = exc
        if self.store is not None:
            self.store.append_event(
                "step_interrupted",
                step_id=step.step_id,
                index=index,
                reason=outcome.lost,
                error_msg=detail,
                host=outcome.host,
                worker=where,
            )
            self.store.append_event(
                "run_failed", step_id=step.step_id, index=index, error_msg=str(failure)
            )
        raise failure

    # -- results ------------------------------------------------------------------------
    def _effective(self, run_level: bool | None, step_level: bool) -> bool:
        return bool(step_level) if run_level is None else bool(run_level)

    def _warn(self, step: PipelineStep, message: str) -> None:
        warnings.warn(message, PipelineWarning, stacklevel=4)
        if self.store is not None:
            self.store.append_event("warning", step_id=step.step_id, message=message)

    def _finish_step(
        self, step: PipelineStep, index: int, outcome: StepOutcome, advance_to: int | None
    ) -> None:
        if self._stop_now:
            # The tool was killed by a stop request: interrupted, not failed.
            raise RunInterrupted("stop")
        if outcome.rundir_error is not None:
            # The step could not write its output file in the run directory: the run
            # stops (interrupted, this step runs again on resume), as for any write of it.
            raise outcome.rundir_error
        pipeline = self.pipeline
        ignored = False
        failure: PipelineError | None = None
        if outcome.error is not None:
            exc = outcome.error
            message = f"{type(exc).__name__}: {exc}"
            result: Any = {"status": "error", "error": outcome.traceback, "error_msg": message}
            if self._effective(self.ignore_exceptions, step.ignore_exceptions):
                ignored = True
                self._warn(
                    step,
                    f"Exception occurred during step {step.step_id} (run_step_idx {index}): "
                    f"{message}",
                )
            else:
                failure = PipelineError(
                    f"Exception in step {step.step_id} ({step.func_name}, run_step_idx "
                    f"{index}): {message}"
                )
                failure.__cause__ = exc
        else:
            result = outcome.result
            status = result.get("status") if isinstance(result, dict) else None
            if not isinstance(status, str) or status.lower() not in ("success", "error"):
                self._warn(
                    step,
                    f"Step {step.step_id} (run_step_idx {index}) did not return a valid "
                    "result (a dict with a 'status' of 'success' or 'error'); its status is "
                    "'unknown'",
                )
                result = {"status": "unknown", "result": result}
            checks = getattr(step, "checks", None)
            if checks:
                result = apply_checks(result, parse_checks(checks, step.check_severity),
                                      step.check_severity)
            if str(result["status"]).lower() == "error":
                if self._effective(self.ignore_errors, step.ignore_errors):
                    ignored = True
                    self._warn(
                        step,
                        f"Error in step {step.step_id} (run_step_idx {index}), see results "
                        f"for more: {result.get('error_msg', '')}",
                    )
                else:
                    detail = result.get("error_msg") or ""
                    failure = PipelineError(
                        f"Error returned in step {step.step_id} ({step.func_name}, "
                        f"run_step_idx {index})" + (f": {detail}" if detail else "")
                    )
        status = str(result.get("status", "unknown")).lower()
        done = failure is None
        next_idx = advance_to if done and advance_to is not None else pipeline.run_step_idx
        self._record_finished(step, index, outcome, result, status, ignored, done, next_idx)
        # Only once the result and its journal line are written (a full disk stops the run
        # before: the step is then interrupted, and runs again on resume).
        self._running.pop(step.step_id, None)
        step.results = result
        if done:
            pipeline.completed_step_ids.add(step.step_id)
            pipeline.run_step_idx = next_idx
        elif self.store is not None:
            self.store.append_event(
                "run_failed", step_id=step.step_id, index=index, error_msg=str(failure)
            )
        if failure is not None:
            raise failure

    def _record_finished(
        self, step: PipelineStep, index: int, outcome: StepOutcome, result: dict[str, Any],
        status: str, ignored: bool, done: bool, next_idx: int,
    ) -> None:
        """Write the step's ``step_finished`` journal line, with its results in it (or in
        its result file first, when JSON would not give them back exactly or they are too
        big: :meth:`aw_tui.rundir.store.RunStore.results_field`)."""
        if outcome.duration:
            self._durations.setdefault(step.func_name, []).append(outcome.duration)
        warned = warning_texts(result)
        log.log(logging.WARNING if status != "success" or warned else logging.INFO,
                "step %s (%s, run index %s) ended: %s in %.1f s%s", step.step_id,
                step.func_name, index, status, outcome.duration,
                f"; {len(warned)} warning(s), the first: {warned[0]}" if warned else "")
        if self.store is not None:
            results = self.store.results_field(step.step_id, result)
            step.provenance = make_record(step, result, status, done,
                                          self._before.pop(step.step_id, None),
                                          step.record_as_held)
            record = self.store.provenance_field(step.step_id, step.provenance)
            if isinstance(record, JSONText):
                step.hold_record_text(record.text)  # encoded once, for the line and the step
            summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
            self.store.append_event(
                "step_finished",
                step_id=step.step_id,
                index=index,
                status=status,
                duration=outcome.duration,
                summary=summary,
                error_msg=result.get("error_msg") or _text_or_none(result.get("error")),
                verdict=result.get("verdict") if isinstance(result.get("verdict"), str) else None,
                warnings=warning_texts(result),
                ignored=ignored,
                host=outcome.host,
                worker=outcome.worker,
                run_step_idx=next_idx,
                completed=done,
                provenance=record,
                results=results,
            )

    # -- control ------------------------------------------------------------------------
    def _apply_control(self) -> None:
        store = self.store
        if store is None:
            return
        for request in control.pending_requests(store.layout):
            if request.problem:
                control.reject_request(store, request, request.problem)
            elif request.action == "stop":
                control.finish_request(store.layout, request.path)
                self.request_stop(request.when)
            else:
                started = set(self.pipeline.completed_step_ids) | set(self._running)
                reason = control.apply_edit(
                    store, self.pipeline, request.data["step_id"],
                    control.decode_kwargs(request.data["func_kwargs"]), "control", started,
                )
                if reason:
                    control.reject_request(store, request, reason)
                else:
                    control.finish_request(store.layout, request.path)
