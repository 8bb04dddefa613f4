"""The writer of a run directory: journal, checkpoint, per-step results and kwargs.

:class:`RunStore` is used by a runner (and by :func:`aw_tui.rundir.control.apply_edit_without_runner`,
which acts as one). Readers live in :mod:`aw_tui.rundir.journal` and
:mod:`aw_tui.rundir.checkpoint`; the names of the files in :mod:`aw_tui.rundir.layout`.
The format is a public interface, documented in ``docs/run-directory.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from typing import Any

import dill

from aw_tui.base.atomic import atomic_dump

# Re-exported for the callers that imported them from here before the split (cli, tests).
from aw_tui.rundir.checkpoint import (
    CheckpointError,
    check_checkpoint_safe,
    checkpoint_path,
    find_checkpoint,
    load_checkpoint,
)
from aw_tui.rundir.journal import last_seq, read_events
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.lock import LockInfo, RunLock, RunLockedError, read_lock

__all__ = [
    "CheckpointError",
    "LockInfo",
    "RunLockedError",
    "RunStore",
    "check_checkpoint_safe",
    "checkpoint_path",
    "find_checkpoint",
    "load_checkpoint",
    "read_lock",
    "to_jsonable",
]


def to_jsonable(value: Any) -> Any:
    """A JSON form of ``value`` (tuples as lists; anything else as its ``repr``)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        with contextlib.suppress(Exception):
            return to_jsonable(value.item())
    return repr(value)


class RunStore:
    """Writer of a run directory (see ``docs/run-directory.md``).

    Parameters
    ----------
    log_dir : str
        The run directory (the pipeline's ``paths['log']``).
    run_name : str, optional
        Selects the checkpoint file ``pipeline-<run_name>.p``.
    fsync : bool
        Flush checkpoints and result files to disk before renaming them into place.
    """

    def __init__(self, log_dir: str, run_name: str | None = None, fsync: bool = True) -> None:
        self.layout = RunLayout(log_dir)
        self.log_dir = self.layout.root
        self.run_name = run_name
        self.fsync = fsync
        self.checkpoint = self.layout.checkpoint(run_name)
        self.journal_path = self.layout.journal
        self.steps_dir = self.layout.steps
        self.host = socket.gethostname()
        self._lock = RunLock(self.layout, run_name)
        self._journal: Any = None
        self._seq: int | None = None
        self._torn = False
        # The control watcher thread journals stop requests while the main thread journals
        # steps: one lock keeps seq unique and the lines in seq order.
        self._journal_lock = threading.Lock()
        os.makedirs(self.steps_dir, exist_ok=True)

    # -- lock -------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Take the run directory's lock (see :class:`aw_tui.rundir.lock.RunLock`), then
        remove the temporary files a killed runner left.

        Raises
        ------
        RunLockedError
            When a live runner (or a runner on another host) holds it.
        """
        self._lock.acquire()
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Delete the temporary files of writes a killed runner never finished.

        Only the lock holder writes checkpoints and step files, so with the lock held they
        are garbage (as big as a checkpoint, possibly). They are never loaded in any case.
        """
        for path in self.layout.leftovers():
            with contextlib.suppress(OSError):
                os.unlink(path)

    def release_lock(self) -> None:
        """Drop the lock if this process holds it."""
        self._lock.release()

    # -- journal ----------------------------------------------------------------------
    def _last_seq(self) -> int:
        last = last_seq(self.journal_path)
        if last is None:  # a damaged last line: the highest seq of the whole journal
            last = max((int(e.get("seq", 0) or 0) for e in read_events(self.log_dir)),
                       default=0)
        return last

    @property
    def seq(self) -> int:
        """The ``seq`` of the newest event in the journal."""
        if self._seq is None:
            self._seq = self._last_seq()
        return self._seq

    def append_event(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event (a whole line in one write) and return it (thread-safe)."""
        with self._journal_lock:
            return self._append_event(event, fields)

    def _append_event(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        if self._journal is None:
            self._journal = open(self.journal_path, "ab", buffering=0)  # noqa: SIM115
            # A runner killed mid-line leaves a fragment: start on a fresh line.
            if self._journal.tell() > 0:
                with open(self.journal_path, "rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        self._journal.write(b"\n")
        record = {"seq": self.seq + 1, "time": time.time(), "event": event}
        record.update(fields)
        line = json.dumps(to_jsonable(record), ensure_ascii=False).encode("utf-8") + b"\n"
        if self._torn:  # an earlier line was cut short (disk full): start a fresh line
            line = b"\n" + line
        # A full disk may take part of a line and then fail: finish it or raise, never
        # count a torn line as written.
        view = memoryview(line)
        self._torn = True
        while view:
            view = view[self._journal.write(view):]
        self._torn = False
        self._seq = record["seq"]
        return record

    def sync_journal(self) -> None:
        """Flush the journal to disk (at the end of a run)."""
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._journal.fileno())

    # -- per-step files ---------------------------------------------------------------
    def step_output_path(self, step_id: int) -> str:
        """``steps/<step_id>.out``: the raw bytes the step's tools printed."""
        return self.layout.step_output(step_id)

    def result_path(self, step_id: int) -> str:
        """``steps/<step_id>.result.p``: the step's results dict."""
        return self.layout.step_result(step_id)

    def kwargs_path(self, step_id: int) -> str:
        """``steps/<step_id>.kwargs.p``: a step's edited kwargs."""
        return self.layout.step_kwargs(step_id)

    def write_result(self, step_id: int, results: Any) -> None:
        """Write a step's results atomically (a picklable stand-in if they are not).

        Atomic (temporary file, ``os.replace``) but not ``fsync``-ed: an fsync per step
        costs 0.2-5 ms depending on the disk's other traffic, more than the rest of the
        step's bookkeeping. A kill loses nothing (the data is in the page cache); after a
        power cut a result that did not reach the disk makes ``load_pipeline`` run its
        step again (see :func:`aw_tui.rundir.checkpoint.replay_journal`).
        """
        try:
            data = dill.dumps(results)
        except Exception as exc:
            data = dill.dumps({"status": _status_of(results), "unpicklable": repr(exc)})
        atomic_dump(self.result_path(step_id), lambda h: h.write(data), fsync=False)

    def write_kwargs(self, step_id: int, func_kwargs: dict[str, Any]) -> None:
        """Write a step's edited kwargs atomically."""
        data = dill.dumps(func_kwargs)
        atomic_dump(self.kwargs_path(step_id), lambda h: h.write(data), fsync=self.fsync)

    def write_checkpoint(self, pipeline: Any) -> None:
        """Dump the whole pipeline atomically, recording the journal ``seq`` it includes."""
        pipeline.journal_seq = self.seq
        atomic_dump(self.checkpoint, lambda h: dill.dump(pipeline, h), fsync=self.fsync)

    def close(self) -> None:
        """Flush and close the journal and drop the lock."""
        with self._journal_lock:
            if self._journal is not None:
                self.sync_journal()
                self._journal.close()
                self._journal = None
        self.release_lock()


def _status_of(results: Any) -> str:
    if isinstance(results, dict) and isinstance(results.get("status"), str):
        return results["status"]
    return "unknown"
