"""A pipeline's steps: :class:`PipelineStep`, the :class:`StepList` of them, and how a step
function is named and called."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterable
from types import FunctionType
from typing import Any

from aw_tui.engine.checks import parse_checks

__all__ = [
    "STEP_FIELDS",
    "PipelineStep",
    "StepList",
    "accepts_argument",
    "check_timeout",
    "func_label",
    "keyword_names",
    "same_definition",
    "share_step_values",
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


#: The attributes of a :class:`PipelineStep`, in the order they are pickled.
STEP_FIELDS: tuple[str, ...] = (
    "func", "step_id", "tags", "ignore_errors", "ignore_exceptions", "func_kwargs",
    "results", "independent", "group", "timeout", "checks", "check_severity", "identity",
    "provenance",
)


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

    Notes
    -----
    The attributes are slots (:data:`STEP_FIELDS`): a step takes no other attribute
    (``AttributeError``), so 100,000 steps hold no dict each. The keys of an older
    checkpoint's step that are none of them are kept and still read as attributes.
    """

    # ``provenance`` is a property over ``_record``: a loaded checkpoint's record stays
    # the JSON text it was pickled as (one object instead of a dozen: 100,000 steps load
    # in half the time and ~45 MB smaller), decoded when asked for.
    __slots__ = (*(n for n in STEP_FIELDS if n != "provenance"), "_record", "_extra",
                 "__weakref__")

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
        self._record: dict[str, Any] | str | None = None
        self._extra: dict[str, Any] | None = None

    @property
    def provenance(self) -> dict[str, Any] | None:
        """What the step's last run ran with and read and wrote (None: it has not finished
        since aw-tui records it). A new dict each time it is read from a loaded checkpoint:
        records are read, never changed in place (a new run gives a step a new record)."""
        record = self._record
        if type(record) is str:
            return json.loads(record)
        return record

    @provenance.setter
    def provenance(self, record: dict[str, Any] | None) -> None:
        self._record = record

    @property
    def record_as_held(self) -> dict[str, Any] | str | None:
        """The provenance record as the step holds it: a dict, the JSON text of one (a
        loaded checkpoint's, or :meth:`hold_record_text`), or None. What a reader that
        decodes only what it needs takes (:func:`aw_tui.rundir.provenance.decode_record`)."""
        return self._record

    def hold_record_text(self, text: str) -> None:
        """Hold the provenance record as its JSON text (``json.dumps`` of the record's
        dict, as the journal's ``step_finished`` line has it): the checkpoint then pickles
        one string instead of a dozen objects."""
        if not (isinstance(text, str) and text.startswith("{")):
            raise ValueError(f"not the JSON text of a provenance record: {text[:40]!r}")
        self._record = text

    def take_record_of(self, other: PipelineStep) -> None:
        """Take ``other``'s results and provenance record (the objects themselves, the
        record as it is held: nothing decoded)."""
        self.results, self._record = other.results, other.record_as_held

    @property
    def func_name(self) -> str:
        """A readable name of the step's function."""
        return func_label(self.func)

    def __repr__(self) -> str:
        return f"<PipelineStep {self.step_id} {self.func_name} tags={self.tags}>"

    # A step keeps its attributes in slots (no dict each: 100,000 steps of a checkpoint
    # are ~40 MB less), yet pickles as it always did: a dict of its attributes, which
    # older checkpoints hold too. Keys of an older checkpoint that are none of them are
    # kept (``_extra``) and read as attributes.
    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails.
        if name != "_extra":
            extra = getattr(self, "_extra", None)
            if extra and name in extra:
                return extra[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __getstate__(self) -> dict[str, Any]:
        try:
            state = {  # STEP_FIELDS, written out: the quickest (a checkpoint dump)
                "func": self.func, "step_id": self.step_id, "tags": self.tags,
                "ignore_errors": self.ignore_errors,
                "ignore_exceptions": self.ignore_exceptions, "func_kwargs": self.func_kwargs,
                "results": self.results, "independent": self.independent,
                "group": self.group, "timeout": self.timeout, "checks": self.checks,
                "check_severity": self.check_severity, "identity": self.identity,
                "provenance": self._record,
            }
        except AttributeError:  # one was deleted: left out, as an older step's state
            state = {name: getattr(self, name) for name in STEP_FIELDS
                     if name != "provenance" and hasattr(self, name)}
            if hasattr(self, "_record"):
                state["provenance"] = self._record
        extra = getattr(self, "_extra", None)
        if extra:
            state.update(extra)
        return state

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots): object's default
            state = {**(state[0] or {}), **(state[1] or {})}
        extra = None
        if state.keys() != _FIELD_SET:  # an older checkpoint's step (or one with more)
            state = dict(state)
            state.setdefault("independent", False)
            state.setdefault("group", None)
            state.setdefault("timeout", None)  # checkpoints written before steps had one
            state.setdefault("checks", [])
            state.setdefault("check_severity", "error")
            state.setdefault("identity", str(state.get("step_id")))
            state.setdefault("provenance", None)
            extra = {k: v for k, v in state.items() if k not in _FIELD_SET} or None
        get = state.get  # STEP_FIELDS, written out: 100,000 steps load 0.2 s quicker
        self.func, self.step_id, self.tags = get("func"), get("step_id"), get("tags")
        self.ignore_errors, self.ignore_exceptions = get("ignore_errors"), get("ignore_exceptions")
        self.func_kwargs, self.results = get("func_kwargs"), get("results")
        self.independent, self.group, self.timeout = get("independent"), get("group"), get("timeout")
        self.checks, self.check_severity = get("checks"), get("check_severity")
        self.identity, self._record, self._extra = get("identity"), get("provenance"), extra
        if type(self._record) is dict:  # an older checkpoint's
            share_step_values(self)


_FIELD_SET = frozenset(STEP_FIELDS)
_SHARED_EMPTY: dict[str, Any] = {}
"""The one empty ``reads``/``writes`` of the provenance records of loaded steps (records are
read, never changed in place: a new run gives a step a new record)."""
_FUNC_RECORDS: dict[tuple[Any, Any], dict[str, Any]] = {}


def _shared_func_record(found: dict[str, Any]) -> dict[str, Any]:
    """One ``func`` entry of provenance records per function (a step of a 100,000-member
    ``foreach`` has the same as its 99,999 siblings)."""
    if set(found) != {"name", "source"}:
        return found
    key = (found["name"], found["source"])
    try:
        return _FUNC_RECORDS.setdefault(key, found) if len(_FUNC_RECORDS) < 4096 else found
    except TypeError:  # not hashable: kept as it is
        return found


def share_step_values(step: Any) -> None:
    """Make the equal parts of a loaded step's provenance record one object each.

    A runner's checkpoint already holds each string once (its objects were shared when it
    was written), but not the empty ``reads``/``writes`` of each record, its status word,
    nor, from older writers, its ``func`` entry (the same for every member of a ``foreach``)
    or its identity. Sharing them makes a loaded 100,000-step checkpoint ~20 MB smaller (and
    the checkpoint written from it smaller too). Only the record's parts are shared, which
    are read and never changed in place (a new run gives a step a new record); every dict
    and list the seed's API lets you change stays the step's own.
    """
    record = step.record_as_held
    if type(record) is not dict:
        return  # None, or the JSON text of a newer checkpoint (one string already)
    identity = step.identity
    found = record.get("identity")
    if found is not identity and found == identity:
        record["identity"] = identity
    found = record.get("status")
    if type(found) is str:
        record["status"] = sys.intern(found)
    found = record.get("func")
    if type(found) is dict:
        record["func"] = _shared_func_record(found)
    found = record.get("reads")
    if found is not _SHARED_EMPTY and type(found) is dict and not found:
        record["reads"] = _SHARED_EMPTY
    found = record.get("writes")
    if found is not _SHARED_EMPTY and type(found) is dict and not found:
        record["writes"] = _SHARED_EMPTY


_DEFINITION = tuple(n for n in STEP_FIELDS if n not in ("step_id", "results", "provenance"))


def same_definition(old: Any, new: PipelineStep) -> bool:
    """Whether step ``old`` is defined as ``new`` is: the same function, tags, flags,
    kwargs, checks and identity (ids, results and records aside), and no attribute of an
    older checkpoint besides. A viewer then shows ``old`` itself for ``new`` (one object per step)."""
    if type(old) is not PipelineStep or getattr(old, "_extra", None):
        return False
    try:
        return all(getattr(old, name) == getattr(new, name) for name in _DEFINITION) and \
            getattr(old.func, "spec", None) == getattr(new.func, "spec", None)
    except Exception:  # kwargs whose == is not a bool (arrays): not the same, to be safe
        return False


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
