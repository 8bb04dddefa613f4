"""A run's results as data: one row per step, every summary field a column.

``aw_tui.results(log_dir)`` and ``aw-tui results PROJECT`` give the same astropy Table: for
each step of the newest run (in run order) its index, id, label (tags and function), tool
(function), status, verdict, warnings, duration and every field of its ``summary``. Within
each group of steps that share a label (the members of a ``foreach``: SExtractor on every
exposure) of at least :data:`OUTLIER_MIN_GROUP` members, a numeric value more than
:data:`OUTLIER_MADS` median absolute deviations from the group's median is flagged in the
column ``<field>_outlier``.

It reads only the journal (``events.jsonl``): no pickle is loaded, so it is safe on any run
directory, and works on a live run.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from typing import Any

from astropy.table import MaskedColumn, Table

from aw_tui.rundir.journal import RunState, read_events

__all__ = ["OUTLIER_MADS", "results", "write_results"]

#: How many median absolute deviations from a group's median make a value an outlier.
OUTLIER_MADS = 5.0
#: Groups smaller than this are not searched for outliers (a median of 3 says little).
OUTLIER_MIN_GROUP = 5
#: Output formats of :func:`write_results` and the astropy writer behind each.
FORMATS = {"csv": "ascii.csv", "ecsv": "ascii.ecsv", "json": None, "fits": "fits"}


def _label(tags: list[str], func: str | None) -> str:
    return ",".join(tags) + (f" {func}" if func else "")


def _scalar(value: Any) -> Any:
    """A summary value a table cell can hold (numbers and text; others as text)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | str):
        return value
    return str(value)


def _finished_events(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    last: dict[int, dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "step_finished" and event.get("step_id") is not None:
            last[int(event["step_id"])] = event
    return last


def results(log_dir: str) -> Table:
    """The results of the newest run in ``log_dir`` as an astropy Table (see the module).

    Parameters
    ----------
    log_dir : str
        A run directory (``paths['log']``).

    Returns
    -------
    astropy.table.Table
        One row per step of the run; missing values are masked (shown as ``--``/``n/a``,
        never as 0).
    """
    events = read_events(log_dir)
    state = RunState.from_events(events)
    finished = _finished_events(events)
    rows: list[dict[str, Any]] = []
    for index, step_id in enumerate(state.run_steps):
        step = state.step(step_id)
        event = finished.get(step_id, {})
        warnings = [str(w) for w in event.get("warnings") or []]
        row: dict[str, Any] = {
            "index": index, "step_id": step_id, "label": _label(step.tags, step.func),
            "tool": step.func or "", "status": step.status,
            "verdict": event.get("verdict") if step.status != "pending" else None,
            "n_warnings": len(warnings), "first_warning": warnings[0] if warnings else None,
            "duration": step.duration,
        }
        for key, value in (step.summary or {}).items():
            if key not in row:
                row[key] = _scalar(value)
        rows.append(row)
    return _table(rows)


def _table(rows: list[dict[str, Any]]) -> Table:
    names: list[str] = []
    for row in rows:
        names += [key for key in row if key not in names]
    table = Table()
    for name in names:
        values = [row.get(name) for row in rows]
        mask = [v is None or (isinstance(v, float) and math.isnan(v)) for v in values]
        present = [v for v, m in zip(values, mask, strict=True) if not m]
        if present and all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in present):
            kind: Any = float if any(isinstance(v, float) for v in present) else int
            filled = [kind(v) if not m else kind(0) for v, m in zip(values, mask, strict=True)]
        elif present and all(isinstance(v, bool) for v in present):
            filled = [bool(v) if not m else False for v, m in zip(values, mask, strict=True)]
        else:
            filled = ["" if m else str(v) for v, m in zip(values, mask, strict=True)]
        table[name] = MaskedColumn(filled, mask=mask) if any(mask) else filled
    _flag_outliers(table, rows)
    return table


def _flag_outliers(table: Table, rows: list[dict[str, Any]]) -> None:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row["label"]].append(i)
    fixed = {"index", "step_id", "n_warnings", "duration"}
    for name in list(table.colnames):
        if name in fixed or table[name].dtype.kind not in "if":
            continue
        flags = [False] * len(rows)
        for members in groups.values():
            values = [(i, float(table[name][i])) for i in members
                      if not (hasattr(table[name], "mask") and table[name].mask[i])]
            if len(values) < OUTLIER_MIN_GROUP:
                continue
            ordered = sorted(v for _, v in values)
            median = _median(ordered)
            mad = _median(sorted(abs(v - median) for v in ordered))
            if mad == 0:
                continue
            for i, value in values:
                flags[i] = abs(value - median) > OUTLIER_MADS * mad
        if any(flags):
            table[f"{name}_outlier"] = flags


def _median(ordered: list[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def write_results(table: Table, path: str | None, fmt: str, out: Any = None) -> None:
    """Write ``table`` as ``fmt`` (``csv``, ``ecsv``, ``json`` or ``fits``) to ``path`` or
    ``out`` (a text stream; not for ``fits``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "json":
        rows = [{name: (None if getattr(table[name], "mask", None) is not None
                        and table[name].mask[i] else table[name][i].item()
                        if hasattr(table[name][i], "item") else table[name][i])
                 for name in table.colnames} for i in range(len(table))]
        text = json.dumps(rows, indent=1) + "\n"
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            (out or sys.stdout).write(text)
        return
    if path is None:
        if fmt == "fits":
            raise ValueError("the fits format needs an output file (-o FILE)")
        table.write(out or sys.stdout, format=FORMATS[fmt])
        return
    table.write(path, format=FORMATS[fmt], overwrite=True)
