"""The aw-tui terminal UI: step table, live tool output, edit, start index, run, resume.

The app never runs a step itself: ``r``/``c`` start a detached ``aw-tui PROJECT --batch``
runner and the app follows its run directory (journal + ``steps/<id>.out``) from thread
workers that post messages. Quitting leaves a live run going.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.filter import Monochrome
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from aw_tui.rundir.vocabulary import FAILED, FINISHED, INTERRUPTED, RUNNING, STALE, count_done
from aw_tui.tui import details
from aw_tui.tui.app_edit import EditActions
from aw_tui.tui.app_follow import FollowProject
from aw_tui.tui.app_progress import PROGRESS_SLOT
from aw_tui.tui.app_slurm import LauncherActions
from aw_tui.tui.app_views import ViewActions
from aw_tui.tui.messages import JournalUpdate, LiveChanged, StepsLoaded
from aw_tui.tui.notify import wants_notifications
from aw_tui.tui.palette import CommandsProvider, app_commands, screenshot_folder
from aw_tui.tui.runplan import resume_todo
from aw_tui.tui.screens import (
    ConfirmScreen,
    HelpScreen,
    StopScreen,
    TagsScreen,
    shown,
)
from aw_tui.tui.session import Session
from aw_tui.tui.step_rows import UNCHECKED, status_symbol
from aw_tui.tui.widgets.key_bar import KeyBar
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable

__all__ = ["AwTuiApp", "run_app"]

_RUN_ENDS = ("run_finished", "run_failed", "run_interrupted")
_ALL_ROWS_CHANGE = ("run_started", "edit_applied")
_KEY_PRIORITIES = ("quit_app", "help", "run", "continue_run", "stop", "edit", "filter",
                   "follow_running", "tags", "set_start", "toggle_detail")
"""The key bar's actions from the most important: at 80 columns the last ones drop."""


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _Monochrome(Monochrome):
    """Textual's NO_COLOR filter, made to accept segments without a style.

    Textual 8.2's ``Monochrome`` raises ``AttributeError`` on a segment whose style is None
    (rich's ``Text.render`` yields those for unstyled text), which crashed the app under
    ``NO_COLOR``.
    """

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        null = Style.null()
        return super().apply(
            [Segment(text, null if style is None else style, control)
             for text, style, control in segments],
            background,
        )


class AwTuiApp(FollowProject, EditActions, LauncherActions, ViewActions, App[int]):
    """The aw-tui application on one project or run directory.

    Parameters
    ----------
    session : Session
        The project / run directory, not loaded yet.
    poll_interval : float
        Seconds between journal reads.
    """

    CSS_PATH = "app.tcss"
    TITLE = "aw-tui"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {CommandsProvider}  # titles and descriptions (palette.py)
    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("c", "continue_run", "Continue"),
        Binding("s", "set_start", "Start here"),
        Binding("t", "tags", "Tags"),
        Binding("e", "edit", "Edit"),
        Binding("x", "stop", "Stop"),
        Binding("enter", "focus_output", "Output", show=False),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("f", "follow_running", "Follow"),
        Binding("d", "toggle_detail", "Details"),
        Binding("y", "copy_command", "Copy command", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("L", "runner_log", "Runner log", show=False),
        Binding("p", "products", "Products", show=False),
        Binding("R", "results", "Results", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
    ]

    def __init__(self, session: Session, poll_interval: float = 0.2) -> None:
        super().__init__()
        self._filters = [_Monochrome() if type(f) is Monochrome else f for f in self._filters]
        self.session = session
        session.prefetch()  # a big run's steps: a child reads them while the app starts
        self.poll_interval = poll_interval
        self.live_host: str | None = None
        self.live_pid: int | None = None
        self.follow_running = True
        self._auto_cursor: int | None = None  # the step the app itself moved the cursor to
        self.selected_step: int | None = None
        self.message_line = ""
        self.message_shown_at = 0.0
        self._stop_polling = threading.Event()
        self._recheck_live = threading.Event()
        self._refresh_order = threading.Lock()  # one refresh of the steps at a time
        self._loaded = False
        self.notify_run_end = False
        """Ring the bell and send OSC 9 / OSC 777 when a run ends (``--notify``)."""
        self.notify_writer = self.write_to_terminal
        self.opened_at = time.time()

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("aw-tui", id="header")
        with Vertical(id="body"):
            yield StepTable(id="steps")
            yield Static("", id="detail")
            yield OutputView(id="output")
        yield Input(placeholder="filter: tag or text (enter applies, esc clears)", id="filter")
        yield Static("", id="message")
        yield KeyBar(_KEY_PRIORITIES)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#detail", Static).display = False
        self.query_one(StepTable).focus()
        self.update_header()
        missing = self.session.missing_paths()
        if missing:
            self.push_screen(
                ConfirmScreen(
                    "These folders of the project do not exist:\n  "
                    + "\n  ".join(shown(m) for m in missing[:10])
                    + "\n\nCreate them?"
                ),
                self._after_paths_answer,
            )
        else:
            self.load_steps(create_paths=False)
        self.set_interval(1.0, self.update_header)

    def on_unmount(self) -> None:
        """However the app ends (q, ctrl+q, a test's teardown), end the polling thread."""
        self._stop_polling.set()

    def _after_paths_answer(self, create: bool | None) -> None:
        if create:
            self.load_steps(create_paths=True)
        else:
            self.show_message(
                "Folders missing: nothing loaded. Create them or set [pipeline] "
                "create_paths = true, then reopen."
            )

    # -- workers ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load")
    def load_steps(self, create_paths: bool) -> None:
        """Load the steps in a thread; `on_steps_loaded` shows them and starts the watcher.

        The first rows come from the checkpoint (and the newest run's header from the end
        of the journal); the watcher then folds the whole journal and refreshes them.
        """
        try:
            self.session.load(create_paths=create_paths)
            rows = self.session.rows()  # O(steps): here, not on the UI thread
        except Exception as exc:  # shown to the user, never a traceback
            self.post_message(StepsLoaded(error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(StepsLoaded(rows=rows))

    @work(thread=True, exclusive=True, group="watch")
    def watch_run_directory(self) -> None:
        """Poll the journal and the lock; post what changed."""
        # The app starts with nothing live: say so only when a runner is (a run the app
        # itself just started must not be reported gone before its runner holds the lock).
        last_live = self._check_live((None, None), forced=False)
        last_lock_check = time.monotonic()
        if not self.session.caught_up:
            if not self.session.catch_up(self._stop_polling):
                return  # the app is closing
            generation = self.session.pipeline  # the rows' own: taken before them
            self.post_message(JournalUpdate([], self.session.rows(), caught_up=True,
                                            pipeline=generation))
            generation = None
        ended = False
        while not self._stop_polling.is_set():
            now = time.monotonic()
            # The lock is read before the journal, so a step is never shown running before
            # the app knows that its run is live. A runner that started and ended between
            # two lock checks is never seen here: after the app's own runner exits, or when
            # the journal says a run ended, the state is checked and reported whatever it
            # was before.
            forced = self._recheck_live.is_set() or ended
            if forced or now - last_lock_check > 0.5:
                self._recheck_live.clear()
                last_lock_check = now
                last_live = self._check_live(last_live, forced)
            events = self.session.poll()
            if events:
                rows, generation = None, self.session.pipeline
                if any(e.get("event") in _ALL_ROWS_CHANGE for e in events):
                    rows = self.session.rows()  # O(steps): in this thread, not the UI's
                self.post_message(JournalUpdate(events, rows, pipeline=generation))
                # Not kept in this frame: a finished run's loop would hold the steps of
                # before the next refresh (and a big run's folder) for ever.
                rows = generation = None
            ended = any(e.get("event") in _RUN_ENDS for e in events)
            if not ended:
                self._stop_polling.wait(self.poll_interval)

    def _check_live(
        self, last: tuple[str | None, int | None], forced: bool
    ) -> tuple[str | None, int | None]:
        """Read the lock; post `LiveChanged` when the live runner changed (or `forced`)."""
        lock = self.session.lock()
        live = (lock.host, lock.pid) if lock else (None, None)
        if live != last or forced:
            self.post_message(LiveChanged(*live))
        return live

    # -- messages -----------------------------------------------------------------------
    def on_steps_loaded(self, message: StepsLoaded) -> None:
        if message.error:
            self.show_message(f"[b red]cannot load:[/b red] {shown(message.error)}")
            return
        self._loaded = True
        table = self.query_one(StepTable)
        table.set_rows(message.rows)
        self._select_initial()
        self.update_header()
        # Follow the run directory once these rows are on screen: catching up with a big
        # journal would otherwise compete with the first paint. The same for the project
        # file's steps and the states of a big run (FollowProject.fold_in).
        self.call_after_refresh(self.watch_run_directory)
        self.call_after_refresh(self.fold_in)

    def _select_initial(self) -> None:
        running = self.session.state.running_steps()
        table = self.query_one(StepTable)
        if running:
            table.move_cursor_to_step(running[0].step_id)
        failed = self.session.state.failed_step if self.session.state.state == FAILED else None
        if not running and failed is not None:  # its own row, its group unfolded
            table.move_cursor_to_step(failed, unfold=True)
        self._auto_cursor = table.cursor_step_id
        self._show_step(table.cursor_step_id)
        if not running and failed is not None and table.cursor_step_id == failed:
            self.show_failure(failed)

    def _move_to(self, step_id: int) -> None:
        """Move the cursor for the user (following the run), not as a user's move."""
        self._auto_cursor = step_id
        self.query_one(StepTable).move_cursor_to_step(step_id)

    def on_journal_update(self, message: JournalUpdate) -> None:
        if not self._loaded:
            return
        try:
            self._show_journal_update(message)
        except (NoMatches, ScreenStackError):  # read while the app closes: nothing to show
            return

    def _show_journal_update(self, message: JournalUpdate) -> None:
        table = self.query_one(StepTable)
        order = self.session.run_order()
        if message.rows is not None:
            if message.pipeline is self.session.pipeline:
                table.set_rows(message.rows)
            else:  # built before the steps were refreshed: build them again
                self.rebuild_rows()
        else:
            changed = {e.get("step_id") for e in message.events if e.get("step_id") is not None}
            for step_id in changed:
                try:
                    step = self.session.pipeline.get_step(step_id)
                except KeyError:
                    continue
                table.update_row(step_id, self.session.row_for(step, order))
        if message.caught_up and self.follow_running:
            running = self.session.state.running_steps()
            if running:  # a live run: show its running step, as when a step starts
                self._move_to(running[0].step_id)
                self._show_step(running[0].step_id)
        if any(e.get("event") in _RUN_ENDS for e in message.events):
            self.refresh_steps()  # what is current after the run (in a thread)
        for event in message.events:
            if event.get("event") == "step_started" and self.follow_running:
                self._move_to(event["step_id"])
                self._show_step(event["step_id"])
            if event.get("event") == "run_failed":
                self.show_message(f"[b red]failed:[/b red] {shown(event.get('error_msg'))}")
            if event.get("event") == "run_finished":
                self.show_message("run finished")
            if event.get("event") == "run_interrupted":  # the stop message is done with
                self.show_message(f"run stopped ({shown(event.get('reason'))}): c continues")
        if self.selected_step is not None and self.query_one("#detail").display:
            self._update_detail(self.selected_step)
        self.update_header()

    def on_live_changed(self, message: LiveChanged) -> None:
        self.live_host, self.live_pid = message.host, message.pid
        self.update_header()

    def on_step_table_highlighted(self, message: StepTable.Highlighted) -> None:
        if message.step_id != self._auto_cursor and self.follow_running:
            # The user moved the cursor: stop pulling it to each step that starts.
            self.follow_running = False
            if self.live_pid is not None:
                self.show_message("not following the run any more: f follows the running step")
        self._auto_cursor = None
        self._show_step(message.step_id)

    def on_step_table_selected(self, message: StepTable.Selected) -> None:
        self._show_step(message.step_id)
        self.query_one(OutputView).focus()

    # -- view ---------------------------------------------------------------------------
    def _show_step(self, step_id: int | None) -> None:
        if step_id is None:
            return
        try:
            self._show_step_now(step_id)
        except (NoMatches, ScreenStackError):  # handled while the app closes: nothing to show
            return

    def _show_step_now(self, step_id: int) -> None:
        if step_id != self.selected_step:
            self.selected_step = step_id
            self.query_one(OutputView).set_missing_note(self.output_note(step_id))
            self.query_one(OutputView).show_file(self.session.output_path(step_id))
        if self.query_one("#detail").display:
            self._update_detail(step_id)

    def _update_detail(self, step_id: int) -> None:
        self.query_one("#detail", Static).update(self.detail_text(step_id))

    def detail_text(self, step_id: int) -> str:
        """The detail pane (:func:`aw_tui.tui.details.detail_text`)."""
        return details.detail_text(self.session, step_id)

    def update_header(self) -> None:
        """The header line: project, run state, counts, elapsed and remaining time."""
        try:
            self._update_header()
        except NoMatches:  # a timer tick while the app is closing: nothing to update
            return

    def _update_header(self) -> None:
        session = self.session
        state = session.state
        name = session.target.display_name
        run_since = ""
        if self.live_pid is not None:
            since = time.strftime("%H:%M:%S", time.localtime(state.started or time.time()))
            run_since = f" since {since}"  # or the step's progress that fits (app_progress)
            run = (f"[b green]running[/b green] on {self.live_host} pid {self.live_pid}"
                   + PROGRESS_SLOT)
        elif state.state == FAILED:
            run = f"[b red]failed[/b red] at step {state.failed_step}"
        elif state.state == INTERRUPTED:
            run = f"[b yellow]interrupted[/b yellow] ({shown(state.reason)})"
        elif state.state == RUNNING:
            run = "[b red]runner gone[/b red] (continue with c)"
        elif state.state == FINISHED:
            run = "[b]finished[/b]"
        else:
            run = "idle"
        rows = self.query_one(StepTable).rows
        counts = Counter(row.status for row in rows)
        warned = sum(1 for row in rows if row.warnings)
        done = count_done(counts)
        elapsed = state.elapsed(time.time())
        remaining = state.estimate_remaining(time.time()) if self.live_pid else None
        start = f"  start {session.start_idx}" if session.start_idx is not None else ""
        tags = ""
        if session.run_tags or session.ignore_tags:
            tags = f"  tags {shown(','.join(session.run_tags)) or '*'}"
            if session.ignore_tags:
                tags += f" -{shown(','.join(session.ignore_tags))}"
        stale = counts.get(STALE, 0)
        unchecked = counts.get(UNCHECKED, 0)
        named = (f"[b red]{shown(name)} has errors[/b red]" if session.project_error
                 else f"[b]{shown(name)}[/b]")
        text = (
            f"{named}  {run}{self.job_header()}  ✔{done} ✘{counts.get('error', 0)} "
            f"·{counts.get('pending', 0) + counts.get('running', 0)}"
            + (f" [yellow]⚠{warned}[/yellow]" if warned else "")
            + (f" [magenta]{status_symbol(STALE)}{stale} stale[/magenta]" if stale else "")
            + (f" {status_symbol(UNCHECKED)}{unchecked} unchecked" if unchecked else "") + "  "
            f"{_clock(elapsed)}"
            + ((f" ~{_clock(remaining)} left" if remaining is not None else " ~? left")
               if self.live_pid and state.state == "running" else "")
            + start + tags
        )
        # Its size is fixed (app.tcss): no layout of the whole screen (~12 ms) per update.
        self.query_one("#header", Static).update(self.fit_progress(text, run_since),
                                                 layout=False)

    def show_message(self, text: str) -> None:
        """A one-line message above the footer."""
        self.message_line = text
        self.message_shown_at = time.monotonic()
        self.query_one("#message", Static).update(text, layout=False)  # fixed size

    # -- actions ------------------------------------------------------------------------
    def _require_loaded(self) -> bool:
        if not self._loaded:
            self.show_message("still loading the steps…")
        return self._loaded

    def action_run(self) -> None:
        """``r``: run from the start index with the run tags."""
        if not self._require_loaded():
            return
        if self.live_pid is not None:
            self.show_message(f"a run is live (pid {self.live_pid}); stop it first (x)")
            return
        if self.job_in_the_way():  # its Slurm job is queued or starting (app_slurm)
            return
        start = self.session.start_idx or 0
        redo = self.session.would_overwrite(start)
        self.confirm_then_start(  # with the Slurm launcher, always asked (app_slurm)
            f"Run from index {start}? {redo} finished step(s) will run again and "
            "their results be replaced." if redo else None, resume=False)

    def action_continue_run(self) -> None:
        """``c``: resume from the checkpoint (or from the chosen start index)."""
        if not self._require_loaded():
            return
        if self.live_pid is not None:
            self.show_message(f"a run is live (pid {self.live_pid})")
            return
        if not self.job_in_the_way():
            self._continue_if_any()

    @work(thread=True, exclusive=True, group="continue")
    def _continue_if_any(self) -> None:
        """Resume, unless ``--resume`` would run nothing (a finished, current run)."""
        todo = resume_todo(self.session)  # loads the checkpoint: in this thread
        if get_current_worker().is_cancelled:
            return
        if todo == 0:
            self.call_from_thread(self.show_message, "nothing to do: every step is done and "
                                  "current (r runs them again)")
        else:  # with the Slurm launcher, asked first (app_slurm)
            self.call_from_thread(self.confirm_then_start, None, True)

    def _start(self, resume: bool) -> None:
        if self.start_through_launcher(resume):  # [launcher] kind = "slurm": submitted
            return
        try:
            proc = self.session.start_run(resume=resume)
        except OSError as exc:
            self.show_message(f"[b red]cannot start the runner:[/b red] {shown(exc)}")
            return
        self.follow_running = True
        what = "continuing" if resume else "running"
        self.show_message(f"{what}: runner pid {proc.pid} (log: runner.log in the run directory)")
        self.live_pid = proc.pid
        self.live_host = os.uname().nodename
        self.update_header()
        self._watch_runner_exit(proc)

    @work(thread=True, group="runner")
    def _watch_runner_exit(self, proc: Any) -> None:
        # Never block in wait(): asyncio waits for executor threads when the app exits, so
        # quitting with a live run would hang until the run ends.
        code = None
        while code is None:
            if self._stop_polling.is_set():
                return
            try:
                code = proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
        self._recheck_live.set()
        if code not in (0, 1, 130):
            self.call_from_thread(
                self.show_message,
                f"[b red]the runner stopped with exit code {code}[/b red]: see runner.log in "
                "the run directory",
            )

    def action_set_start(self) -> None:
        """``s``: the selected step becomes the start index."""
        table = self.query_one(StepTable)
        row = table.cursor_step
        if row is None:
            return
        index = row.index
        if index is None:
            self.show_message("this step is not in the current selection (see tags, t)")
            return
        start = None if self.session.start_idx == index else index
        self.session.start_idx = start
        changed = [row for row in table.rows if row.is_start != (start is not None
                                                                 and row.index == start)]
        for old in changed:  # two rows at most, instead of rebuilding every row
            table.update_row(old.step_id, replace(old, is_start=not old.is_start))
        self.show_message(
            f"start index {self.session.start_idx}" if self.session.start_idx is not None
            else "start index cleared"
        )
        self.update_header()

    def action_tags(self) -> None:
        """``t``: run tags / ignore tags for the next run."""
        known = sorted({t for s in self.session.steps() for t in s.tags})
        self.push_screen(
            TagsScreen(self.session.run_tags, self.session.ignore_tags, known),
            self._after_tags,
        )

    def _after_tags(self, result: tuple[list[str], list[str]] | None) -> None:
        if result is None:
            return
        self.session.run_tags, self.session.ignore_tags = result
        self.update_header()

    def action_stop(self) -> None:
        """``x``: stop the live run, now or after the current step."""
        if self.live_pid is None:
            if not self.offer_job_cancel():  # a queued or starting Slurm job (app_slurm)
                self.show_message("no live run to stop")
            return
        self.push_screen(StopScreen(self.running_names()), self._after_stop)

    def _after_stop(self, when: str | None) -> None:
        if when is None or self.stop_through_launcher(when):  # a Slurm job: in a thread
            return
        self.session.stop(when)
        self.show_message(
            "stopping now: the running tool is killed and its step will run again on continue"
            if when == "now" else f"stopping after {self.running_names() or 'the current step'}"
        )

    def action_copy_command(self) -> None:
        """``y``: copy the selected step's command line to the clipboard (OSC 52)."""
        step_id = self.query_one(StepTable).cursor_step_id
        lines = self.session.command_lines(step_id) if step_id is not None else []
        if not lines:
            self.show_message(f"step {step_id} has no command line: it has not run a tool")
            return
        self.copy_to_clipboard("\n".join(lines))
        self.show_message(
            f"copied step {step_id}'s command line (OSC 52; tmux: set -g set-clipboard on)"
        )

    def action_focus_output(self) -> None:
        """``enter``: focus the output of the selected step."""
        self._show_step(self.query_one(StepTable).cursor_step_id)
        self.query_one(OutputView).focus()

    def action_focus_table(self) -> None:
        """``escape``: back to the table (and close the filter)."""
        filt = self.query_one("#filter", Input)
        if filt.display:
            filt.value = ""
            filt.display = False
            self.query_one(StepTable).set_filter("")
        self.query_one(StepTable).focus()

    def action_follow_running(self) -> None:
        """``f``: select the running step and follow its output."""
        self.follow_running = True
        running = self.session.state.running_steps()
        if not running:
            self.show_message("no step is running; following the next one that starts")
            return
        self._move_to(running[0].step_id)
        self._show_step(running[0].step_id)
        self.query_one(OutputView).follow()

    def action_toggle_detail(self) -> None:
        """``d``: show or hide the step details."""
        detail = self.query_one("#detail", Static)
        detail.display = not detail.display
        if detail.display and self.selected_step is not None:
            self._update_detail(self.selected_step)

    def action_filter(self) -> None:
        """``/``: filter the table."""
        filt = self.query_one("#filter", Input)
        filt.display = True
        filt.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(StepTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(StepTable).focus()

    @on(JournalUpdate)
    def _notify_run_end(self, message: JournalUpdate) -> None:
        self.notify_if_run_ended(message.events)  # --notify (ViewActions)

    def action_help(self) -> None:
        """``?``: the help screen."""
        self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        """``q``: quit; a live run goes on."""
        self._stop_polling.set()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette's commands (:func:`aw_tui.tui.palette.app_commands`)."""
        yield from app_commands(self, super().get_system_commands(screen))

    def action_save_screenshot(self) -> None:
        """The palette's Screenshot: an SVG in the run directory (else here), once the
        palette has closed; the message says where."""
        self.set_timer(0.1, self._save_screenshot)

    def _save_screenshot(self) -> None:
        folder = screenshot_folder(self.session.log_dir)
        try:
            path = self.save_screenshot(path=folder)
        except OSError as exc:
            self.show_message(f"[b red]no screenshot:[/b red] {shown(exc)}")
            return
        self.show_message(f"screenshot saved: {shown(os.path.basename(path))} in "
                          f"{shown(folder)}")


def run_app(target: Any, options: Any, notify: bool = False) -> int:
    """Run the TUI on a resolved target; print how to come back to a live run.

    With `notify` (``--notify``) or ``AW_TUI_NOTIFY=1``, the end of a run rings the bell and
    sends a desktop notification (see `aw_tui.tui.notify`).
    """
    session = Session(target)
    session.run_tags = list(getattr(options, "tags", []) or [])
    session.ignore_tags = list(getattr(options, "ignore_tags", []) or [])
    if getattr(options, "start_idx", None) is not None:
        session.start_idx = options.start_idx
    app = AwTuiApp(session)
    app.notify_run_end = wants_notifications(notify)
    code = app.run() or 0
    if app.live_pid is not None:
        sys.stdout.write(
            f"aw-tui: the run goes on (pid {app.live_pid} on {app.live_host}). Watch it with "
            f"`aw-tui status {target.path}` or reopen `aw-tui {target.path}`.\n"
        )
    return int(code)
