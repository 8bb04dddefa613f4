"""gc_paused: the collector is off inside, back on after the last block, in any thread."""

from __future__ import annotations

import gc
import threading

from aw_tui.base.gcpause import gc_paused


def test_nested_and_threaded_blocks_restore_the_collector() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def other_thread() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other_thread)
    worker.start()
    assert inside.wait(5)
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's block is still open
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_frozen_freezes_inside_and_unfreezes_after_the_last_block() -> None:
    from aw_tui.base.gcpause import gc_frozen

    assert gc.get_freeze_count() == 0
    with gc_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0 and gc.isenabled()
        with gc_frozen():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_gc_frozen_leaves_objects_someone_else_froze() -> None:
    from aw_tui.base.gcpause import gc_frozen

    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with gc_frozen():
            assert gc.get_freeze_count() == before
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()


def test_gc_frozen_freezes_what_survives_a_full_collection_and_frees_the_rest() -> None:
    import weakref

    from aw_tui.base.gcpause import gc_frozen

    class Node:
        pass

    with gc_frozen():
        frozen = gc.get_freeze_count()
        kept = [Node() for _ in range(1000)]
        cycle = Node()
        cycle.self = cycle
        ref = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert ref() is None  # made inside: collected
        assert gc.get_freeze_count() >= frozen + len(kept)  # survivors frozen
    assert gc.get_freeze_count() == 0
    assert all(callback.__name__ != "_freeze_survivors" for callback in gc.callbacks)
