"""Where a step is: progress inside the running steps (step table and header), and what
the output pane says of a step without output.

A mixin of `aw_tui.tui.app.AwTuiApp` (through `aw_tui.tui.app_views.ViewActions`): twice a
second a thread reads the end of each running step's output
(:class:`aw_tui.tui.progress_view.RunningProgress`) and posts `StepProgress` when it
changed; the running rows then show a bar, the header the first running step's progress.
The output pane of a step that has not started says so (:meth:`output_note`), instead of
waiting for its output.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.css.query import NoMatches

from aw_tui.astromatic.progress import Progress
from aw_tui.astromatic.summaries import step_label
from aw_tui.rundir.vocabulary import RUNNING
from aw_tui.tui.messages import JournalUpdate, StepProgress
from aw_tui.tui.progress_view import PROGRESS_INTERVAL, RunningProgress, header_progress
from aw_tui.tui.screens import shown
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["PROGRESS_SLOT", "ProgressActions"]

PROGRESS_SLOT = "\x00progress\x00"
"""Where the header's text takes the running step's progress (:meth:`fit_progress`)."""


class ProgressActions:
    """Reads and shows the running steps' progress (a mixin: ``self`` is the app)."""

    session: Any
    selected_step: int | None
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
        self.show_progress(message.progress)

    def show_progress(self, progress: dict[int, Progress]) -> None:
        """Show ``progress`` (step id -> progress) in the rows and the header."""
        self.step_progress = progress
        try:
            self.query_one(StepTable).set_progress(
                {sid: (p.fraction, p.text()) for sid, p in progress.items()})
        except NoMatches:  # the app is closing
            return
        self.update_header()

    def fit_progress(self, text: str, since: str) -> str:
        """The header ``text`` with its `PROGRESS_SLOT` replaced by the running step's
        progress, in the richest form that fits the header's width, or by ``since`` (the
        run's start) when no step shows progress."""
        if PROGRESS_SLOT not in text:
            return text
        forms = header_progress(getattr(self, "step_progress", {}))
        if not forms:
            return text.replace(PROGRESS_SLOT, since)
        try:
            width = self.query_one("#header").content_region.width
        except NoMatches:
            width = 80
        # emoji=False: the header shows ":smile:" in a name as it is (Textual's markup has
        # no emoji codes), and rich's table of them is not imported inside a run's first second.
        used = Text.from_markup(text.replace(PROGRESS_SLOT, ""), emoji=False).cell_len
        fitting = [form for form in forms if used + len(form) <= width] or forms[-1:]
        return text.replace(PROGRESS_SLOT,
                            f"[#0087ff]{shown(fitting[0])}[/]")  # dodger_blue1, parsed 10x quicker

    def output_note(self, step_id: int) -> str | None:
        """What the output pane says while ``steps/<id>.out`` does not exist: the step has
        not started, or printed nothing (None while it runs: it waits for the output)."""
        try:
            row = self.query_one(StepTable).get_row(step_id)
        except NoMatches:
            return None
        status = row.status if row is not None else None
        name = f"steps/{step_id}.out"
        if status == RUNNING:
            return None
        if status in ("success", "unknown", "error", "interrupted"):
            return f"step {step_id} printed nothing ({name} does not exist)"
        return f"step {step_id} has not started: its output will show here ({name})"

    def on_journal_update(self, message: JournalUpdate) -> None:
        """After the app's own handler: a step that ended shows no progress at once (not
        at the next look), a step that started is looked at now; the selected step's note
        follows its status."""
        shown_now = getattr(self, "step_progress", {})
        running = {st.step_id for st in self.session.state.running_steps()}
        if any(step_id not in running for step_id in shown_now):
            self.show_progress({k: v for k, v in shown_now.items() if k in running})
        if any(e.get("event") == "step_started" for e in message.events):
            self.read_progress()
        step_id = self.selected_step
        if step_id is None or not getattr(self, "_loaded", False):
            return
        if message.rows is None and all(e.get("step_id") != step_id for e in message.events):
            return
        try:
            self.query_one(OutputView).set_missing_note(self.output_note(step_id))
        except NoMatches:  # the app is closing
            return

    def running_names(self) -> str:
        """The running steps, as the stop dialog names them: ``step 4 (step3 SWarp)``."""
        running = self.session.state.running_steps()
        names = [f"step {st.step_id} ({step_label(st.tags, st.func)})" for st in running[:3]]
        more = f" and {len(running) - 3} more" if len(running) > 3 else ""
        return ", ".join(names) + more
