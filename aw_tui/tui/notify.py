"""Telling the user a run ended: the terminal bell and desktop-notification escapes.

``aw-tui PROJECT --notify`` (or ``AW_TUI_NOTIFY=1``) rings the bell and sends both common
notification escapes when a run the TUI watches ends, fails or is interrupted:

- OSC 9 (iTerm2, Windows Terminal, kitty, WezTerm, foot, ...): ``ESC ] 9 ; text BEL``
- OSC 777 (rxvt-unicode, VTE terminals such as GNOME Terminal, foot, WezTerm):
  ``ESC ] 777 ; notify ; title ; text BEL``

Inside tmux (``$TMUX`` set) each escape is wrapped in tmux's passthrough
(``ESC P tmux; ... ESC \\``, the ESCs inside doubled), which tmux forwards to the outer
terminal when ``set -g allow-passthrough on``. A terminal that knows neither escape ignores it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aw_tui.base.text import inert

__all__ = ["ENV_VAR", "notification", "wants_notifications"]

ENV_VAR = "AW_TUI_NOTIFY"
"""Set to 1 (or yes/true/on) to be notified without ``--notify``."""

_BEL = "\a"
_ESC = "\x1b"


def wants_notifications(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to notify: the ``--notify`` flag or `ENV_VAR` set to a true value.

    Parameters
    ----------
    flag : bool
        ``--notify`` was given.
    environ : mapping, optional
        The environment (default: ``os.environ``).

    Returns
    -------
    bool
        True to notify.
    """
    environ = os.environ if environ is None else environ
    return flag or environ.get(ENV_VAR, "").strip().lower() in ("1", "yes", "true", "on")


def _clean(text: str) -> str:
    """Text safe inside an OSC string: no control characters, no ``;`` (a field separator)."""
    return inert(text, one_line=True).replace(";", ",")[:200]


def _passthrough(sequence: str) -> str:
    return f"{_ESC}Ptmux;" + sequence.replace(_ESC, _ESC + _ESC) + f"{_ESC}\\"


def notification(title: str, body: str, tmux: bool | None = None) -> str:
    """The bytes (as text) that ring the bell and show a desktop notification.

    Parameters
    ----------
    title : str
        The notification's title (e.g. ``aw-tui: demo``).
    body : str
        Its text (e.g. ``run finished: 9 steps``).
    tmux : bool or None, optional
        Wrap the escapes for tmux; None looks at ``$TMUX``.

    Returns
    -------
    str
        BEL, then OSC 9 and OSC 777 (each wrapped for tmux when asked).
    """
    if tmux is None:
        tmux = bool(os.environ.get("TMUX"))
    title, body = _clean(title), _clean(body)
    escapes = [f"{_ESC}]9;{title}: {body}{_BEL}",
               f"{_ESC}]777;notify;{title};{body}{_BEL}"]
    if tmux:
        escapes = [_passthrough(escape) for escape in escapes]
    return _BEL + "".join(escapes)
