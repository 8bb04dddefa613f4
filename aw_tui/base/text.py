"""Text from files, tools and projects made safe to print on a terminal.

A pipeline name, a tag, a file name or a tool's error message can hold terminal controls:
``ESC ] 52 ; c ; ... BEL`` writes the user's clipboard, ``ESC [ 2 J`` clears the screen,
``ESC ] 0 ; ... BEL`` changes the window title. Printed raw, they act. :func:`inert` turns
every control character into a visible form, so they are shown instead:

- C0 controls and DEL in caret notation: ``\\x1b`` -> ``^[``, ``\\x07`` -> ``^G``,
  ``\\r`` -> ``^M``, ``\\x7f`` -> ``^?`` (newline and tab are kept unless asked);
- C1 controls (U+0080..U+009F, e.g. the one-character CSI ``\\x9b``) as ``\\x9b``.

Every place that prints such text (``--batch`` lines, ``status`` and ``check``, error
messages, the TUI's details and notifications) goes through it. The raw output pane is the
exception: it interprets colours and cursor movements and drops the rest
(:mod:`aw_tui.base.terminal_text`).
"""

from __future__ import annotations

__all__ = ["inert"]


def _table(keep: str) -> dict[int, str]:
    table = {code: "^" + chr(code + 0x40) for code in range(0x20)}
    table[0x7F] = "^?"
    table.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})
    for char in keep:
        del table[ord(char)]
    return table


_MULTI_LINE = _table("\n\t")
_ONE_LINE = _table("")


def inert(text: object, one_line: bool = False) -> str:
    """``text`` (any object, as ``str()``) with its control characters made visible.

    Parameters
    ----------
    text : object
        What to print.
    one_line : bool
        Also show newlines and tabs (``^J``, ``^I``): for a table cell or a one-line field.

    Returns
    -------
    str
        The text, holding no control character but (unless ``one_line``) ``\\n`` and ``\\t``.

    Examples
    --------
    >>> inert("ok\\x1b]52;c;aGk=\\x07 done")
    'ok^[]52;c;aGk=^G done'
    """
    return str(text).translate(_ONE_LINE if one_line else _MULTI_LINE)
