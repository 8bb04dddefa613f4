"""Quality checks on a step's summary: ``checks = ["fwhm_mean < 3.5", "nstars_accepted >= 50"]``.

A check is one comparison of a summary field with a number: ``FIELD OP NUMBER`` (or
``NUMBER OP FIELD``), ``OP`` one of ``<  <=  >  >=  ==  !=``. It is parsed here, never given to
``eval``. After a step returns success, every check must hold; a check that does not (or whose
field the step did not measure: ``n/a``) makes the step an ``error`` whose message names the
field, its value and the bound, or, with ``check_severity = "warn"``, a success with a
``warn`` verdict and that message among its warnings.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["SEVERITIES", "Check", "CheckError", "apply_checks", "parse_check", "parse_checks"]

#: What a failing check does: ``error`` fails the step, ``warn`` gives it a ``warn`` verdict.
SEVERITIES = ("error", "warn")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
_FIELD = r"[A-Za-z_][A-Za-z0-9_.]*"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_OP = r"<=|>=|==|!=|<|>"
_FIELD_FIRST = re.compile(rf"^\s*({_FIELD})\s*({_OP})\s*({_NUMBER})\s*$")
_NUMBER_FIRST = re.compile(rf"^\s*({_NUMBER})\s*({_OP})\s*({_FIELD})\s*$")


class CheckError(ValueError):
    """A check that is not ``FIELD OP NUMBER``, or an unknown severity."""


@dataclass(frozen=True)
class Check:
    """One parsed check: ``field op bound``."""

    text: str
    field: str
    op: str
    bound: float
    bound_text: str = ""

    def value_of(self, summary: dict[str, Any]) -> float | None:
        """The field's number in ``summary`` (``a.b`` reaches into a nested dict), or None."""
        value: Any = summary
        for part in self.field.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return None if math.isnan(value) else float(value)

    def failure(self, summary: dict[str, Any]) -> str | None:
        """Why the check fails on ``summary``, or None when it holds."""
        value = self.value_of(summary)
        if value is None:
            return f"check {self.text!r} failed: {self.field} was not measured (n/a)"
        if _OPS[self.op](value, self.bound):
            return None
        return (f"check {self.text!r} failed: {self.field} = {value:.4g}, "
                f"not {self.op} {self.bound_text or format(self.bound, 'g')}")


def parse_check(text: str) -> Check:
    """Parse one check.

    Raises
    ------
    CheckError
        When ``text`` is not ``FIELD OP NUMBER`` (or ``NUMBER OP FIELD``).
    """
    if not isinstance(text, str):
        raise CheckError(f"a check is a string like \"fwhm_mean < 3.5\", not {text!r}")
    found = _FIELD_FIRST.match(text)
    if found:
        name, op, number = found.groups()
    else:
        found = _NUMBER_FIRST.match(text)
        if not found:
            raise CheckError(
                f"check {text!r} is not FIELD OP NUMBER: write e.g. \"fwhm_mean < 3.5\" "
                "(OP: < <= > >= == !=; one comparison per check)")
        number, op, name = found.groups()
        op = _FLIPPED[op]
    return Check(text=text.strip(), field=name, op=op, bound=float(number), bound_text=number)


def parse_checks(texts: Iterable[str] | None, severity: str = "error") -> list[Check]:
    """Parse a step's checks (and check its ``check_severity``)."""
    if severity not in SEVERITIES:
        raise CheckError(f"check_severity {severity!r}: use \"error\" or \"warn\"")
    if texts is None:
        return []
    if isinstance(texts, str):
        texts = [texts]
    return [parse_check(text) for text in texts]


def apply_checks(result: dict[str, Any], checks: list[Check], severity: str) -> dict[str, Any]:
    """``result`` after the step's checks (a success only; an error stays as it is).

    A failing check makes it an ``error`` (``error_msg`` names every failure) or, with
    ``severity = "warn"``, keeps it a success with the failures added to its ``warnings`` and
    a ``warn`` verdict. ``result['checks']`` records each check and whether it held.
    """
    if not checks or str(result.get("status", "")).lower() != "success":
        return result
    summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
    failures = [f for f in (check.failure(summary) for check in checks) if f]
    result = dict(result)
    result["checks"] = [{"check": c.text, "ok": c.failure(summary) is None} for c in checks]
    if not failures:
        return result
    if severity == "warn":
        warnings = result.get("warnings")
        result["warnings"] = [*(warnings if isinstance(warnings, list) else []), *failures]
        result["verdict"] = "warn"
        return result
    result["status"] = "error"
    result["verdict"] = "bad"
    result["error_msg"] = "; ".join(failures)
    return result
