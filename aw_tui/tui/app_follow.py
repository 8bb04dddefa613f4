"""The app follows what is current: the project file and the state of each step now.

After the first paint (unless :meth:`Session.load` did it already, for a small run), after a
run ends and whenever the project file (or a file of its step functions) changes on disk,
a thread computes the steps and their states again (:meth:`Session.refresh`) and the table
is rebuilt, the cursor kept on the same step identity. A project file that stops loading
keeps the last good table and says why (message line, notification, header).

A mixin of `aw_tui.tui.app.AwTuiApp` (which holds ``session``, ``selected_step``,
``_stop_polling``, ``_refresh_order``), kept apart so that the app module stays small.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.app import ScreenStackError
from textual.css.query import NoMatches
from textual.widgets import Static

from aw_tui.base.text import inert
from aw_tui.project.loader import ProjectError
from aw_tui.rundir.vocabulary import PENDING, STALE
from aw_tui.tui.messages import ProjectProblem, StepsRefreshed
from aw_tui.tui.screens import shown
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["PROJECT_POLL", "FollowProject"]

PROJECT_POLL = 0.5
"""Seconds between two looks (a stat) at the project file and its step functions' files."""

#: A message shown less than this many seconds ago is kept before a reload's.
_KEEP_MESSAGE = 5.0
_SETTLE = 0.1
"""After a change, wait this long for the writer to finish before reading the file."""


class FollowProject:
    """Actions and handlers of `AwTuiApp` that keep the table current (a mixin: ``self``
    is the app)."""

    session: Any
    selected_step: int | None
    _stop_polling: Any
    _refresh_order: Any
    _loaded: bool
    post_message: Any
    query_one: Any
    show_message: Any
    update_header: Any
    notify: Any
    _move_to: Any
    _update_detail: Any

    def fold_in(self) -> None:
        """After the first paint: the states (unless the load computed them), the project
        file's errors, and following the project file."""
        session = self.session
        if session.project_error is not None:
            self.post_message(ProjectProblem(session.project_error))
        elif session.fold_error is not None:
            self.post_message(StepsRefreshed(error=session.fold_error))
        elif not session.folded:
            self.refresh_steps()
        if session.target.project is not None:
            self.watch_project()

    @work(thread=True, group="refresh")
    def refresh_steps(self, reload_project: bool = False) -> None:
        """Compute the steps and their states again, in a thread (a run ended, ...)."""
        self.refresh_now(reload_project)

    def refresh_now(self, reload_project: bool = False) -> None:
        """:meth:`Session.refresh` and post what came of it (call it from a thread only).

        One at a time, each posting before the next starts: rows computed earlier never
        arrive after later ones.
        """
        with self._refresh_order:
            if self._stop_polling.is_set():
                return
            known = self.session.project_error
            try:
                self.session.refresh(reload_project=reload_project)
                seq = self.session.state.last_seq
                rows = self.session.rows()
            except ProjectError as exc:
                self.post_message(ProjectProblem(str(exc), reloaded=reload_project))
                return
            except Exception as exc:  # missing folders, a checkpoint being replaced: said
                self.post_message(StepsRefreshed(error=str(exc) or type(exc).__name__,
                                                 reloaded=reload_project))
                return
            self.post_message(StepsRefreshed(rows=rows, reloaded=reload_project, seq=seq))
            problem = self.session.project_error
            if problem is not None and problem != known:  # broke since: the last good steps
                self.post_message(ProjectProblem(problem, reloaded=True))

    @work(thread=True, group="refresh")
    def rebuild_rows(self) -> None:
        """Build every row again from the session as it is now, in a thread."""
        with self._refresh_order:
            if not self._stop_polling.is_set():
                seq = self.session.state.last_seq
                self.post_message(StepsRefreshed(rows=self.session.rows(), seq=seq))

    @work(thread=True, exclusive=True, group="watch-project")
    def watch_project(self) -> None:
        """Look at the project file about twice a second; reload it when it changed."""
        while not self._stop_polling.wait(PROJECT_POLL):
            if self.session.project_changed():
                # An editor may write in several pieces: let it finish first.
                self._stop_polling.wait(_SETTLE)
                self.refresh_now(reload_project=True)

    def on_steps_refreshed(self, message: StepsRefreshed) -> None:
        """New rows: shown with the cursor on the same step identity as before."""
        if not self._loaded or self._stop_polling.is_set():
            return  # not shown yet, or closing
        try:
            self._show_refreshed(message)
        except (NoMatches, ScreenStackError):  # the app closes meanwhile: nothing to show
            return

    def _show_refreshed(self, message: StepsRefreshed) -> None:
        name = shown(self.session.target.display_name)
        if message.error is not None or message.rows is None:
            self.show_message(f"[b red]not updated:[/b red] {shown(message.error)} (the table "
                              "shows the last steps that could be loaded)")
            self.update_header()
            return
        table = self.query_one(StepTable)
        row = table.cursor_step
        identity = row.identity if row is not None else ""
        table.set_rows(message.rows)
        self._catch_rows_up(table, message.seq)
        if identity:
            same = next((r.step_id for r in message.rows if r.identity == identity), None)
            if same is not None and same != table.cursor_step_id:
                self._move_to(same)
        if self.selected_step is not None and self.query_one("#detail", Static).display:
            self._update_detail(self.selected_step)
        if message.reloaded:
            stale = sum(1 for r in message.rows if r.status == STALE)
            new = sum(1 for r in message.rows if r.status == PENDING and r.summary == "new")
            gone = len(self.session.removed)
            text = (f"{name} changed: reloaded ({stale} stale, {new} new"
                    + (f", {gone} removed from the project" if gone else "") + ")")
            # The message of an edit that just wrote the file ("saved ...") stays readable:
            # the reload is said after it.
            edited = getattr(self, "edit_message_at", None)
            if edited is not None and edited == getattr(self, "message_shown_at", None) \
                    and time.monotonic() - edited < _KEEP_MESSAGE:
                text = f"{self.message_line} · {text}"
            self.show_message(text)
        self.update_header()

    def _catch_rows_up(self, table: StepTable, seq: int) -> None:
        """Rows built in a thread miss the journal events the table showed meanwhile (their
        messages came first): build those rows again."""
        every, changed = self.session.changed_since(seq)
        if every:
            self.rebuild_rows()
            return
        order = self.session.run_order()
        for step_id in changed:
            try:
                step = self.session.pipeline.get_step(step_id)
            except KeyError:
                continue
            table.update_row(step_id, self.session.row_for(step, order))

    def on_project_problem(self, message: ProjectProblem) -> None:
        """The project file does not load: the table keeps what it shows, the user is told."""
        if self._stop_polling.is_set():
            return  # closing
        name = self.session.target.display_name
        kept = ("the table keeps its last good steps" if message.reloaded
                else "the steps shown are the checkpoint's")
        self.show_message(
            f"[b red]{shown(name)} has errors[/b red]: {kept} "
            f"(aw-tui check {shown(name)} lists the problems)"
        )
        self.notify(inert(message.text), title=inert(f"{name} has errors", one_line=True),
                    severity="error", timeout=30, markup=False)
        self.update_header()
