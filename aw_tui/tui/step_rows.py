"""Plain data for the step table: one `StepRow` per pipeline step, and how statuses look.

Nothing here imports Textual, so the rows can be built from a run directory, a pipeline or a
journal in any process (and tested without a terminal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aw_tui.astromatic.summaries import format_summary
from aw_tui.rundir.vocabulary import STALE, STEP_STATUSES, UNKNOWN

__all__ = [
    "STATUSES",
    "STATUS_COLORS",
    "STATUS_SYMBOLS",
    "UNCHECKED",
    "StepRow",
    "display_status",
    "format_duration",
    "result_fields",
    "row_search_text",
    "status_symbol",
]

UNCHECKED = "unchecked"
"""The status of a row whose last result claims a success that is not yet checked against the
project and the files (:mod:`aw_tui.rundir.freshness`): a big run's first paint comes before
its states, and a result is never shown as a success before it is known to be current."""

STATUSES: tuple[str, ...] = (*STEP_STATUSES, STALE, UNCHECKED)
"""Every status a step row can show: the run's vocabulary, ``stale`` for a step whose last
result is no longer current (:mod:`aw_tui.rundir.freshness`) and :data:`UNCHECKED`."""

STATUS_SYMBOLS: dict[str, str] = {
    "pending": "·",
    "running": "▶",
    "success": "✔",
    "error": "✘",
    "unknown": "?",
    "skipped": "-",
    "interrupted": "‖",
    "warn": "⚠",
    "stale": "◇",
    "unchecked": "◌",
}
"""One distinct symbol per status, so the table reads without colour (``warn``: a success
whose verdict is ``warn``, see :func:`display_status`)."""

STATUS_COLORS: dict[str, str] = {
    "pending": "grey50",
    "running": "bold dodger_blue1",
    "success": "green",
    "error": "bold red",
    "unknown": "yellow",
    "skipped": "grey50",
    "interrupted": "dark_orange",
    "warn": "bold yellow",
    "stale": "bold magenta",
    "unchecked": "grey62",
}
"""A Rich style (colour) per status."""


@dataclass(slots=True)
class StepRow:
    """What the step table shows for one step (one per step: its fields are slots).

    Parameters
    ----------
    index : int or None
        Position of the step in the run order (``run_steps``), or None when the step is not
        selected for the run.
    step_id : int
        The step's id in the pipeline.
    tags : list of str, optional
        The step's tags.
    func : str, optional
        Name of the step's function (e.g. ``run_sex``).
    status : str, optional
        One of `STATUSES`.
    duration : float or None, optional
        Elapsed time in seconds, None when the step has not run.
    summary : str, optional
        A one-line summary of the result (detections, errors...).
    worker : str or None, optional
        Where the step runs or ran (None when serial).
    is_start : bool, optional
        True for the step at the chosen start index (shown with a marker).
    verdict : str or None, optional
        A tool step's verdict (``ok``, ``warn``, ``bad``), None for other steps.
    warnings : int, optional
        How many warnings the step gave.
    identity : str, optional
        The step's identity (``detect[206401]``): what names it across runs and edits of
        the project file.
    """

    index: int | None
    step_id: int
    tags: list[str] = field(default_factory=list)
    func: str = ""
    status: str = "pending"
    duration: float | None = None
    summary: str = ""
    worker: str | None = None
    is_start: bool = False
    verdict: str | None = None
    warnings: int = 0
    identity: str = ""


def result_fields(results: Any) -> list[Any] | None:
    """What a row shows of a step's results (a checkpoint's, for a step the journal has not
    said more of): ``[status, duration, summary, verdict, warnings]``, the summary as its
    one line, the warnings counted; None when the results are not a dict (never run)."""
    if not isinstance(results, dict):
        return None
    summary = format_summary(results.get("summary")) or (results.get("error_msg") or "")
    found = results.get("warnings")
    return [str(results.get("status", UNKNOWN)), results.get("duration"), summary,
            results.get("verdict"), len(found) if isinstance(found, list) else 0]


def display_status(row: StepRow) -> str:
    """The status a row shows: ``warn`` for a success with a ``warn`` verdict (never a plain
    ✔ for a result that came with warnings), otherwise the step's status."""
    if row.status == "success" and (row.verdict == "warn" or row.warnings):
        return "warn"
    return row.status


def status_symbol(status: str) -> str:
    """Return the symbol of a status (``?`` for a status this module does not know).

    Parameters
    ----------
    status : str
        A status name.

    Returns
    -------
    str
        One character.
    """
    return STATUS_SYMBOLS.get(status, "?")


def format_duration(seconds: float | None) -> str:
    """Format a duration in at most 6 characters.

    Parameters
    ----------
    seconds : float or None
        The duration; None gives an empty string.

    Returns
    -------
    str
        E.g. ``0.42s``, ``12.3s``, ``4m05s``, ``1h02m``, ``3d04h``.

    Examples
    --------
    >>> [format_duration(s) for s in (None, 0.4215, 12.34, 245, 3720, 273600)]
    ['', '0.42s', '12.3s', '4m05s', '1h02m', '3d04h']
    """
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0.0
    if seconds < 9.995:
        return f"{seconds:.2f}s"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    days = total // 86400
    if days > 99:
        return f"{days}d"
    return f"{days}d{total % 86400 // 3600:02d}h"


def row_search_text(row: StepRow) -> str:
    """Return the lower-case text a filter matches against.

    Parameters
    ----------
    row : StepRow
        The row.

    Returns
    -------
    str
        Id, status, function, tags, summary and identity, tab-separated.
    """
    return "\t".join(
        (str(row.step_id), row.status, row.func, ",".join(row.tags), row.summary,
         row.identity)
    ).lower()
