"""SIGTERM and SIGHUP as :class:`~aw_tui.engine.errors.RunInterrupted` in the main thread."""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

from aw_tui.engine.errors import RunInterrupted

__all__ = ["interrupt_main_thread", "interrupt_signals"]


@contextlib.contextmanager
def interrupt_signals(on_signal: Callable[[str], str | None] | None = None):
    """Turn SIGTERM and SIGHUP into :class:`RunInterrupted` in the main thread.

    ``on_signal(name)`` may rename the reason, or return None to ignore the signal (the run
    is already stopping).

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        reason: str | None = signal.Signals(signum).name
        if on_signal is not None:
            reason = on_signal(reason)
            if reason is None:  # already stopping: let the rescue checkpoint finish
                return
        raise RunInterrupted(reason)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, handler)
    _handlers_installed.append(handler)
    try:
        yield
    finally:
        _handlers_installed.remove(handler)
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)


#: The handlers :func:`interrupt_signals` has installed and not yet removed.
_handlers_installed: list[Any] = []


def interrupt_main_thread() -> bool:
    """Raise :class:`RunInterrupted` in the main thread, waking it from a blocking call.

    Only when :func:`interrupt_signals` handles SIGTERM there (a run in the main thread):
    a real signal interrupts ``time.sleep``, ``os.read`` and the like at once. Returns
    whether the main thread was signalled.
    """
    if not _handlers_installed or signal.getsignal(signal.SIGTERM) is not _handlers_installed[-1]:
        return False
    main = threading.main_thread().ident
    if main is None:
        return False
    try:
        signal.pthread_kill(main, signal.SIGTERM)
    except (OSError, ValueError):
        _thread.interrupt_main(signal.SIGTERM)
    return True
