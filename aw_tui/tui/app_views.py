"""The app's views of a run beyond the table: products (``p``), results (``R``),
``runner.log`` (``L``), the failed step on opening, ``--notify`` at a run's end, and (from
`aw_tui.tui.app_progress`) the progress inside the running steps.

A mixin of `aw_tui.tui.app.AwTuiApp` (which holds the bindings and the state used here:
``session``, ``selected_step``, ``notify_run_end``, ``notify_writer``, ``opened_at``), kept
apart so that the app module stays small.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from textual.widgets import Static

from aw_tui.rundir.layout import RunLayout
from aw_tui.tui.app_progress import ProgressActions
from aw_tui.tui.notify import notification
from aw_tui.tui.products import step_products
from aw_tui.tui.products_screen import ProductsScreen
from aw_tui.tui.results_screen import ResultsScreen, group_results
from aw_tui.tui.screens import shown
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["RUN_ENDS", "ViewActions"]

RUN_ENDS = ("run_finished", "run_failed", "run_interrupted")
"""The journal events that end a run."""


class ViewActions(ProgressActions):
    """Actions and handlers of `AwTuiApp` for the views above (a mixin: ``self`` is the app)."""

    session: Any
    selected_step: int | None
    notify_run_end: bool
    opened_at: float
    query_one: Any
    show_message: Any
    push_screen: Any
    detail_text: Any
    notify_writer: Any

    def show_failure(self, step_id: int) -> None:
        """A failed run opens on its failed step, its whole error in the details (wrapped)."""
        detail = self.query_one("#detail", Static)
        detail.display = True
        error = self.session.state.error_msg or ""
        text = self.detail_text(step_id)
        if error and shown(error) not in text:  # no step result to read: the journal's error
            text = f"[red]error: {shown(error)}[/red]\n" + text
        detail.update(text)
        self.show_message(f"[b red]failed at step {step_id}[/b red]: the whole error is in the "
                          "details (d hides them)")

    def on_output_view_search_status(self, message: OutputView.SearchStatus) -> None:
        """A search in the output pane reports: on the message line."""
        self.show_message(shown(message.text))

    def action_runner_log(self) -> None:
        """``L``: show ``runner.log`` in the output pane (a step's row shows its output again)."""
        if not self.session.log_dir:
            self.show_message("no run directory yet: no runner.log")
            return
        path = RunLayout(self.session.log_dir).runner_log
        self.selected_step = None
        self.query_one(OutputView).show_file(path)
        self.query_one(OutputView).focus()
        self.show_message(f"runner.log: {shown(path)} (escape: back to the steps)")

    def action_products(self) -> None:
        """``p``: the selected step's files, with previews."""
        step_id = self.query_one(StepTable).cursor_step_id
        if step_id is None or not self.session.log_dir:
            self.show_message("no step selected, or no run directory yet")
            return
        func = self.session.state.step(step_id).func or ""
        products = step_products(self.session.log_dir, self.session.state, step_id)
        self.push_screen(ProductsScreen(f"products of step {step_id} {func}".rstrip(), products))

    def action_results(self) -> None:
        """``R``: the results of the selected step's group (one row per step)."""
        if not self.session.log_dir:
            self.show_message("no run directory yet: no results")
            return
        from aw_tui.report.results import results  # lazy: astropy, only for this screen

        step_id = self.query_one(StepTable).cursor_step_id
        table = results(self.session.log_dir)
        everything = group_results(table, None)
        label = None
        if step_id is not None and step_id in list(table["step_id"]):
            label = str(table["label"][list(table["step_id"]).index(step_id)])
        group = group_results(table, label) if label else everything
        self.push_screen(ResultsScreen(group, everything))

    def notify_if_run_ended(self, events: list[dict[str, Any]]) -> None:
        """With ``--notify``: bell and desktop notification when a watched run ends.

        Parameters
        ----------
        events : list of dict
            Journal events just read; an end older than the app (a past run) is ignored.
        """
        if not self.notify_run_end:
            return
        for event in events:
            name = event.get("event")
            if name in RUN_ENDS and float(event.get("time") or 0) >= self.opened_at - 5:
                word = {"run_finished": "finished", "run_failed": "FAILED",
                        "run_interrupted": "interrupted"}[name]
                body = f"run {word}" + (f": {event['error_msg']}"
                                        if event.get("error_msg") else "")
                self.notify_writer(notification(
                    f"aw-tui {self.session.target.display_name}", body))

    def write_to_terminal(self, text: str) -> None:
        """Send escapes to the terminal the app draws on (Textual writes to stderr)."""
        stream = sys.__stderr__
        if stream is not None and stream.isatty():
            with contextlib.suppress(OSError):
                os.write(stream.fileno(), text.encode())
