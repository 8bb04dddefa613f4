"""keyword_names: what a step function takes by keyword, remembered for plain functions
only while their code and defaults stay the same."""

from __future__ import annotations

import functools
import inspect

from aw_tui.engine.steps import accepts_argument, keyword_names


def step(a, pipeline=None, *args, step_id=0, **kwargs):
    return a


def test_names_and_accepts_argument() -> None:
    assert keyword_names(step) == {"a", "pipeline", "step_id"}
    assert accepts_argument(step, "pipeline") and not accepts_argument(step, "kwargs")
    assert keyword_names(42) == frozenset()  # no signature


def test_a_changed_function_is_looked_at_again() -> None:
    def func(a):
        return a

    assert keyword_names(func) == {"a"}
    func.__code__ = (lambda a, pipeline: a).__code__
    assert keyword_names(func) == {"a", "pipeline"}


def test_declared_signatures_and_callables_are_looked_up_each_time() -> None:
    def inner(step_id):
        return step_id

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        return inner(*args, **kwargs)

    assert keyword_names(wrapper) == {"step_id"}
    wrapper.__wrapped__ = step
    assert keyword_names(wrapper) == {"a", "pipeline", "step_id"}

    class Ref:
        sig = inspect.signature(inner)

        @property
        def __signature__(self):
            return self.sig

        def __call__(self, *args, **kwargs):
            return None

    ref = Ref()
    assert keyword_names(ref) == {"step_id"}
    Ref.sig = inspect.signature(step)
    assert keyword_names(ref) == {"a", "pipeline", "step_id"}
