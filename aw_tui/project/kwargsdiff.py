"""Compare a step's kwargs: which keys an edit changes, and how values are written.

The pieces of :mod:`aw_tui.project.fileedit` that know nothing of TOML files: a key path's
change (:class:`KeyChange`), the difference of two kwargs (:func:`diff_kwargs`), equality
that tells ``1``, ``1.0`` and ``true`` apart (:func:`same_value`), references in a value as
written (:func:`has_reference`) and the literal that evaluates to a value (:func:`literal`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from aw_tui.project.errors import visible
from aw_tui.project.interpolate import InterpolationError, compile_template, has_refs

__all__ = [
    "MISSING",
    "KeyChange",
    "apply_changes",
    "diff_kwargs",
    "get_path",
    "has_reference",
    "literal",
    "merge_raw",
    "same_value",
    "short_value",
]


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


#: A key that is not there (before an addition, after a removal).
MISSING: Any = _Missing()


@dataclass
class KeyChange:
    """One key of a step's kwargs that an edit changes.

    Attributes
    ----------
    path : tuple of str
        Its path in the kwargs (``("api_kwargs", "config", "DETECT_THRESH")``).
    old, new : object
        The evaluated value before and after (:data:`MISSING`: added or removed).
    """

    path: tuple[str, ...]
    old: Any
    new: Any

    @property
    def dotted(self) -> str:
        """The path as ``api_kwargs.config.DETECT_THRESH``."""
        return ".".join(self.path)

    def describe(self) -> str:
        """``api_kwargs.config.DETECT_THRESH 3 -> 7`` (``(none)`` for a missing side)."""
        return f"{self.dotted} {short_value(self.old)} -> {short_value(self.new)}"


def short_value(value: Any, limit: int = 60) -> str:
    """``value`` for a message: text in quotes, ``true``/``false``, at most ``limit``
    characters, control characters made visible; :data:`MISSING` as ``(none)``."""
    if value is MISSING:
        return "(none)"
    if isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = repr(value)
    text = visible(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``1``, ``1.0`` and ``true`` apart (tables: key by key)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def diff_kwargs(old: dict[str, Any], new: dict[str, Any],
                prefix: tuple[str, ...] = ()) -> list[KeyChange]:
    """The keys whose values differ between two kwargs (tables compared key by key; the
    order of keys does not count)."""
    changes = [KeyChange((*prefix, key), value, MISSING)
               for key, value in old.items() if key not in new]
    for key, value in new.items():
        if key not in old:
            changes.append(KeyChange((*prefix, key), MISSING, value))
        elif isinstance(old[key], dict) and isinstance(value, dict):
            changes.extend(diff_kwargs(old[key], value, (*prefix, key)))
        elif not same_value(old[key], value):
            changes.append(KeyChange((*prefix, key), old[key], value))
    return changes


def apply_changes(kwargs: dict[str, Any], changes: list[KeyChange]) -> dict[str, Any]:
    """A copy of ``kwargs`` with ``changes`` made (tables made where missing; a removal of
    a missing key does nothing)."""
    out = copy.deepcopy(kwargs)
    for change in changes:
        table = out
        for key in change.path[:-1]:
            if not isinstance(table.get(key), dict):
                table[key] = {}
            table = table[key]
        if change.new is MISSING:
            table.pop(change.path[-1], None)
        else:
            table[change.path[-1]] = copy.deepcopy(change.new)
    return out


def get_path(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return MISSING
        tree = tree[key]
    return tree


def merge_raw(base: Any, over: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    merged = dict(base)
    for key, value in over.items():
        merged[key] = merge_raw(merged[key], value) if key in merged else value
    return merged


def has_reference(raw: Any) -> bool:
    """Whether a value as written holds a ``{...}`` reference (escaped braces are none)."""
    if isinstance(raw, dict):
        return any(has_reference(v) for v in raw.values())
    if isinstance(raw, list):
        return any(has_reference(v) for v in raw)
    if not isinstance(raw, str) or not has_refs(raw):
        return False
    try:
        parts = compile_template(raw)
    except InterpolationError:
        return True
    return any(not isinstance(part, str) for part in parts or ())


def literal(value: Any) -> Any:
    """``value`` as written in a project file so that it evaluates to itself: the braces
    of its strings doubled (``{`` -> ``{{``)."""
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}")
    if isinstance(value, dict):
        return {key: literal(sub) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [literal(sub) for sub in value]
    return value
