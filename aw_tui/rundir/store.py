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
import stat
import threading
import time
from typing import Any

import dill

from aw_tui.base.atomic import atomic_dump, atomic_write_bytes

# Re-exported for the callers that imported them from here before the split (cli, tests).
from aw_tui.rundir.checkpoint import (
    CheckpointError,
    check_checkpoint_safe,
    checkpoint_path,
    find_checkpoint,
    load_checkpoint,
    replay_journal,
)
from aw_tui.rundir.journal import JSONText, encode_line, last_seq, read_events
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.lock import LockInfo, RunLock, RunLockedError, read_lock
from aw_tui.rundir.pickling import dump_fast, dumps_fast

__all__ = [
    "CheckpointError",
    "LockInfo",
    "RunLockedError",
    "RunStore",
    "check_checkpoint_safe",
    "checkpoint_path",
    "find_checkpoint",
    "json_exact",
    "load_checkpoint",
    "read_lock",
    "rebuild_checkpoint",
    "to_jsonable",
]


#: Mode of the files the runner writes that viewers read (journal, tool output, lock); the
#: pickles and the other atomic writes are 0600 (``tempfile.mkstemp``). Never widened by
#: the umask.
FILE_MODE = 0o644
#: Mode of the folders the runner creates (the run directory, ``steps/``, ``control/``).
DIR_MODE = 0o755
#: The longest journal line: longer values go to the step's result file, the journal holds
#: a preview (:func:`capped_record`).
MAX_LINE = 64 * 1024

#: A provenance record up to this size goes into its ``step_finished`` line, else to a file.
PROVENANCE_INLINE = 24 * 1024
#: A step's results up to this size (bytes of JSON) go into its ``step_finished`` line when
#: JSON gives them back exactly (:func:`json_exact`), else to ``steps/<id>.result.p``. With
#: the provenance record and the fields the line repeats from them (summary, error_msg,
#: warnings: each at most the results' size) the line stays under :data:`MAX_LINE`.
RESULTS_INLINE = 16 * 1024
#: The characters of a long string the journal keeps.
PREVIEW = 2000
#: Fields a capped line always keeps whole.
_KEEP = frozenset({"seq", "time", "event", "step_id", "index", "status", "run_step_idx",
                   "completed", "run_name", "resume", "start_idx"})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_dirs(path: str, mode: int = DIR_MODE) -> None:
    """Create ``path`` and its missing parents with ``mode`` whatever the umask (folders
    that exist keep their mode)."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        make_dirs(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return
    os.chmod(path, mode)


def _close_to_others(folder: str) -> None:
    """Drop the write permission of others on a run folder of ours (loads refuse it)."""
    with contextlib.suppress(OSError):
        st = os.stat(folder)
        if st.st_uid == os.getuid() and st.st_mode & stat.S_IWOTH:
            os.chmod(folder, stat.S_IMODE(st.st_mode) & ~stat.S_IWOTH)


def _preview(value: Any) -> Any:
    if isinstance(value, str) and len(value) > PREVIEW:
        return f"{value[:PREVIEW]}... [{len(value) - PREVIEW} more characters in the result file]"
    if isinstance(value, dict):
        return {k: _preview(v) for k, v in value.items()}
    if isinstance(value, list):
        head = [_preview(v) for v in value[:100]]
        if len(value) > 100:
            head.append(f"... [{len(value) - 100} more items in the result file]")
        return head
    return value


def capped_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as it goes into the journal: at most :data:`MAX_LINE` bytes.

    Long strings and lists become previews; if the line is still too long, every field but
    the ones readers need (seq, event, step_id, status...) becomes a short preview of its
    JSON text. A capped record has ``"truncated": true``. The whole values stay in the
    step's result (and kwargs) file.
    """
    if len(json.dumps(record, ensure_ascii=False).encode("utf-8")) <= MAX_LINE - 64:
        return record
    capped = {k: (v if k in _KEEP else _preview(v)) for k, v in record.items()}
    capped["truncated"] = True
    if len(json.dumps(capped, ensure_ascii=False).encode("utf-8")) > MAX_LINE - 64:
        budget = max(80, (MAX_LINE // 2) // max(1, len(capped)))
        for key, value in capped.items():
            if key not in _KEEP and key != "truncated":
                text = json.dumps(value, ensure_ascii=False)
                if len(text) > budget:
                    capped[key] = f"{text[:budget]}... [truncated]"
    return capped


def _exact_left(value: Any, budget: int) -> int:
    """``budget`` less a lower bound of the JSON size of ``value``; negative when
    ``value`` is not JSON-exact (:func:`json_exact`) or the budget ran out."""
    kind = type(value)
    if kind is str:
        return budget - len(value) - 2
    if kind is dict:
        budget -= 2
        for key, item in value.items():
            if type(key) is not str:
                return -1
            budget = _exact_left(item, budget - len(key) - 4)
            if budget < 0:
                return budget
        return budget
    if kind is list:
        budget -= 2
        for item in value:
            budget = _exact_left(item, budget - 2)
            if budget < 0:
                return budget
        return budget
    if kind is int or kind is bool or value is None:
        return budget - 1
    if kind is float:  # finite: nan - nan and inf - inf are nan
        return budget - 1 if value - value == 0.0 else -1
    return -1


def json_exact(value: Any, limit: int = RESULTS_INLINE) -> bool:
    """Whether a JSON round trip gives back ``value`` exactly, equal and of the same types,
    and its JSON may fit in ``limit`` bytes (a lower bound: the caller measures the text).

    Exact: ``dict`` (that very type) with ``str`` keys, ``list``, ``str``, ``int``, finite
    ``float``, ``bool``, ``None``, recursively. Not: a tuple (a list after), a dict subclass,
    a non-str key, NaN or infinities, a numpy value, a set, anything else. Stops at the first
    value that is not, or once the size is known to be over ``limit``, so a huge value is not
    walked whole (nor a cycle forever). A few microseconds for a usual step's results.
    """
    try:
        return _exact_left(value, limit) >= 0
    except RecursionError:  # nested deeper than JSON can be read back
        return False


def to_jsonable(value: Any) -> Any:
    """A JSON form of ``value`` (tuples as lists; anything else as its ``repr``; a
    :class:`~aw_tui.rundir.journal.JSONText` kept for :func:`encode_line`)."""
    if value is None or isinstance(value, (bool, int, float, str, JSONText)):
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
        Flush checkpoints and kwargs files to disk before renaming them into place (result
        files are not: see :meth:`write_result`).
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
        make_dirs(self.steps_dir)
        for folder in (self.log_dir, self.steps_dir):
            _close_to_others(folder)

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
            fd = os.open(self.journal_path,
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, FILE_MODE)
            self._journal = os.fdopen(fd, "ab", buffering=0)
            # A runner killed mid-line leaves a fragment: start on a fresh line.
            if self._journal.tell() > 0:
                with open(self.journal_path, "rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        self._journal.write(b"\n")
        record = {"seq": self.seq + 1, "time": time.time(), "event": event}
        record.update(fields)
        try:  # the usual record is JSON already: encoded as it is, not copied first
            line = encode_line(record)
        except (TypeError, ValueError):
            record = to_jsonable(record)
            line = encode_line(record)
        if len(line) > MAX_LINE and type(record.get("results")) is JSONText:
            # Inline results that, with the rest of the line, would be cut to a preview: to
            # the step's result file (JSON-exact: the decoded value is the results).
            self.write_result(record["step_id"], record["results"].value())
            record["results"] = "file"
            line = encode_line(record)
        if len(line) > MAX_LINE:
            record = capped_record(
                {k: v.value() if type(v) is JSONText else v for k, v in record.items()})
            line = encode_line(record)
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
        """``steps/<step_id>.result.p``: the step's results dict, for results that are not in
        its ``step_finished`` line (:meth:`results_field`)."""
        return self.layout.step_result(step_id)

    def kwargs_path(self, step_id: int) -> str:
        """``steps/<step_id>.kwargs.p``: a step's edited kwargs."""
        return self.layout.step_kwargs(step_id)

    def write_result(self, step_id: int, results: Any) -> None:
        """Write a step's results atomically (a picklable stand-in if they are not): for
        results that do not go into their ``step_finished`` line (:meth:`results_field`).

        Atomic (temporary file, ``os.replace``) but not ``fsync``-ed: an fsync per step
        costs 0.2-5 ms depending on the disk's other traffic, more than the rest of the
        step's bookkeeping. A kill loses nothing (the data is in the page cache); after a
        power cut a result that did not reach the disk makes ``load_pipeline`` run its
        step again (see :func:`aw_tui.rundir.checkpoint.replay_journal`).
        """
        try:
            data = dumps_fast(results)
        except Exception as exc:
            data = dill.dumps({"status": _status_of(results), "unpicklable": repr(exc)})
        atomic_write_bytes(self.result_path(step_id), data, fsync=False)

    def results_field(self, step_id: int, results: Any) -> Any:
        """What a ``step_finished`` line carries of the step's results: the results (as
        :class:`~aw_tui.rundir.journal.JSONText`, encoded once) when they are JSON-exact
        (:func:`json_exact`: reading the line gives back equal values of the same types) and
        at most :data:`RESULTS_INLINE` bytes, else ``"file"``: they are then written to
        ``steps/<id>.result.p`` first (:meth:`write_result`). An inline result has no file:
        creating one per step cost 30-600 us on an ext4 disk, more than the rest of a step's
        bookkeeping."""
        if json_exact(results):
            try:
                text = json.dumps(results, ensure_ascii=False, allow_nan=False)
                size = len(text.encode())  # a lone surrogate cannot go into a line
            except (ValueError, TypeError, RecursionError):
                pass  # e.g. an int of more digits than Python converts
            else:
                if size <= RESULTS_INLINE:
                    return JSONText(text)
        self.write_result(step_id, results)
        return "file"

    def provenance_field(self, step_id: int, record: dict[str, Any]) -> Any:
        """What a ``step_finished`` line carries of the step's provenance record: the record
        (as :class:`~aw_tui.rundir.journal.JSONText`, encoded once), or ``"file"`` when it
        is too big for a line (a step over thousands of files): it is then written to
        ``steps/<id>.provenance.json`` first (atomic, not ``fsync``-ed, as a result). A file
        per step would cost more than the rest of a step's bookkeeping."""
        text = json.dumps(record, ensure_ascii=False)
        if len(text) <= PROVENANCE_INLINE and len(text.encode()) <= PROVENANCE_INLINE:
            return JSONText(text)
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        atomic_write_bytes(self.layout.step_provenance(step_id), data, fsync=False)
        return "file"

    def write_kwargs(self, step_id: int, func_kwargs: dict[str, Any]) -> None:
        """Write a step's edited kwargs atomically."""
        data = dill.dumps(func_kwargs)
        atomic_dump(self.kwargs_path(step_id), lambda h: h.write(data), fsync=self.fsync)

    def write_checkpoint(self, pipeline: Any) -> None:
        """Dump the whole pipeline atomically, recording the journal ``seq`` it includes."""
        pipeline.journal_seq = self.seq
        # The C pickler, with dill only for the script's own functions and classes: ~20x
        # faster than dill on a big pipeline, and still read by dill.load (rundir/pickling).
        atomic_dump(self.checkpoint, lambda h: dump_fast(pipeline, h), fsync=self.fsync)

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


def rebuild_checkpoint(log_dir: str, fresh: Any, run_name: str | None = None) -> str:
    """Rebuild a damaged (e.g. truncated) checkpoint from a fresh pipeline and the journal.

    ``fresh`` is the pipeline built again from the project file (the same steps); the
    journal (with the results its lines hold) and the result files of the other steps,
    replayed over it from the first event, give back the run's state (what ran, results,
    edits), exactly as a resume would see it. Under the run directory's lock (no runner may
    be live), the damaged file is kept aside as ``<checkpoint>.damaged-<time>`` and the
    rebuilt one written in its place.

    Returns
    -------
    str
        The rebuilt checkpoint's path.

    Raises
    ------
    RunLockedError
        When a runner is live.
    """
    store = RunStore(log_dir, run_name)
    store.acquire_lock()
    try:
        fresh.journal_seq = 0
        fresh.run_name = run_name
        fresh.completed_step_ids = set()
        replay_journal(fresh, store.log_dir)
        if os.path.lexists(store.checkpoint):
            os.replace(store.checkpoint, f"{store.checkpoint}.damaged-{int(time.time())}")
        store.write_checkpoint(fresh)
    finally:
        store.close()
    return store.checkpoint
