"""``Pipeline.get_step`` finds a step by its id, whether or not ids are positions."""

from __future__ import annotations

import pytest

from aw_tui import Pipeline
from aw_tui.testing_funcs import succeed


def test_get_step_by_id_when_ids_are_positions_and_when_they_are_not() -> None:
    pipe = Pipeline({})
    for n in range(5):
        pipe.add_step(succeed, [f"t{n}"], n=n)
    assert [pipe.get_step(i).func_kwargs["n"] for i in range(5)] == [0, 1, 2, 3, 4]
    del pipe.steps[1]  # ids 0, 2, 3, 4 at positions 0-3: position 2 holds id 3
    assert pipe.get_step(2).step_id == 2 and pipe.get_step(2).func_kwargs["n"] == 2
    assert pipe.get_step(4).func_kwargs["n"] == 4
    pipe.steps.reverse()  # no id at its position any more
    assert [pipe.get_step(i).func_kwargs["n"] for i in (0, 2, 3, 4)] == [0, 2, 3, 4]
    with pytest.raises(KeyError):
        pipe.get_step(1)
    with pytest.raises(KeyError):
        pipe.get_step(-1)
