"""The app's ``e``: edit the selected step's kwargs as TOML.

For a step of a TOML project the edit is written to the project file (only what changed,
comments and layout kept: :mod:`aw_tui.project.fileedit`); on a member of a ``foreach`` step
the app first asks whether the step's template (``t``, every member) or only this member
(``m``) changes; a changed value that is a reference in the file is written as a literal
only after a confirmation. During a live run the changed steps also get their new kwargs
through ``control/``. Run directories and Python pipelines are edited in their checkpoint.

A mixin of `aw_tui.tui.app.AwTuiApp` (which holds the binding and ``session``), kept apart
so that the app module stays small. Reading and writing the project file are blocking I/O:
they run in thread workers.
"""

from __future__ import annotations

import os
from typing import Any

from textual import work
from textual.widgets import Static

from aw_tui.base.text import inert
from aw_tui.project.fileedit import ReferenceEditError
from aw_tui.project.tomledit import TomlWriteError, dumps
from aw_tui.tui.screens import ConfirmScreen, EditScreen, ScopeScreen, shown
from aw_tui.tui.session import EditOutcome, EditTarget
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["EditActions"]


class EditActions:
    """``e`` and what follows it (a mixin of `AwTuiApp`: ``self`` is the app)."""

    session: Any
    live_pid: int | None
    query_one: Any
    show_message: Any
    push_screen: Any
    call_from_thread: Any
    notify: Any
    _require_loaded: Any
    _update_detail: Any

    def action_edit(self) -> None:
        """``e``: edit the selected step's kwargs as TOML."""
        if not self._require_loaded():
            return
        step_id = self.query_one(StepTable).cursor_step_id
        if step_id is None:
            return
        self.open_edit(step_id)

    @work(thread=True, exclusive=True, group="edit")
    def open_edit(self, step_id: int) -> None:
        """Read what the edit starts from (the project file, for a project) in a thread."""
        try:
            target = self.session.edit_target(step_id)
        except Exception as exc:  # the project file's errors: shown, never a traceback
            self.call_from_thread(self._edit_failed, "cannot edit", exc)
            return
        self.call_from_thread(self._ask_scope, target)

    def _ask_scope(self, target: EditTarget) -> None:
        """On a member of a ``foreach`` step: template (t) or only this member (m)?"""
        if target.snapshot is None or not target.members:
            self._open_editor(target, member_only=False)
            return

        def chosen(scope: str | None) -> None:
            if scope is not None:
                self._open_editor(target, member_only=scope == "member")

        self.push_screen(ScopeScreen(target.identity or "", target.members,
                                     os.path.basename(target.snapshot.path)), chosen)

    def _open_editor(self, target: EditTarget, member_only: bool) -> None:
        try:
            text = dumps(target.kwargs)
        except TomlWriteError as exc:
            self.show_message(shown(exc))
            return
        title = f"Edit step {target.step_id} ({shown(target.func_name)}) kwargs"
        note = "ctrl+s save · esc cancel"
        if target.members:
            title += (f" · only {shown(target.identity)}" if member_only
                      else f" · template: all {target.members} members")
        if self.live_pid is not None:
            note += " · the run is live: the edit applies when this step starts"
        self.push_screen(
            EditScreen(title, text, note),
            lambda data: self._after_edit(target, data, member_only),
        )

    def _after_edit(self, target: EditTarget, data: dict[str, Any] | None,
                    member_only: bool) -> None:
        if data is not None:
            self.save_edit(target, data, member_only, False)

    @work(thread=True, group="edit-save")
    def save_edit(self, target: EditTarget, data: dict[str, Any], member_only: bool,
                  replace_references: bool) -> None:
        """Save the edit in a thread (it may read and write the project file and the
        checkpoint)."""
        try:
            outcome = self.session.edit(target.step_id, data, target, member_only,
                                        replace_references)
        except ReferenceEditError as exc:
            self.call_from_thread(self._confirm_references, target, data, member_only, exc)
            return
        except Exception as exc:  # shown to the user, never a traceback
            self.call_from_thread(self._edit_failed, "edit not saved", exc)
            return
        self.call_from_thread(self._edit_done, target.step_id, outcome)

    def _confirm_references(self, target: EditTarget, data: dict[str, Any], member_only: bool,
                            error: ReferenceEditError) -> None:
        """Ask before a reference of the project file is replaced by a literal value."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.save_edit(target, data, member_only, True)
            else:
                self.show_message("edit not saved: the references of the project file are "
                                  "kept (change what they refer to, in the file)")

        count = len(error.keys)
        self.push_screen(ConfirmScreen(
            f"[b]{count} value{'s' if count != 1 else ''} you changed "
            f"{'are references' if count != 1 else 'is a reference'} in the project file"
            "[/b]\n\n" + shown(self._relative(error.message.split("\n", 1)[-1]).strip())
            + "\n\nWrite the literal value instead (the reference is gone)?  y: write it · "
            "n: keep the file as it is"), answered)

    def _edit_failed(self, what: str, exc: Exception) -> None:
        """One line on the message line; a message of several lines also as a notice."""
        text = self._relative(str(exc))
        first = text.splitlines()[0] if text else type(exc).__name__
        self.show_message(f"[b red]{what}:[/b red] {shown(first)}")
        if "\n" in text:
            self.notify(inert(text), title=what, severity="error", timeout=30, markup=False)

    def _relative(self, text: str) -> str:
        """``text`` with the paths in the project's folder relative to it."""
        path = self.session.target.path
        for folder in {os.path.dirname(os.path.realpath(path)), os.path.dirname(path)}:
            text = text.replace(folder + os.sep, "")
        return text

    def _edit_done(self, step_id: int, outcome: EditOutcome) -> None:
        self.show_message(shown(outcome.message))
        # The reload of the file this edit wrote says so after this message, not over it.
        self.edit_message_at = self.message_shown_at
        if self.query_one("#detail", Static).display:
            self._update_detail(step_id)
