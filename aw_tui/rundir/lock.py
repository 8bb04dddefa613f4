"""The run directory's lock: one live runner per run directory (``docs/run-directory.md``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass

from aw_tui.base.errors import AwTuiError
from aw_tui.rundir.layout import RunLayout

__all__ = ["LockInfo", "RunLock", "RunLockedError", "pid_alive", "read_lock"]

#: Mode of the lock file (readable by viewers; the umask never widens it).
FILE_MODE = 0o644
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


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


def _probe(path: str) -> bool | None:
    """Whether a process holds the kernel lock on ``path`` (None: cannot tell)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None  # a file system without flock: only the record tells
    finally:
        os.close(fd)  # closing drops a shared lock taken just now
    return False


def read_lock(log_dir: str) -> LockInfo | None:
    """The lock of a run directory, or None when no runner holds it.

    The record (host, pid) names the holder; where the file system has working locks, a
    record nobody holds the kernel lock of (a runner killed by ``kill -9`` or a power cut)
    is stale and gives None.
    """
    path = RunLayout(log_dir).lock
    info = _read_record(path)
    if info is None or _probe(path) is False:
        return None
    return info


class RunLock:
    """The lock a runner holds on its run directory for the whole run.

    A kernel lock (``fcntl.flock``, exclusive) on the file ``lock``, held on an open
    descriptor until :meth:`release` or the process's death (the kernel drops it then: a
    stale lock needs no takeover, so there is no check-then-unlink race). The file holds a
    JSON record (host, pid, start, run name) for humans and for viewers on other hosts.

    On a file system whose ``flock`` fails (some FUSE mounts), the record alone decides, as
    before: a record whose pid is dead on this host is taken over; one from another host is
    trusted. On one whose ``flock`` is local to each client (NFS mounted with
    ``local_lock=flock`` or ``nolock``), runners on two hosts do not see each other's lock.

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
        self._fd: int | None = None

    def _record(self) -> bytes:
        return json.dumps(
            {"host": self.host, "pid": os.getpid(), "started": time.time(),
             "run_name": self.run_name}
        ).encode()

    def acquire(self, wait: float = 0.5) -> None:
        """Take the lock.

        Parameters
        ----------
        wait : float
            Seconds to keep trying while another process holds the kernel lock (a viewer
            probing it holds it for microseconds).

        Raises
        ------
        RunLockedError
            When a live runner (or a runner on another host) holds it.
        """
        path, root = self.layout.lock, self.layout.root
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                owner = _read_record(path) or LockInfo("?", -1, time.time())
                raise RunLockedError(root, owner) from None
            except OSError:
                os.close(fd)
                self._acquire_by_record()
                return
            try:
                same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
            except OSError:
                same = False
            if not same:
                # The holder released (and unlinked) it between our open and our flock.
                os.close(fd)
                continue
            break
        os.ftruncate(fd, 0)
        os.pwrite(fd, self._record(), 0)
        os.fsync(fd)
        self._fd = fd
        self.held = True

    def _acquire_by_record(self) -> None:
        """Without kernel locks: the record decides (see the class)."""
        path, root = self.layout.lock, self.layout.root
        for _ in range(3):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                owner = _read_record(path)
                if owner is None:
                    with contextlib.suppress(OSError):
                        if time.time() - os.path.getmtime(path) > 2:
                            os.unlink(path)
                    time.sleep(0.1)
                    continue
                if owner.is_local() and not owner.is_alive():
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    continue
                raise RunLockedError(root, owner) from None
            os.write(fd, self._record())
            os.fsync(fd)
            os.close(fd)
            self.held = True
            return
        raise RunLockedError(root, _read_record(path) or LockInfo("?", -1, time.time()))

    def release(self) -> None:
        """Drop the lock if this process holds it (the file is removed while still held)."""
        if not self.held:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.layout.lock)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.held = False


def _read_record(path: str) -> LockInfo | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return LockInfo(str(data["host"]), int(data["pid"]), float(data.get("started", 0.0)),
                        data.get("run_name"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
