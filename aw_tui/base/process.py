"""Run one external command: argv list, own process group, raw output streamed as it comes.

Stdout and stderr share one pipe, so the bytes keep the order the tool wrote them in. Each
chunk is appended unmodified to the step's output file (``steps/<id>.out`` when a step is
running, see :mod:`aw_tui.base.stepcontext`) and handed to live listeners. Stopping the run
(Ctrl-C, SIGTERM, a stop request) ends the whole process group. On Linux a tool also dies
with the process that started it (through util-linux's ``setpriv --pdeathsig``): a runner or
Dask worker killed with ``kill -9`` does not leave a tool writing the step's outputs while a
resumed run does the same step again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aw_tui.base.stepcontext import current_step

__all__ = ["CommandResult", "run_command", "terminate_all"]

#: How much output is kept in memory for error scanning (head and tail beyond it).
CAPTURE_LIMIT = 8 * 1024 * 1024
_HEAD_KEEP = 1024 * 1024

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
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None:
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


def run_command(
    argv: Sequence[str],
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    output_path: str | None = None,
    listeners: Iterable[Callable[[bytes], None]] = (),
    header: bytes | None = None,
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

    Returns
    -------
    CommandResult
        Exit code, duration and output. A tool that cannot be started raises
        ``FileNotFoundError``/``PermissionError`` as ``subprocess`` does.
    """
    argv = [os.fspath(a) for a in argv]
    context = current_step()
    if output_path is None and context is not None:
        output_path = context.output_path
    all_listeners = list(listeners)
    if context is not None:
        all_listeners.extend(context.listeners)
    out_fd = None
    if output_path:
        os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
        out_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if header:
            os.write(out_fd, header)
    spawn = argv
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
    with _running_lock:
        _running.add(proc)
    head = bytearray()
    tail = bytearray()
    nbytes = 0
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            nbytes += len(chunk)
            if out_fd is not None:
                view = memoryview(chunk)
                while view:
                    written = os.write(out_fd, view)
                    view = view[written:]
            for listener in all_listeners:
                with contextlib.suppress(Exception):
                    listener(chunk)
            if len(head) < _HEAD_KEEP:
                room = _HEAD_KEEP - len(head)
                head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                tail += chunk
                if len(tail) > CAPTURE_LIMIT - _HEAD_KEEP:
                    del tail[: len(tail) - (CAPTURE_LIMIT - _HEAD_KEEP)]
        returncode = proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _running_lock:
            _running.discard(proc)
        with contextlib.suppress(Exception):
            proc.stdout.close()  # type: ignore[union-attr]
        if out_fd is not None:
            os.close(out_fd)
    kept = nbytes - len(head) - len(tail)
    output = bytes(head)
    if kept > 0:
        output += f"\n[... {kept} bytes not kept in memory ...]\n".encode()
    output += bytes(tail)
    return CommandResult(
        argv=argv,
        returncode=returncode,
        duration=time.monotonic() - start,
        output=output,
        output_path=output_path,
        nbytes=nbytes,
    )
