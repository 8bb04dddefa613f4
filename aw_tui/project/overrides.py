"""Per-member overrides of a ``foreach`` step: ``[steps.items."<item key>".kwargs]``.

A ``foreach`` step's ``kwargs`` are its template, evaluated for every member. A member may
differ: the table ``steps.items.<item key>.kwargs`` is evaluated for that member only (with
the same ``{...}`` references as the template: ``{item...}``, ``{outputs...}``) and merged
over the template's evaluated kwargs, tables key by key, every other value replacing the
template's::

    [[steps]]
    name = "detect"
    foreach = "exposures"
    [steps.kwargs.api_kwargs.config]
    DETECT_THRESH = 3
    [steps.items."206401".kwargs.api_kwargs.config]
    DETECT_THRESH = 7          # only detect[206401]

The item key is the one of the step's identity (``detect[206401]``, see
:func:`aw_tui.project.steps.item_key`).
"""

from __future__ import annotations

from typing import Any

from aw_tui.project.errors import Reporter
from aw_tui.project.interpolate import did_you_mean, type_name
from aw_tui.project.schema import ITEM_OVERRIDE_KEYS

__all__ = ["ITEMS_KEY", "check_overrides", "deep_merge"]

#: The key of a ``[[steps]]`` table that holds its members' overrides.
ITEMS_KEY = "items"
#: How many item keys an error message lists.
_SHOWN_KEYS = 8


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged over ``base``: tables merge key by key, other values replace.

    Parameters
    ----------
    base, over : dict
        Evaluated kwargs (neither is changed).

    Returns
    -------
    dict
        A new dict; tables that both hold are new dicts too.
    """
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def _keys_text(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > _SHOWN_KEYS else "")


def _deepest_table(value: Any, keypath: str) -> str:
    """The key path of the first innermost table of ``value`` (the ``[header]`` that names
    it in the file, whose line an error points to)."""
    while isinstance(value, dict):
        tables = [(k, v) for k, v in value.items() if isinstance(v, dict)]
        if not tables:
            break
        key, value = tables[0]
        keypath = f"{keypath}.{key}"
    return keypath


def check_overrides(
    entry: dict[str, Any],
    kp: str,
    report: Reporter,
    item_keys: list[str] | None,
    name: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Check a step's ``items`` table; return each member's override kwargs as written.

    Parameters
    ----------
    entry : dict
        The ``[[steps]]`` table.
    kp : str
        Its key path (``steps[0]``).
    report : Reporter
        Where problems go.
    item_keys : list of str or None
        The item keys of its ``foreach`` members, in order; None for a step without
        ``foreach``; an empty list when the input set is empty (files not checked): the
        keys of ``items`` are then not checked.
    name : str, optional
        The step's name (for the messages).

    Returns
    -------
    dict
        ``item key -> kwargs table`` (as written, not evaluated) of the well-formed
        overrides; empty when the step has none.
    """
    raw = entry.get(ITEMS_KEY)
    if raw is None:
        return {}
    where = f"{kp}.{ITEMS_KEY}"
    if item_keys is None:
        report.error(where, "per-member overrides (items) are only for foreach steps",
                     'add foreach = "SET" to this step, or move these kwargs into its '
                     "[steps.kwargs] table")
        return {}
    if not isinstance(raw, dict):
        report.error(where, f"items must be a table of item keys, got {type_name(raw)}",
                     'write [steps.items."KEY".kwargs] tables, KEY an item key such as '
                     + (repr(item_keys[0]) if item_keys else "'206401'"))
        return {}
    known = set(item_keys)
    out: dict[str, dict[str, Any]] = {}
    for key, override in raw.items():
        okp = f"{where}.{key}"
        if item_keys and key not in known:
            hint = did_you_mean(key, item_keys)
            report.error(okp, f"no member with the item key '{key}' in this foreach step",
                         (hint + " " if hint else "") + "item keys: " + _keys_text(item_keys)
                         + f" (the key in the step's identity, {name or kp}[KEY])",
                         at=_deepest_table(override, okp))
            continue
        if not isinstance(override, dict):
            report.error(okp, f"must be a table with kwargs, got {type_name(override)}",
                         f'write [steps.items."{key}".kwargs] with key = value lines')
            continue
        report.unknown_keys(override, ITEM_OVERRIDE_KEYS, okp, f'an items."{key}" table')
        kwargs = override.get("kwargs", {})
        if not isinstance(kwargs, dict):
            report.error(f"{okp}.kwargs", f"kwargs must be a table, got {type_name(kwargs)}",
                         f'write [steps.items."{key}".kwargs] with key = value lines')
            continue
        if kwargs:
            out[key] = kwargs
    return out
