"""Run one external command: argv list, own process group, raw output streamed as it comes.

Stdout and stderr share one pipe, so the bytes keep the order the tool wrote them in. Each
chunk is appended unmodified to the step's output file (``steps/<id>.out`` when a step is
running, see :mod:`aw_tui.base.stepcontext`) and handed to live listeners. Stopping the run
(Ctrl-C, SIGTERM, a stop request) ends the whole process group. A tool also dies with the
process that started it (a watchdog per runner, :mod:`aw_tui.base.toolguard`; else, on Linux,
util-linux's ``setpriv --pdeathsig``): a runner or Dask worker killed with ``kill -9`` does
not leave a tool writing the step's outputs while a resumed run does the same step again.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aw_tui.base.stepcontext import current_step
from aw_tui.base.toolguard import tool_guard

__all__ = [
    "DRAIN_SECONDS",
    "CommandResult",
    "CommandTimeout",
    "dies_with_runner",
    "run_command",
    "terminate_all",
]

#: How much output is kept in memory for error scanning (head and tail beyond it).
CAPTURE_LIMIT = 8 * 1024 * 1024
_HEAD_KEEP = 1024 * 1024
#: Seconds the output pipe is still read after the tool's process ended (a background
#: child of it may hold the pipe open for much longer: it is then killed).
DRAIN_SECONDS = 0.2
# Without pidfd_open (not Linux, or Linux < 5.3): how often to look whether the tool ended.
_EXIT_POLL = 0.02
#: A read that emptied the pipe is followed by this pause before the next one, so output
#: is copied in pieces of many writes: a tool that writes each progress line on its own
#: (SExtractor's ``ESC[1M> Line:``, ~60 bytes) no longer costs its runner a wake-up, a read
#: and a write per line (20 MB: 35,000 reads, the runner ~85 % busy; ~60 reads now).
#: Output reaches the file at most this much later.
GATHER_SECONDS = 0.002
_READ_BYTES = 1024 * 1024
# The pipe's size asked for (Linux): what a tool may write while its runner pauses.
_PIPE_BYTES = 1024 * 1024

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def _executable(argv0: str, cwd: str | None, env: dict[str, str] | None) -> bool:
    """Whether ``argv0`` names a program ``subprocess`` would find and could run."""
    if os.sep in argv0:
        path = argv0 if os.path.isabs(argv0) else os.path.join(cwd or os.getcwd(), argv0)
        return os.path.isfile(path) and os.access(path, os.X_OK)
    return shutil.which(argv0, path=os.pathsep.join(os.get_exec_path(env))) is not None


@functools.lru_cache(maxsize=1)
def _die_with_parent_prefix() -> tuple[str, ...]:
    """``setpriv --pdeathsig KILL --`` where util-linux's ``setpriv`` supports it, else ().

    The tool then gets SIGKILL when the thread that started it dies. ``setpriv`` sets that
    and execs the tool (same process), so starting a tool stays a ``vfork``: a
    ``preexec_fn`` would make it a ``fork``, 20 ms in a runner holding 300 MB of steps.
    """
    if not sys.platform.startswith("linux"):
        return ()
    setpriv = shutil.which("setpriv")
    probe = shutil.which("true")
    if not setpriv or not probe:
        return ()
    prefix = (setpriv, "--pdeathsig", "KILL", "--")
    try:
        ok = subprocess.run([*prefix, probe], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else ()


def dies_with_runner() -> str | None:
    """How a tool started here dies with this process: ``"watchdog"``, ``"setpriv"`` or None."""
    if tool_guard.available():
        return "watchdog"
    return "setpriv" if _die_with_parent_prefix() else None


@dataclass
class CommandResult:
    """The end of a command.

    Attributes
    ----------
    argv : list of str
        The command as run.
    returncode : int
        The exit code (negative: killed by that signal).
    duration : float
        Wall-clock seconds.
    output : bytes
        What it printed (stdout and stderr interleaved); for very long outputs the first
        MiB, a marker, and the last bytes.
    output_path : str or None
        The file the output was also appended to.
    nbytes : int
        Total bytes printed.
    """

    argv: list[str]
    returncode: int
    duration: float
    output: bytes
    output_path: str | None
    nbytes: int

    @property
    def text(self) -> str:
        """The captured output decoded as UTF-8 (undecodable bytes replaced)."""
        return self.output.decode("utf-8", errors="replace")


def _kill_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers; reap the tool.

    The group is signalled while the tool is not yet reaped (its pid, the group's id,
    cannot have been reused), so a background child of an ended tool dies too.
    """
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if _exited(proc):
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=5)


def terminate_all() -> int:
    """End every command this process is running now (their whole process groups).

    Returns
    -------
    int
        How many commands were running.
    """
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill_group(proc)
    return len(procs)


class CommandTimeout(TimeoutError):
    """A command ran past its time limit and was stopped (its whole process group).

    Attributes
    ----------
    argv : list of str
        The command.
    timeout : float
        The limit in seconds (the command's own, or what was left of its step's).
    output : bytes
        What it printed before it was stopped (as :attr:`CommandResult.output`).
    """

    def __init__(self, argv: list[str], timeout: float, output: bytes = b"") -> None:
        super().__init__(f"{os.path.basename(argv[0])} was stopped after {timeout:g} s "
                         "(its time limit)")
        self.argv = argv
        self.timeout = timeout
        self.output = output


class _Sink:
    """Where a command's bytes go: the output file, the listeners, and head/tail in memory."""

    def __init__(self, out_fd: int | None, listeners: list[Callable[[bytes], None]],
                 path: str | None = None) -> None:
        self.out_fd = out_fd
        self.path = path
        self.listeners = listeners
        self.head = bytearray()
        self.tail = bytearray()
        self.nbytes = 0

    def feed(self, chunk: bytes) -> None:
        self.nbytes += len(chunk)
        if self.out_fd is not None:
            self.write(chunk)
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                listener(chunk)
        if len(self.head) < _HEAD_KEEP:
            room = _HEAD_KEEP - len(self.head)
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > CAPTURE_LIMIT - _HEAD_KEEP:
                del self.tail[: len(self.tail) - (CAPTURE_LIMIT - _HEAD_KEEP)]

    def write(self, data: bytes) -> None:
        """Append ``data`` to the output file; an OSError names the file (disk full ...)."""
        assert self.out_fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.out_fd, view)
                view = view[written:]
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.path) from None

    def output(self) -> bytes:
        kept = self.nbytes - len(self.head) - len(self.tail)
        output = bytes(self.head)
        if kept > 0:
            output += f"\n[... {kept} bytes not kept in memory ...]\n".encode()
        return output + bytes(self.tail)


def _exited(proc: subprocess.Popen) -> bool:
    """Whether ``proc`` has ended, without reaping it (its pid, hence its group, stays ours)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere (terminate_all)
        return True
    return info is not None


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` ends (Linux >= 5.3), or None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:
        return None


def _widen_pipe(fd: int) -> None:
    """Ask for a pipe of `_PIPE_BYTES` (Linux's F_SETPIPE_SZ), so the tool does not wait on
    a full pipe while its runner pauses (`GATHER_SECONDS`); the default stays otherwise
    (another OS, or the user's pipe quota reached)."""
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setting, _PIPE_BYTES)


def _pump(proc: subprocess.Popen, sink: _Sink, deadline: float | None) -> bool:
    """Copy the tool's output to ``sink`` until it exits; return False when ``deadline`` passed.

    The step ends when the tool's process ends, not when its output pipe closes: a
    background child the tool left holding the pipe would otherwise keep the step waiting
    (for as long as the child lives). After the tool exits, the pipe is drained for up to
    :data:`DRAIN_SECONDS` (a child's last lines), then the tool's whole process group is
    killed and the pipe closed.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    _widen_pipe(fd)
    pidfd = _pidfd(proc.pid)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    ended = select.poll()  # the gathering pause ends early when the tool ends
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
        ended.register(pidfd, select.POLLIN)
    drain_until: float | None = None
    eof = False
    try:
        while True:
            now = time.monotonic()
            limits = [t for t in (deadline, drain_until) if t is not None]
            wait = max(0.0, min(limits) - now) if limits else None
            if pidfd is None and drain_until is None:
                wait = _EXIT_POLL if wait is None else min(wait, _EXIT_POLL)
            ready = {f for f, _ in poller.poll(None if wait is None else wait * 1000)}
            if not eof and fd in ready:
                chunk = os.read(fd, _READ_BYTES)
                if chunk:
                    sink.feed(chunk)
                    if len(chunk) < _READ_BYTES and drain_until is None:
                        # Let the tool's next writes gather (not past its end).
                        if pidfd is None:
                            time.sleep(GATHER_SECONDS)
                        else:
                            ended.poll(GATHER_SECONDS * 1000)
                    continue
                # EOF: nobody holds the pipe. A tool that closed its output may still be
                # working: wait for it to end (or for the deadline).
                eof = True
                poller.unregister(fd)
                if drain_until is not None:
                    return True
                continue
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                return True  # the tool ended; a child of it still holds the pipe
            if drain_until is None and (pidfd in ready or (pidfd is None and _exited(proc))):
                if eof:
                    return True
                drain_until = now + DRAIN_SECONDS
                if pidfd is not None:
                    poller.unregister(pidfd)
                continue
            if deadline is not None and now >= deadline and drain_until is None:
                return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _read_rest(fd: int, sink: _Sink, seconds: float = 0.5) -> None:
    """What is left in the pipe once the process group is dead (bounded)."""
    end = time.monotonic() + seconds
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while (left := end - time.monotonic()) > 0:
        if not poller.poll(left * 1000):
            return
        chunk = os.read(fd, _READ_BYTES)
        if not chunk:
            return
        sink.feed(chunk)


def _kill_leftovers(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the tool's process group (background children it started).

    Called while the tool itself is still unreaped, so its pid -- the group's id -- cannot
    have been reused for another group.
    """
    if proc.returncode is not None:  # reaped by terminate_all: its group is gone
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _deadline(timeout: float | None) -> float | None:
    """The monotonic time the command must end by: its own timeout or its step's."""
    context = current_step()
    limits = [t for t in (context.deadline if context else None,) if t is not None]
    if timeout is not None:
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        limits.append(time.monotonic() + timeout)
    return min(limits) if limits else None


def run_command(
    argv: Sequence[str],
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    output_path: str | None = None,
    listeners: Iterable[Callable[[bytes], None]] = (),
    header: bytes | None = None,
    timeout: float | None = None,
) -> CommandResult:
    """Run ``argv`` (never through a shell) and stream its output.

    Parameters
    ----------
    argv : sequence of str
        Program and arguments; any character in an argument is passed as is.
    cwd : str, optional
        Working directory.
    env : dict, optional
        Environment (default: inherited).
    output_path : str, optional
        Append the raw output here. Defaults to the running step's ``steps/<id>.out``.
    listeners : iterable of callables
        Called with each raw chunk as it arrives (plus the running step's listeners).
    header : bytes, optional
        Written to the output file (not to listeners' tool stream) before the tool runs,
        e.g. the command line.
    timeout : float, optional
        Seconds the command may run; the running step's ``timeout`` (see
        :class:`aw_tui.base.stepcontext.StepContext`) limits it too.

    Returns
    -------
    CommandResult
        Exit code, duration and output. The command ends when its process ends: output a
        background child of it still writes is read for a short while
        (:data:`DRAIN_SECONDS`), then that child is killed with the rest of the tool's
        process group.

    Raises
    ------
    CommandTimeout
        When the time limit passed: the process group was stopped (SIGTERM, then SIGKILL).
    FileNotFoundError, PermissionError
        When the tool cannot be started, as ``subprocess`` raises them.
    """
    argv = [os.fspath(a) for a in argv]
    context = current_step()
    if output_path is None and context is not None:
        output_path = context.output_path
    all_listeners = list(listeners)
    if context is not None:
        all_listeners.extend(context.listeners)
    deadline = _deadline(timeout)
    out_fd = None
    if output_path:
        os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
        out_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sink = _Sink(out_fd, all_listeners, output_path)
    if out_fd is not None and header:
        try:
            sink.write(header)
        except OSError:
            os.close(out_fd)
            raise
    spawn = argv
    guarded = tool_guard.available()
    if not guarded:
        prefix = _die_with_parent_prefix()
        if prefix and _executable(argv[0], cwd, env):  # else Popen raises as it always did
            spawn = [*prefix, *argv]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            spawn,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )
    except BaseException:
        if out_fd is not None:
            os.close(out_fd)
        raise
    if guarded:
        tool_guard.watch(proc.pid)  # its group id: start_new_session made it the leader
    with _running_lock:
        _running.add(proc)
    assert proc.stdout is not None
    try:
        in_time = _pump(proc, sink, deadline)
        if in_time:
            _kill_leftovers(proc)
        else:
            _kill_group(proc)
            _read_rest(proc.stdout.fileno(), sink)
            if context is not None:
                context.timed_out = True
            raise CommandTimeout(argv, round(deadline - start, 3) if deadline else 0.0,
                                 sink.output())
        returncode = proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        if guarded:
            tool_guard.forget(proc.pid)
        with _running_lock:
            _running.discard(proc)
        with contextlib.suppress(Exception):
            proc.stdout.close()
        if out_fd is not None:
            os.close(out_fd)
    return CommandResult(
        argv=argv,
        returncode=returncode,
        duration=time.monotonic() - start,
        output=sink.output(),
        output_path=output_path,
        nbytes=sink.nbytes,
    )
