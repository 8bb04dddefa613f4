"""Follow the output files of steps run elsewhere and hand their bytes to listeners.

A step on a Dask worker cannot call the runner's output listeners (``--verbose`` echoes the
tools' output); its ``steps/<id>.out`` on the shared file system is followed instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

__all__ = ["OutputEcho"]


class OutputEcho(threading.Thread):
    """Hand what remote steps write to ``steps/<id>.out`` to the run's output listeners.

    A step on a Dask worker cannot call the runner's listeners (``--verbose`` echoes the
    tools' output); on the shared file system its output file can be followed instead, as
    the TUI does. Each followed file is read to its end once its future is done.

    Parameters
    ----------
    interval : float
        Seconds between two looks at the files.
    """

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(name="aw-tui dask output echo", daemon=True)
        self.interval = interval
        self._lock = threading.Lock()
        self._followed: list[list[Any]] = []  # [future, path, offset, listeners]
        self._stopping = threading.Event()

    def follow(self, future: Any, path: str, listeners: list[Any]) -> None:
        """Echo ``path`` to ``listeners`` until ``future`` is done."""
        with self._lock:
            self._followed.append([future, path, 0, list(listeners)])

    def stop(self) -> None:
        """Echo what is left, then end the thread."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=5)

    def run(self) -> None:
        """Look at the followed files every `interval` seconds."""
        while True:
            stopping = self._stopping.wait(self.interval)
            with self._lock:
                followed = list(self._followed)
            for entry in followed:
                done = stopping or entry[0].done()
                self._read(entry)
                if done:
                    with self._lock, contextlib.suppress(ValueError):
                        self._followed.remove(entry)
            if stopping:
                return

    @staticmethod
    def _read(entry: list[Any]) -> None:
        """Pass the bytes appended since the last look (from the start if truncated)."""
        _future, path, offset, listeners = entry
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < offset:  # the step runs again (another worker): start afresh
                    offset = 0
                handle.seek(offset)
                data = handle.read(size - offset)
        except OSError:
            return
        entry[2] = offset + len(data)
        if data:
            for listener in listeners:
                with contextlib.suppress(Exception):
                    listener(data)
