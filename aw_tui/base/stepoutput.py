"""What a Python step prints goes to its own output file, as a tool's output does.

While steps run, :func:`capture_python_output` puts a router in place of ``sys.stdout`` and
``sys.stderr``. Text written in a step's context (:func:`aw_tui.base.stepcontext.current_step`)
is appended to that step's ``steps/<id>.out`` and handed to its listeners (``--verbose``
echoes it); text written anywhere else goes to the original stream. A thread that a step
starts does not inherit the step's context; while exactly one step runs in the process, what
such a thread prints goes to that step too. Output written straight to the file descriptors
(C extensions, ``os.write(1, ...)``) is not seen here; commands run through
:func:`aw_tui.base.process.run_command` are captured by it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from aw_tui.base.stepcontext import StepContext, active_steps, current_step

__all__ = ["capture_python_output"]

_lock = threading.RLock()
_users = 0
_saved: tuple[Any, Any] | None = None
_inside = threading.local()


class _StepRouter(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr`` while steps run (see the module)."""

    def __init__(self, original: TextIO) -> None:
        super().__init__()
        self.original = original

    def _target(self) -> StepContext | None:
        context = current_step()
        if context is None:
            running = active_steps()
            context = running[0] if len(running) == 1 else None
        if context is None or not context.output_path:
            return None
        return context

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        context = None if getattr(_inside, "active", False) else self._target()
        if context is None:
            return self.original.write(text)
        data = text.encode("utf-8", "replace")
        _inside.active = True  # a listener that prints must not come back here
        try:
            fd = os.open(context.output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            for listener in list(context.listeners):
                with contextlib.suppress(Exception):
                    listener(data)
        except OSError:
            return self.original.write(text)
        finally:
            _inside.active = False
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.original.flush()

    def isatty(self) -> bool:
        return False if self._target() is not None else self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.original, "errors", None)


@contextlib.contextmanager
def capture_python_output() -> Iterator[None]:
    """Route what steps print to their output files for the duration of the block.

    Nestable and safe across threads: the first block in puts the routers in place, the
    last one out restores the original streams.
    """
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = (sys.stdout, sys.stderr)
            if sys.stdout is not None:
                sys.stdout = _StepRouter(sys.stdout)
            if sys.stderr is not None:
                sys.stderr = _StepRouter(sys.stderr)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved is not None:
                for name, original in zip(("stdout", "stderr"), _saved, strict=True):
                    current = getattr(sys, name)
                    if isinstance(current, _StepRouter):
                        with contextlib.suppress(Exception):
                            current.flush()
                        setattr(sys, name, original)
                _saved = None
