"""Atomic file writes: a temporary file in the same folder, ``fsync``, then ``os.replace``.

A reader (or a process restarted after a crash) sees either the old file or the new one,
never a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

__all__ = ["atomic_dump", "atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]


def fsync_dir(path: str) -> None:
    """Flush a directory entry to disk so that a rename inside it survives a power cut.

    Parameters
    ----------
    path : str
        The directory to flush. Errors (e.g. file systems that refuse ``fsync`` on
        directories) are ignored: the rename itself is already atomic.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "wb", fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` atomically when the block ends.

    If the block raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str
        The final file name.
    mode : str
        ``'wb'`` or ``'w'`` (text, UTF-8).
    fsync : bool
        Flush the data to disk before the rename (default). Only tests and benchmarks
        should turn this off.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(folder)


def atomic_write_bytes(path: str, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it (mode 0600, named
    ``.<name>.<pid>.<thread>.tmp``), then ``os.replace``.

    The lean twin of :func:`atomic_open` for data already in memory (a step's result, a
    control request): no file object, no random name, a few system calls, because the
    runner writes one per step.
    """
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(folder)


def atomic_write_text(path: str, text: str, fsync: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w", fsync=fsync) as handle:
        handle.write(text)


def atomic_dump(path: str, dump: Callable[[IO], None], fsync: bool = True) -> None:
    """Call ``dump(handle)`` on a binary temporary file that then replaces ``path``."""
    with atomic_open(path, "wb", fsync=fsync) as handle:
        dump(handle)
