"""Plain Python values from the tables of the tools' XML logs (numpy, masked, bytes -> JSON).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["column", "mean", "min_of", "numbers", "plain", "quad", "scalar", "sum_int", "vec"]


def plain(value: Any) -> Any:
    """Convert numpy / masked / bytes values to JSON-serialisable Python values."""
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):
        if value.ndim == 0:
            return None if value.mask else plain(value.item())
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.float32):
        # The shortest repr of the float32 (1001.08, not 1001.0800170898438).
        value = float(str(value))
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def scalar(value: Any) -> Any:
    """A one-element list (``arraysize="1"`` fields) as its element."""
    value = plain(value)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def column(table: Table | None, name: str) -> list[Any]:
    """Plain values of a column, or an empty list when the table or column is missing."""
    if table is None or name not in table.colnames:
        return []
    return [scalar(v) for v in table[name]]


def numbers(values: list[Any]) -> list[float]:
    """The finite numbers of a list (None and strings dropped)."""
    out = []
    for v in values:
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.append(float(v))
    return out


def mean(values: list[Any]) -> float | None:
    nums = numbers(values)
    return float(sum(nums) / len(nums)) if nums else None


def sum_int(values: list[Any]) -> int | None:
    nums = numbers(values)
    return int(sum(nums)) if nums else None


def min_of(values: list[Any]) -> float | None:
    nums = numbers(values)
    return float(min(nums)) if nums else None


def vec(value: Any) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, list):
        nums = numbers(value)
        return nums if len(nums) == len(value) and nums else None
    nums = numbers([value])
    return nums or None


def quad(vec: list[float] | None) -> float | None:
    return float(math.hypot(*vec)) if vec else None
