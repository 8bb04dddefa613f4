"""A run leaves the pipeline out of the collector's walks (gc.freeze) and still collects the
cyclic garbage its steps make; nothing stays frozen after it."""

from __future__ import annotations

import gc
import weakref

import pytest

from aw_tui.pipeline import Pipeline, PipelineError

SEEN: list[tuple[int, bool]] = []


class Node:
    def __init__(self) -> None:
        self.self = self


def make_garbage() -> dict:
    node = Node()
    ref = weakref.ref(node)
    del node
    gc.collect()
    SEEN.append((gc.get_freeze_count(), ref() is None))
    return {"status": "success"}


def fails() -> dict:
    return {"status": "error", "error_msg": "on purpose"}


@pytest.mark.parametrize("with_log", [True, False])
def test_a_run_freezes_what_existed_and_collects_what_it_made(tmp_path, with_log) -> None:
    SEEN.clear()
    paths = {"log": str(tmp_path / "log"), "temp": str(tmp_path)} if with_log else {}
    pipe = Pipeline(paths, create_paths=True)
    pipe.add_step(make_garbage, ["a"])
    pipe.add_step(make_garbage, ["b"])
    pipe.add_step(fails, ["c"])
    assert gc.get_freeze_count() == 0
    with pytest.raises(PipelineError):
        pipe.run()
    assert gc.get_freeze_count() == 0
    assert len(SEEN) == 2
    assert all(frozen > 0 and collected for frozen, collected in SEEN)
