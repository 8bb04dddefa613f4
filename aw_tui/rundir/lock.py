"""The run directory's lock: one live runner per run directory (``docs/run-directory.md``)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass

from aw_tui.base.errors import AwTuiError
from aw_tui.rundir.layout import RunLayout

__all__ = ["LockInfo", "RunLock", "RunLockedError", "pid_alive", "read_lock"]

#: Run directories whose lock a live run of this process holds (a lock naming this pid is
#: only stale when no run of this process holds it).
_HELD_LOCKS: set[str] = set()


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
            f"{RunLayout(log_dir).lock}."
        )


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


def read_lock(log_dir: str) -> LockInfo | None:
    """The lock of a run directory, or None when no runner holds it."""
    try:
        with open(RunLayout(log_dir).lock, encoding="utf-8") as handle:
            data = json.load(handle)
        return LockInfo(
            host=str(data["host"]),
            pid=int(data["pid"]),
            started=float(data.get("started", 0.0)),
            run_name=data.get("run_name"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class RunLock:
    """The lock a runner holds on its run directory for the whole run.

    Parameters
    ----------
    layout : RunLayout
        The run directory.
    run_name : str, optional
        Recorded in the lock for humans.
    """

    def __init__(self, layout: RunLayout, run_name: str | None = None) -> None:
        self.layout = layout
        self.run_name = run_name
        self.host = socket.gethostname()
        self.held = False

    def acquire(self) -> None:
        """Take the lock, recovering a stale one.

        Raises
        ------
        RunLockedError
            When a live runner (or a runner on another host) holds it.
        """
        path, root = self.layout.lock, self.layout.root
        payload = json.dumps(
            {"host": self.host, "pid": os.getpid(), "started": time.time(),
             "run_name": self.run_name}
        )
        for _ in range(3):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = read_lock(root)
                if owner is None:
                    # Empty or half-written by a runner killed at that instant.
                    with contextlib.suppress(OSError):
                        if time.time() - os.path.getmtime(path) > 2:
                            os.unlink(path)
                    time.sleep(0.1)
                    continue
                ours = owner.pid == os.getpid() and root not in _HELD_LOCKS
                if owner.is_local() and (ours or not owner.is_alive()):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    continue
                raise RunLockedError(root, owner) from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            _HELD_LOCKS.add(root)
            return
        owner = read_lock(root) or LockInfo("?", -1, time.time())
        raise RunLockedError(root, owner)

    def release(self) -> None:
        """Drop the lock if this process holds it."""
        if not self.held:
            return
        root = self.layout.root
        _HELD_LOCKS.discard(root)
        owner = read_lock(root)
        if owner is not None and owner.pid == os.getpid() and owner.host == self.host:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.layout.lock)
        self.held = False
