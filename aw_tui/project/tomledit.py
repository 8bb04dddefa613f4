"""Write step kwargs as TOML for editing, and read them back (``tomllib``/``tomli``)."""

from __future__ import annotations

import datetime
import json
import math
import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["TomlWriteError", "dumps", "loads"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class TomlWriteError(ValueError):
    """A value TOML cannot express (None, an object...)."""


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v, f'{path}.{k}')}" for k, v in value.items())
        return "{" + items + "}"
    if hasattr(value, "__fspath__"):
        return json.dumps(str(value))
    raise TomlWriteError(
        f"{path} = {value!r} ({type(value).__name__}) cannot be written as TOML; edit this "
        "step from Python instead (load_pipeline, change step.func_kwargs, then resume)"
    )


def dumps(data: dict[str, Any]) -> str:
    """TOML text for a dict: scalars and lists first, nested dicts as [tables]."""
    lines: list[str] = []

    def table(prefix: str, mapping: dict[str, Any]) -> None:
        scalars = [(k, v) for k, v in mapping.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in mapping.items() if isinstance(v, dict)]
        if prefix and (scalars or not tables):
            lines.append(f"[{prefix}]")
        for key, value in scalars:
            if value is None:
                raise TomlWriteError(
                    f"{prefix + '.' if prefix else ''}{key} is None, which TOML cannot "
                    "express; edit this step from Python instead"
                )
            lines.append(f"{_key(key)} = {_value(value, f'{prefix}.{key}' if prefix else key)}")
        if scalars and tables:
            lines.append("")
        for key, value in tables:
            table(f"{prefix}.{_key(key)}" if prefix else _key(key), value)
            lines.append("")

    table("", data)
    return "\n".join(lines).rstrip() + "\n"


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text (raises ``tomllib.TOMLDecodeError`` with line and column)."""
    return tomllib.loads(text)
