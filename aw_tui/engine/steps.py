"""A pipeline's steps: :class:`PipelineStep`, the :class:`StepList` of them, and how a step
function is named and called."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from types import FunctionType
from typing import Any

from aw_tui.engine.checks import parse_checks

__all__ = [
    "PipelineStep", "StepList", "accepts_argument", "check_timeout", "func_label", "keyword_names",
]


def check_timeout(timeout: Any) -> float | None:
    """``timeout`` as seconds (a positive finite number) or None.

    Raises
    ------
    ValueError
        For anything else (a bool, text, zero, a negative or infinite number).
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
        0 < timeout < float("inf")
    ):
        raise ValueError(
            f"timeout = {timeout!r}: give the seconds a step may run as a positive number "
            "(e.g. timeout = 600), or leave it out for no limit"
        )
    return float(timeout)


class StepList(list):
    """A list of steps that also accepts a step as its own index.

    The seed's "Editing a Step" writes ``idx = pipeline.run_steps[pipeline.run_step_idx]``
    and then ``pipeline.steps[idx]``: here that gives the same step back.
    """

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, PipelineStep):
            for step in self:
                if step is item or step.step_id == item.step_id:
                    return step
            raise IndexError(f"step {item.step_id} is not in this list")
        return super().__getitem__(item)


class PipelineStep:
    """One step: a function, its tags, its error policy and its keyword arguments.

    Parameters
    ----------
    func : callable
        Returns a dict with a ``status`` of ``'success'`` or ``'error'``. It receives
        ``pipeline`` and ``step_id`` too when its signature names them.
    step_id : int
        Unique id of the step in its pipeline.
    tags : list of str
        Labels used by ``run(run_tags=..., ignore_tags=...)``.
    ignore_errors : bool
        Log an ``error`` result, warn, and go on instead of stopping the run.
    ignore_exceptions : bool
        Turn an exception into an ``error`` result (with the traceback) and go on.
    func_kwargs : dict
        Keyword arguments for ``func``.
    independent : bool
        The step may run at the same time as its neighbours that are also independent and
        share its ``group`` (see the parallel executors). Never guessed: declared.
    group : str, optional
        Name of the group of independent steps this step belongs to.
    timeout : float, optional
        Seconds the step may run. The tools it runs are stopped when it is over (their
        whole process groups) and the step is recorded as an error naming the timeout.
        None (default): no limit.
    checks : list of str, optional
        Quality checks on the step's summary (:mod:`aw_tui.engine.checks`).
    check_severity : str
        ``error`` (a failing check fails the step) or ``warn`` (it gives a ``warn`` verdict).

    Attributes
    ----------
    identity : str
        What names the step across edits of its definition: a project step's name and
        ``foreach`` item key (``detect[206401]``); ``str(step_id)`` for a step added in
        Python. Records of what a step ran with (:mod:`aw_tui.rundir.provenance`) are
        matched by it.
    provenance : dict or None
        What the step's last run ran with and read and wrote (set when it finishes).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        step_id: int,
        tags: Iterable[str] | None = None,
        ignore_errors: bool = False,
        ignore_exceptions: bool = False,
        func_kwargs: dict[str, Any] | None = None,
        independent: bool = False,
        group: str | None = None,
        timeout: float | None = None,
        checks: Iterable[str] | None = None,
        check_severity: str = "error",
    ) -> None:
        self.func = func
        self.step_id = step_id
        self.tags = list(tags or [])
        self.ignore_errors = ignore_errors
        self.ignore_exceptions = ignore_exceptions
        self.func_kwargs = func_kwargs if func_kwargs is not None else {}
        self.results: dict[str, Any] | None = None
        self.independent = independent
        self.group = group
        self.timeout = check_timeout(timeout)
        parse_checks(checks, check_severity)  # refuse a check that cannot be read, now
        self.checks = [checks] if isinstance(checks, str) else list(checks or [])
        self.check_severity = check_severity
        self.identity = str(step_id)
        self.provenance: dict[str, Any] | None = None

    @property
    def func_name(self) -> str:
        """A readable name of the step's function."""
        return func_label(self.func)

    def __repr__(self) -> str:
        return f"<PipelineStep {self.step_id} {self.func_name} tags={self.tags}>"

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("independent", False)
        state.setdefault("group", None)
        state.setdefault("timeout", None)  # checkpoints written before steps had one
        state.setdefault("checks", [])
        state.setdefault("check_severity", "error")
        state.setdefault("identity", str(state.get("step_id")))
        state.setdefault("provenance", None)
        self.__dict__.update(state)


def func_label(func: Any) -> str:
    """The name a view shows for a step function."""
    label = getattr(func, "label", None)
    if isinstance(label, str):
        return label
    return getattr(func, "__name__", None) or type(func).__name__


#: Keyword names of plain functions already looked at: id -> (function, its code,
#: defaults, keyword defaults, names). Looking at a signature costs ~10 us, twice per step.
_keyword_cache: dict[int, tuple[Any, Any, Any, Any, frozenset[str]]] = {}
_KEYWORD_CACHE_SIZE = 4096


def keyword_names(func: Callable[..., Any]) -> frozenset[str]:
    """The names ``func`` takes as keyword arguments (empty if it has no signature).

    Remembered for plain functions while their code and defaults stay the same; looked up
    each time for other callables (a project's ``FuncRef`` names a function in a file that
    may change), and for functions that declare another signature (``__wrapped__``,
    ``__signature__``).
    """
    plain = type(func) is FunctionType and not (
        "__wrapped__" in func.__dict__ or "__signature__" in func.__dict__)
    if plain:
        cached = _keyword_cache.get(id(func))
        if (cached is not None and cached[0] is func and cached[1] is func.__code__
                and cached[2] is func.__defaults__ and cached[3] is func.__kwdefaults__):
            return cached[4]
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    names = frozenset(
        name for name, param in params.items()
        if param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )
    if plain:
        if len(_keyword_cache) >= _KEYWORD_CACHE_SIZE:
            _keyword_cache.clear()
        _keyword_cache[id(func)] = (func, func.__code__, func.__defaults__,  # type: ignore[attr-defined]
                                    func.__kwdefaults__, names)  # type: ignore[attr-defined]
    return names


def accepts_argument(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes a keyword argument called ``name``."""
    return name in keyword_names(func)
