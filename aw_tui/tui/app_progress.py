"""Where a step is: progress inside the running steps (step table and header).

A mixin of `aw_tui.tui.app.AwTuiApp` (through `aw_tui.tui.app_views.ViewActions`): twice a
second a thread reads the end of each running step's output
(:class:`aw_tui.tui.progress_view.RunningProgress`) and posts `StepProgress` when it
changed; the running rows then show a bar, the header the first running step's progress.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.css.query import NoMatches

from aw_tui.astromatic.progress import Progress
from aw_tui.tui.messages import StepProgress
from aw_tui.tui.progress_view import PROGRESS_INTERVAL, RunningProgress, header_progress
from aw_tui.tui.screens import shown
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["ProgressActions"]


class ProgressActions:
    """Reads and shows the running steps' progress (a mixin: ``self`` is the app)."""

    session: Any
    live_pid: int | None
    query_one: Any
    post_message: Any
    set_interval: Any
    update_header: Any

    def on_mount(self) -> None:
        """Start looking at the running steps' output (Textual calls every class's
        ``on_mount``: the app's own as well)."""
        self.step_progress: dict[int, Progress] = {}
        self._progress_reader = RunningProgress()
        self.set_interval(PROGRESS_INTERVAL, self.read_progress)

    @work(thread=True, exclusive=True, group="progress")
    def read_progress(self) -> None:
        """Read the end of the running steps' output; post `StepProgress` on a change."""
        if self.live_pid is None and not getattr(self, "step_progress", None):
            return  # no live run: nothing runs (a dead runner's steps do not move)
        found = self._progress_reader.poll(self.session) if self.live_pid is not None else {}
        if found is not None:
            self.post_message(StepProgress(found))

    def on_step_progress(self, message: StepProgress) -> None:
        """Show the new progress in the running rows and the header."""
        self.step_progress = message.progress
        try:
            self.query_one(StepTable).set_progress(
                {sid: (p.fraction, p.text()) for sid, p in message.progress.items()})
        except NoMatches:  # the app is closing
            return
        self.update_header()

    def progress_header(self) -> str:
        """The header's progress part (markup), empty when no step shows progress."""
        text = header_progress(getattr(self, "step_progress", {}))
        return f"[dodger_blue1]{shown(text)}[/dodger_blue1]" if text else ""
