"""Keep Python's cyclic garbage collector from walking big structures again and again.

Loading a 50,000-step checkpoint or building 50,000 table rows allocates hundreds of
thousands of objects that all survive; each allocation burst triggers collections that
walk everything allocated so far, which made loading three times slower. Nothing built in
these phases is cyclic garbage, so pausing the collector loses nothing (:func:`gc_paused`).

A run is the other case: the pipeline (millions of objects for 100,000 steps) lives through
it, and each full collection the run's own allocations trigger walks all of it again (about
a second each at 100,000 steps, two to four of them in a run, how many depending on what the
process allocated before). :func:`gc_frozen` leaves what exists when the run starts out of
the collector's walks; what the run allocates is collected as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_frozen", "gc_paused"]

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


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Leave the objects that exist now out of the collector's walks inside the block.

    :func:`gc.freeze` on the way in, :func:`gc.unfreeze` when the last block (of any
    thread) ends: the collector keeps running for what is allocated inside, so cyclic
    garbage made inside is still freed, while cycles among the objects that existed before
    are only found after the block. If something else froze objects first
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
        _frozen_depth += 1
    try:
        yield
    finally:
        with _lock:
            _frozen_depth -= 1
            if _frozen_depth == 0 and _unfreeze:
                gc.unfreeze()
                _unfreeze = False
