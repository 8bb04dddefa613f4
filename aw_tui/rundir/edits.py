"""The one encoding of edited kwargs, and the rule an edit must follow.

Edited kwargs are written as JSON in control requests and ``edit_applied`` events with
:func:`encode_kwargs` and read back with :func:`decode_kwargs`, which keep TOML's dates and
times (tagged as ``{"$datetime": "..."}``, ``{"$date": ...}``, ``{"$time": ...}``).
:func:`check_kwargs` is the rule of an ``e`` edit in the TUI, applied to every edit.
"""

from __future__ import annotations

import contextlib
import datetime
import math
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_DEPTH", "check_kwargs", "decode_kwargs", "encode_kwargs"]

#: How deep edited kwargs may nest (tables and arrays).
MAX_DEPTH = 64

_TAGS: dict[str, Callable[[str], Any]] = {
    "$datetime": datetime.datetime.fromisoformat,
    "$date": datetime.date.fromisoformat,
    "$time": datetime.time.fromisoformat,
}


def encode_kwargs(value: Any) -> Any:
    """The JSON form of edited kwargs: TOML's dates and times tagged, tuples as lists.

    Anything TOML cannot hold becomes its ``repr`` (only in journal events of edits made
    from Python; :func:`check_kwargs` refuses it in an edit).
    """
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): encode_kwargs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_kwargs(v) for v in value]
    return repr(value)


def decode_kwargs(value: Any) -> Any:
    """The inverse of :func:`encode_kwargs` (tagged dates and times back to objects)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, text), = value.items()
            if key in _TAGS and isinstance(text, str):
                with contextlib.suppress(ValueError):
                    return _TAGS[key](text)
        return {k: decode_kwargs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_kwargs(v) for v in value]
    return value


def check_kwargs(func_kwargs: Any) -> str | None:
    """Why ``func_kwargs`` cannot be an edit (None when it can).

    The rule of an ``e`` edit in the TUI: a table of what TOML can express (strings,
    numbers, booleans, dates and times, arrays and tables; no None, no objects), string
    keys, at most :data:`MAX_DEPTH` levels.
    """
    if not isinstance(func_kwargs, dict):
        return f"func_kwargs must be a table, not {type(func_kwargs).__name__}"

    def bad(value: Any, where: str, depth: int) -> str | None:
        if depth > MAX_DEPTH:
            return f"{where}: nested more than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return f"{where}: key {key!r} is not a string"
                found = bad(item, f"{where}.{key}" if where else key, depth + 1)
                if found:
                    return found
            return None
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                found = bad(item, f"{where}[{index}]", depth + 1)
                if found:
                    return found
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None  # TOML has inf and nan
        if isinstance(value, (bool, int, float, str, datetime.date, datetime.time)):
            return None
        return f"{where} = {value!r} ({type(value).__name__}) is not a TOML value"

    return bad(func_kwargs, "", 0)
