"""SGR colour state ("pen") of the rows built by `aw_tui.base.terminal_text.TerminalText`.

A row is text with SGR sequences (``ESC[...m``) just before the characters they apply to. The
state in effect at a point of a row (the "pen") is the concatenation of the SGR sequences seen
since the last reset; a row can be split into cells (character, pen) and joined back into its
canonical text, which is how overwriting part of a coloured row works.

This module imports nothing from Textual or Rich.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_PEN",
    "RESET",
    "end_pen",
    "join_cells",
    "next_pen",
    "pen_change",
    "sgr_params",
    "split_cells",
    "strip_sgr",
    "truncate_row",
]

_SGR_SPLIT = re.compile(r"(\x1b\[[0-?]*[ -/]*m)").split
_SGR_FIND = re.compile(r"\x1b\[[0-?]*[ -/]*m").findall
_SGR_SUB = re.compile(r"\x1b\[[0-?]*[ -/]*m").sub


def strip_sgr(line: str) -> str:
    """Remove the SGR (colour) sequences from a line.

    Parameters
    ----------
    line : str
        A line as returned by `TerminalText`.

    Returns
    -------
    str
        The plain text of the line.
    """
    if "\x1b" not in line:
        return line
    return _SGR_SUB("", line)


MAX_PEN = 256
"""Longest SGR state kept (a runaway sequence of attributes stops growing it)."""

RESET = "\x1b[0m"


def next_pen(pen: str, params: str, sequence: str) -> str:
    """Return the SGR state after one SGR sequence.

    The state ("pen") is the concatenation of the SGR sequences received since the last
    reset; the same rule is used when reading a row back, so rows stay canonical.

    Parameters
    ----------
    pen : str
        The current state.
    params : str
        The parameter bytes of the sequence.
    sequence : str
        The whole sequence.

    Returns
    -------
    str
        The new state.
    """
    if params in ("", "0"):
        return ""
    if len(pen) < MAX_PEN:
        return pen + sequence
    return pen


def pen_change(old: str, new: str) -> str:
    """Return the SGR text that turns state `old` into state `new`.

    Parameters
    ----------
    old : str
        The state in effect.
    new : str
        The wanted state (different from `old`).

    Returns
    -------
    str
        The sequences to emit.
    """
    if new.startswith(old):
        return new[len(old) :]
    return RESET + new


def sgr_params(sequence: str) -> str:
    """Return the parameter bytes of an SGR sequence (intermediate bytes removed)."""
    return sequence[2:-1].rstrip(" !\"#$%&'()*+,-./")


def end_pen(row: str) -> str:
    """Return the SGR state in effect at the end of a row.

    Parameters
    ----------
    row : str
        A row as built by `TerminalText`.

    Returns
    -------
    str
        The state.
    """
    pen = ""
    for sequence in _SGR_FIND(row):
        pen = next_pen(pen, sgr_params(sequence), sequence)
    return pen


def split_cells(row: str) -> list[tuple[str, str]]:
    """Split a row into cells: (character, SGR state it is drawn with).

    Parameters
    ----------
    row : str
        A row as built by `TerminalText`.

    Returns
    -------
    list of tuple
        One (character, state) pair per column.
    """
    if "\x1b" not in row:
        return [(char, "") for char in row]
    cells: list[tuple[str, str]] = []
    pen = ""
    for index, part in enumerate(_SGR_SPLIT(row)):
        if index % 2:
            pen = next_pen(pen, sgr_params(part), part)
        else:
            cells.extend((char, pen) for char in part)
    return cells


def truncate_row(row: str, col: int) -> str:
    """Keep the first `col` columns of a row.

    Parameters
    ----------
    row : str
        A row as built by `TerminalText`.
    col : int
        Number of columns to keep.

    Returns
    -------
    str
        The canonical text of the shortened row.
    """
    if "\x1b" not in row:
        return row[:col]
    return join_cells(split_cells(row)[:col])


def join_cells(cells: list[tuple[str, str]]) -> str:
    """Build the canonical row text of some cells (the inverse of `split_cells`).

    Parameters
    ----------
    cells : list of tuple
        (character, state) pairs.

    Returns
    -------
    str
        The row, with an SGR change only where the state changes.
    """
    out: list[str] = []
    pen = ""
    for char, cell_pen in cells:
        if cell_pen != pen:
            out.append(pen_change(pen, cell_pen))
            pen = cell_pen
        out.append(char)
    return "".join(out)
