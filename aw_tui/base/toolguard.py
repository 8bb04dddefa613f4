"""A tool dies with its runner: one small watchdog process per runner (issue 16).

A runner (or a Dask worker) killed with ``kill -9`` must not leave its tools writing a
step's outputs while a resumed run does the same step again. Each process that starts tools
also starts, once, a tiny watchdog (``python -S -c``, in its own session so Ctrl-C and the
tools' group kills miss it). The runner writes ``+<pgid>`` to the watchdog's stdin when a
tool starts and ``-<pgid>`` when it ended; when that pipe reaches end of file -- the runner
is gone, however it died -- the watchdog SIGKILLs every process group still listed, then
exits. That costs two small pipe writes per tool instead of an extra ``exec`` per tool (what
``setpriv --pdeathsig`` cost: ~1.5 ms a tool).

The window between a tool's ``fork`` and its ``+<pgid>`` line is microseconds; a runner
killed inside it leaves that tool alone. A child made by ``fork`` (multiprocessing) does not
inherit the runner's watchdog: it starts its own when it starts a tool.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["ToolGuard", "tool_guard"]

# The watchdog: reads +pgid / -pgid lines until EOF, then kills what is left.
_WATCHDOG = """
import os, signal
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
    signal.signal(s, signal.SIG_IGN)
groups, rest = set(), b""
while True:
    try:
        data = os.read(0, 65536)
    except InterruptedError:
        continue
    if not data:
        break
    *lines, rest = (rest + data).split(b"\\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class ToolGuard:
    """The watchdog of this process: :meth:`watch` a tool's group, :meth:`forget` it after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._owner: int | None = None  # the pid that started the watchdog
        self._broken = False

    def available(self) -> bool:
        """Start the watchdog if needed; False where it cannot run (then use another way)."""
        if self._broken:
            return False
        if self._fd is not None and self._owner == os.getpid():
            return True
        with self._lock:
            if self._fd is None or self._owner != os.getpid():
                self._start()
        return not self._broken

    def _start(self) -> None:
        read_end, write_end = os.pipe()
        try:
            self._pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-S", "-E", "-c", _WATCHDOG],
                dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0)],
                setsid=True,
            )
        except (OSError, TypeError, NotImplementedError):
            os.close(write_end)
            self._broken = True
            return
        finally:
            os.close(read_end)
        self._fd = write_end
        self._owner = os.getpid()

    def _send(self, line: bytes) -> bool:
        fd = self._fd
        if fd is None or self._owner != os.getpid():
            return False
        try:
            os.write(fd, line)  # shorter than PIPE_BUF: atomic among threads
        except OSError:  # the watchdog died: tools started from now use the fallback
            self._broken = True
            return False
        return True

    def watch(self, pgid: int) -> bool:
        """Kill process group ``pgid`` if this process dies before :meth:`forget`."""
        return self._send(b"+%d\n" % pgid)

    def forget(self, pgid: int) -> None:
        """The group ``pgid`` ended (or was killed): no longer the watchdog's."""
        self._send(b"-%d\n" % pgid)

    def after_fork(self) -> None:
        """In a forked child: drop the parent's watchdog (the child starts its own)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._lock = threading.Lock()
        self._fd = None
        self._pid = None
        self._owner = None

    @property
    def pid(self) -> int | None:
        """The watchdog's pid, once started."""
        return self._pid


#: The watchdog of this process.
tool_guard = ToolGuard()
os.register_at_fork(after_in_child=tool_guard.after_fork)
