"""Keep Python's cyclic garbage collector from walking big structures again and again.

Loading a 50,000-step checkpoint or building 50,000 table rows allocates hundreds of
thousands of objects that all survive; each allocation burst triggers collections that
walk everything allocated so far, which made loading three times slower. Nothing built in
these phases is cyclic garbage, so pausing the collector loses nothing (:func:`gc_paused`).

A run is the other case: the pipeline (600,000 tracked objects for 100,000 steps) lives
through it, the run keeps five more per step (results, provenance records), and each full
collection the run's allocations trigger walked all of it again: 0.5-1.3 s each at 100,000
steps, two to four of them in a run, how many depending on what the process allocated
before. :func:`gc_frozen` leaves what exists when the run starts, and what survives each
full collection inside it, out of the later walks; the rest is collected as usual.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["gc_frozen", "gc_paused", "give_back_memory"]

_lock = threading.Lock()
_depth = 0
_resume = False
_frozen_depth = 0
_unfreeze = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector inside the block (any thread, nestable).

    The collector is enabled again when the last block ends, if it was enabled before the
    first one began.

    Examples
    --------
    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After a full collection (inside :func:`gc_frozen`): freeze what survived it."""
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Leave the objects that exist now out of the collector's walks inside the block.

    :func:`gc.freeze` on the way in, and again right after each full collection inside the
    block (what survived a full collection was just found reachable); :func:`gc.unfreeze`
    when the last block (of any thread) ends. So each full collection walks only what was
    allocated since the one before, not everything again (a run that keeps five objects per
    step walked five times what it kept). The collector keeps running: cyclic garbage made
    inside is freed; frozen objects are still freed when no longer referenced, only cycles
    among them wait for the end of the block. If something else froze objects first
    (``gc.get_freeze_count() > 0``), the block does nothing, so as not to unfreeze them.

    Examples
    --------
    >>> import gc
    >>> before = gc.get_freeze_count()
    >>> with gc_frozen():
    ...     gc.get_freeze_count() > 0
    True
    >>> gc.get_freeze_count() == before
    True
    """
    global _frozen_depth, _unfreeze
    with _lock:
        if _frozen_depth == 0:
            _unfreeze = gc.get_freeze_count() == 0
            if _unfreeze:
                gc.freeze()
                gc.callbacks.append(_freeze_survivors)
        _frozen_depth += 1
    try:
        yield
    finally:
        with _lock:
            _frozen_depth -= 1
            if _frozen_depth == 0 and _unfreeze:
                with suppress(ValueError):
                    gc.callbacks.remove(_freeze_survivors)
                gc.unfreeze()
                _unfreeze = False


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; nothing
    elsewhere). After a big phase whose temporaries are gone (a 100,000-step journal read,
    a big run's steps read again), their pages otherwise stay the process's: the next phase
    would add its own peak on top of them."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim() -> Any:
    global _TRIM
    if _TRIM is False:
        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to give back this way
            _TRIM = None
    return _TRIM


_TRIM: Any = False
