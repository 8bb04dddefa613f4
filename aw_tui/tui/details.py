"""The details pane (``d``): a step's state now, its result, command lines and kwargs.

A step whose result is not current (stale, or pending with a result of an earlier run)
shows why, one reason a line, and that result under "previous run": the table never shows
it as the step's status. Plain Rich markup, built from the session (no widget here).
"""

from __future__ import annotations

from typing import Any

from aw_tui.astromatic.summaries import format_summary
from aw_tui.project.tomledit import TomlWriteError, dumps
from aw_tui.rundir.vocabulary import PENDING, STALE
from aw_tui.tui.screens import shown
from aw_tui.tui.step_rows import STATUS_COLORS, status_symbol

__all__ = ["PREVIOUS_RUN", "detail_text"]

PREVIOUS_RUN = "previous run"
"""The label of a result that is not current (the step is stale or pending)."""


def _state_lines(fresh: Any) -> list[str]:
    """What the step's state says: ``stale`` and each reason, or ``pending``."""
    color = STATUS_COLORS.get(fresh.state, "")
    word = f"[{color}]{status_symbol(fresh.state)} {fresh.state}[/{color}]"
    if fresh.state == STALE:
        lines = [f"state: {word}: its result is not current (c runs it again), because"]
        lines += [f"  {shown(reason)}" for reason in fresh.reasons]
        return lines
    new = " (new in the project: it has never run)" if "new" in fresh.reasons else ""
    return [f"state: {word}{new}"]


def _result_lines(session: Any, step_id: int, result: dict[str, Any], label: str) -> list[str]:
    lines = [f"{label}: [b]{shown(str(result.get('status')))}[/b]  "
             f"{shown(format_summary(result.get('summary')))}"]
    if result.get("error_msg"):
        lines.append(f"[red]error: {shown(str(result['error_msg']))}[/red]")
    lines.extend("$ " + shown(line) for line in session.command_lines(step_id))
    table = result.get("warnings")
    if table is not None and len(table):
        lines.append(f"warnings ({len(table)}):")
        for row in list(table)[:8]:
            lines.append("  " + shown(str(row["Msg"]) if "Msg" in getattr(
                row, "colnames", ()) else str(row)))
    return lines


def detail_text(session: Any, step_id: int) -> str:
    """The detail pane of a step: its identity, state now, (previous) result, command
    lines, warnings and kwargs as TOML ("" for a step the session does not have)."""
    try:
        step = session.pipeline.get_step(step_id)
    except (KeyError, AttributeError):
        return ""
    identity = str(getattr(step, "identity", "") or "")
    named = f"  ({shown(identity)})" if identity and identity != str(step_id) else ""
    lines = [f"[b]step {step_id}[/b]  {shown(step.func_name)}  tags: "
             f"{shown(', '.join(step.tags))}{named}"]
    fresh = session.current_state(step_id)
    behind = fresh is not None and fresh.state in (STALE, PENDING)
    if behind:
        lines += _state_lines(fresh)
    result = session.result(step_id)
    if result:
        lines += _result_lines(session, step_id, result, PREVIOUS_RUN if behind else "status")
    try:
        lines.append("kwargs:\n" + shown(dumps(step.func_kwargs)))
    except TomlWriteError as exc:
        lines.append(f"kwargs: {shown(repr(step.func_kwargs))[:2000]}\n({exc})")
    return "\n".join(lines)
