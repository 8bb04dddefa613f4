"""Pause Python's cyclic garbage collector while big structures are built.

Loading a 50,000-step checkpoint or building 50,000 table rows allocates hundreds of
thousands of objects that all survive; each allocation burst triggers collections that
walk everything allocated so far, which made loading three times slower. Nothing built in
these phases is cyclic garbage, so pausing the collector loses nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


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
