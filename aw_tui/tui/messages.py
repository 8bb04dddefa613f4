"""Messages the TUI's workers post to the app (all UI updates go through these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

__all__ = ["JournalUpdate", "LiveChanged", "ProjectProblem", "StepProgress", "StepsLoaded",
           "StepsRefreshed"]


@dataclass
class StepsLoaded(Message):
    """The steps are loaded, with their table rows (or could not be: ``error``)."""

    error: str | None = None
    rows: list[Any] = field(default_factory=list)


@dataclass
class JournalUpdate(Message):
    """New journal events were applied to the session's state (``rows``: every row again,
    built by the worker, when the events change them all, e.g. a run started, from the
    session's ``pipeline`` of then; ``caught_up``: the whole journal was folded for the
    first time)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Any] | None = None
    caught_up: bool = False
    pipeline: Any = None

    def can_replace(self, message: Message) -> bool:
        """Never merged: each batch of events changes rows."""
        return False


@dataclass
class LiveChanged(Message):
    """A runner appeared or went away (``host``/``pid`` None when none is live)."""

    host: str | None = None
    pid: int | None = None


@dataclass
class ProjectProblem(Message):
    """The project file does not load (``text``: the error, one problem per paragraph):
    read in full after the first paint, or again after it changed (``reloaded``)."""

    text: str = ""
    reloaded: bool = False


@dataclass
class StepsRefreshed(Message):
    """The steps and their states were computed again (:meth:`Session.refresh`): every row
    (``rows``, built when the journal was at ``seq``), or why the last good ones stay
    (``error``); ``reloaded``: after the project file changed."""

    rows: list[Any] | None = None
    error: str | None = None
    reloaded: bool = False
    seq: int = 0
    """The journal ``seq`` the rows include."""

    def can_replace(self, message: Message) -> bool:
        """Never merged: each one says something (a reload, an error)."""
        return False



@dataclass
class StepProgress(Message):
    """The progress inside the running steps changed (``progress``: step id ->
    :class:`aw_tui.astromatic.progress.Progress`; empty when none runs)."""

    progress: dict[int, Any] = field(default_factory=dict)
