"""The run directory: checkpoint, journal, per-step output and results, lock and control.

:class:`RunStore` is the writer side used by a runner. The format is a public interface,
documented in ``docs/run-directory.md``. Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import dill

from aw_tui.base.atomic import atomic_dump, atomic_write_text
from aw_tui.base.errors import AwTuiError
from aw_tui.rundir.journal import EVENTS_FILE

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
    "write_control_request",
]

LOCK_FILE = "lock"

#: Run directories whose lock a live run of this process holds (a lock naming this pid is
#: only stale when no run of this process holds it).
_HELD_LOCKS: set[str] = set()
STEPS_DIR = "steps"
CONTROL_DIR = "control"


class CheckpointError(AwTuiError):
    """A checkpoint is missing, unsafe to unpickle, or damaged."""


class RunLockedError(AwTuiError):
    """Another live runner owns this run directory."""

    def __init__(self, log_dir: str, lock: LockInfo) -> None:
        self.log_dir = log_dir
        self.lock = lock
        super().__init__(
            f"the run directory {log_dir} is in use by pid {lock.pid} on host {lock.host} "
            f"(since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(lock.started))}). "
            "Wait for that run to end, stop it (`aw-tui` key x, or kill that pid), or use "
            "another 'log' path. If you know that process is gone, delete "
            f"{os.path.join(log_dir, LOCK_FILE)}."
        )


@dataclass
class LockInfo:
    """Who holds a run directory's lock."""

    host: str
    pid: int
    started: float
    run_name: str | None = None

    def is_local(self) -> bool:
        """Whether the lock was taken on this host."""
        return self.host == socket.gethostname()

    def is_alive(self) -> bool:
        """Whether the owner is alive (always assumed for another host's lock)."""
        if not self.is_local():
            return True
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[-1].split()
        return not (fields and fields[0] == b"Z")
    except OSError:
        return True


def checkpoint_path(log_dir: str, run_name: str | None = None) -> str:
    """The checkpoint file of a run: ``pipeline.p`` or ``pipeline-<run_name>.p``."""
    name = "pipeline.p" if not run_name else f"pipeline-{run_name}.p"
    return os.path.join(log_dir, name)


def find_checkpoint(path: str, run_name: str | None = None) -> str:
    """Resolve a run directory or checkpoint file to a checkpoint file.

    In a directory, ``pipeline-<run_name>.p`` when ``run_name`` is given, else
    ``pipeline.p``, else the newest ``pipeline-*.p``.
    """
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise CheckpointError(f"{path} is neither a run directory nor a checkpoint file")
    wanted = checkpoint_path(path, run_name)
    if os.path.isfile(wanted) or run_name:
        if not os.path.isfile(wanted):
            raise CheckpointError(f"no checkpoint {wanted}: was the run named differently?")
        return wanted
    candidates = [
        os.path.join(path, name)
        for name in os.listdir(path)
        if name.startswith("pipeline-") and name.endswith(".p")
    ]
    if not candidates:
        raise CheckpointError(
            f"no checkpoint (pipeline.p) in {path}: no run has started with this 'log' path"
        )
    return max(candidates, key=os.path.getmtime)


def check_checkpoint_safe(path: str) -> None:
    """Refuse a checkpoint that someone else could have planted (unpickling runs code).

    Raises
    ------
    CheckpointError
        When ``path`` is not a regular file owned by the current user, or is writable by
        group or others.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path} is not a regular file")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CheckpointError(
            f"refusing to load {path}: it is owned by uid {st.st_uid}, not by you "
            f"(uid {os.getuid()}); loading a checkpoint runs code from it. Copy it, check it, "
            "and load your copy if you trust it."
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CheckpointError(
            f"refusing to load {path}: group or others can write to it (mode "
            f"{stat.S_IMODE(st.st_mode):o}), so anyone could have changed the code it runs. "
            f"Check it, then `chmod go-w {path}`."
        )


def load_checkpoint(path: str) -> Any:
    """Unpickle a checkpoint after :func:`check_checkpoint_safe`."""
    check_checkpoint_safe(path)
    try:
        with open(path, "rb") as handle:
            return dill.load(handle)
    except Exception as exc:  # a damaged or incompatible pickle
        raise CheckpointError(
            f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}"
        ) from exc


def read_lock(log_dir: str) -> LockInfo | None:
    """The lock of a run directory, or None when no runner holds it."""
    try:
        with open(os.path.join(log_dir, LOCK_FILE), encoding="utf-8") as handle:
            data = json.load(handle)
        return LockInfo(
            host=str(data["host"]),
            pid=int(data["pid"]),
            started=float(data.get("started", 0.0)),
            run_name=data.get("run_name"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_control_request(log_dir: str, request: dict[str, Any]) -> str:
    """Leave a request (stop, edit) for the live runner; return the request's path."""
    folder = os.path.join(log_dir, CONTROL_DIR)
    os.makedirs(folder, exist_ok=True)
    name = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.json"
    path = os.path.join(folder, name)
    atomic_write_text(path, json.dumps(request, default=repr))
    return path


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
        self.log_dir = os.path.abspath(log_dir)
        self.run_name = run_name
        self.fsync = fsync
        self.checkpoint = checkpoint_path(self.log_dir, run_name)
        self.journal_path = os.path.join(self.log_dir, EVENTS_FILE)
        self.steps_dir = os.path.join(self.log_dir, STEPS_DIR)
        self.control_dir = os.path.join(self.log_dir, CONTROL_DIR)
        self.lock_path = os.path.join(self.log_dir, LOCK_FILE)
        self.host = socket.gethostname()
        self._journal: Any = None
        self._seq: int | None = None
        self._torn = False
        # The control watcher thread journals stop requests while the main thread journals
        # steps: one lock keeps seq unique and the lines in seq order.
        self._journal_lock = threading.Lock()
        self._locked = False
        os.makedirs(self.steps_dir, exist_ok=True)

    # -- lock -------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Take the run directory's lock, recovering a stale one.

        Raises
        ------
        RunLockedError
            When a live runner (or a runner on another host) holds it.
        """
        payload = json.dumps(
            {"host": self.host, "pid": os.getpid(), "started": time.time(),
             "run_name": self.run_name}
        )
        for _ in range(3):
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = read_lock(self.log_dir)
                if owner is None:
                    # Empty or half-written by a runner killed at that instant.
                    with contextlib.suppress(OSError):
                        if time.time() - os.path.getmtime(self.lock_path) > 2:
                            os.unlink(self.lock_path)
                    time.sleep(0.1)
                    continue
                ours = owner.pid == os.getpid() and self.log_dir not in _HELD_LOCKS
                if owner.is_local() and (ours or not owner.is_alive()):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.lock_path)
                    continue
                raise RunLockedError(self.log_dir, owner) from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            self._locked = True
            _HELD_LOCKS.add(self.log_dir)
            self._remove_leftovers()
            return
        owner = read_lock(self.log_dir) or LockInfo("?", -1, time.time())
        raise RunLockedError(self.log_dir, owner)

    def _remove_leftovers(self) -> None:
        """Delete the temporary files of writes a killed runner never finished.

        Only the lock holder writes checkpoints and step files, so with the lock held any
        ``.pipeline*.tmp`` here or ``.*.tmp`` in ``steps/`` is garbage (as big as a
        checkpoint, possibly). They are never loaded in any case.
        """
        for folder, prefix in ((self.log_dir, ".pipeline"), (self.steps_dir, ".")):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                if name.startswith(prefix) and name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(folder, name))

    def release_lock(self) -> None:
        """Drop the lock if this process holds it."""
        if not self._locked:
            return
        _HELD_LOCKS.discard(self.log_dir)
        owner = read_lock(self.log_dir)
        if owner is not None and owner.pid == os.getpid() and owner.host == self.host:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
        self._locked = False

    # -- journal ----------------------------------------------------------------------
    def _last_seq(self) -> int:
        try:
            with open(self.journal_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                block = min(size, 65536)
                handle.seek(size - block)
                tail = handle.read()
        except FileNotFoundError:
            return 0
        for line in reversed(tail.split(b"\n")):
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                return int(json.loads(line)["seq"])
        return 0

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
        return os.path.join(self.steps_dir, f"{step_id}.out")

    def result_path(self, step_id: int) -> str:
        """``steps/<step_id>.result.p``: the step's results dict."""
        return os.path.join(self.steps_dir, f"{step_id}.result.p")

    def kwargs_path(self, step_id: int) -> str:
        """``steps/<step_id>.kwargs.p``: a step's edited kwargs."""
        return os.path.join(self.steps_dir, f"{step_id}.kwargs.p")

    def write_result(self, step_id: int, results: Any) -> None:
        """Write a step's results atomically (a picklable stand-in if they are not).

        Atomic (temporary file, ``os.replace``) but not ``fsync``-ed: an fsync per step
        costs 0.2-5 ms depending on the disk's other traffic, more than the rest of the
        step's bookkeeping. A kill loses nothing (the data is in the page cache); after a
        power cut a result that did not reach the disk makes ``load_pipeline`` run its
        step again (see :func:`aw_tui.rundir.replay.replay_journal`).
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

    # -- control ----------------------------------------------------------------------
    def pending_control(self) -> list[tuple[str, dict[str, Any]]]:
        """The control requests waiting, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.control_dir) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        requests = []
        for name in names:
            path = os.path.join(self.control_dir, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    requests.append((path, json.load(handle)))
            except (OSError, ValueError):
                continue
        return requests

    def finish_control(self, path: str, rejected: str | None = None) -> None:
        """Remove a handled request, or move it to ``control/rejected/`` with the reason."""
        if rejected is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        folder = os.path.join(self.control_dir, "rejected")
        os.makedirs(folder, exist_ok=True)
        try:
            with open(path, encoding="utf-8") as handle:
                request = json.load(handle)
        except (OSError, ValueError):
            request = {}
        request["reason"] = rejected
        atomic_write_text(os.path.join(folder, os.path.basename(path)), json.dumps(request))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

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
