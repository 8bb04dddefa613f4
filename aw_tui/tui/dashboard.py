"""Every run under a folder on one screen: ``aw-tui DIR`` on a folder of several projects or
run directories.

One row per run (:mod:`aw_tui.survey`: project, run, state, counts, the running step, the
Slurm job, elapsed and remaining time, last activity), read from each run's lock and journal
lines in a thread every :attr:`DashboardApp.refresh_interval` seconds (the folder walked
again every :attr:`DashboardApp.rescan_interval`). The stale count needs the checkpoint: it
is counted for the selected row only, in a thread. ``enter`` opens the run in the run's own
screen (the app ends with its target; :func:`run_dashboard` opens it and comes back here
when it closes); ``r``, ``c`` and ``x`` act on the selected run as they do there, through
its launcher (a detached runner, or a Slurm job).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from aw_tui.base.errors import AwTuiError
from aw_tui.launchers.slurm import job_status
from aw_tui.rundir.layout import EVENTS_FILE
from aw_tui.survey import COLUMNS, SurveyRun, find_runs, row_cells, survey_row
from aw_tui.target import freshness_of, resolve_target, resume_verdict
from aw_tui.tui.app import run_app
from aw_tui.tui.app_slurm import submit_question
from aw_tui.tui.jobwatch import WATCH, JobView, JobWatch, stop_run
from aw_tui.tui.screens import ConfirmScreen, StopScreen, shown
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.key_bar import KeyBar

__all__ = ["DashboardApp", "run_dashboard"]

#: The state words of a row, coloured.
STATE_STYLES = {"running": "bold green", "failed": "bold red", "dead": "bold red",
                "interrupted": "yellow", "finished": "", "idle": "dim",
                "invalid project": "red"}
DASHBOARD_KEYS = [
    ("enter", "open the run (its own screen; q there comes back here)"),
    ("r", "[b]run[/b] the selected project from its first step (confirms)"),
    ("c", "[b]continue[/b] it: resume from its checkpoint"),
    ("x", "[b]stop[/b] its live run, or cancel its Slurm job that has not started"),
    ("j k g G", "down, up, first, last run (arrows, home, end too)"),
    ("?", "this help (escape closes)"),
    ("q", "quit: live runs go on"),
]


@dataclass
class RowsRead(Message):
    """A worker read every run's row."""

    runs: list[SurveyRun] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StaleCounted(Message):
    """The stale count of one run (``text``: the number, ``-`` without a checkpoint)."""

    log_dir: str = ""
    text: str = "?"
    stamp: tuple[float, int] = (0.0, 0)


class RunTable(DataTable):  # type: ignore[type-arg]
    """The runs, one row each; j/k/g/G move as in the run's step table."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "First", show=False),
        Binding("G,end", "scroll_bottom", "Last", show=False),
    ]


class DashboardHelp(ModalScreen[None]):
    """The dashboard's keys."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"[b]{shown(key):<8}[/b] {text}" for key, text in DASHBOARD_KEYS)
        with VerticalScroll(classes="dialog help"):
            yield Static("[b]aw-tui: every run in a folder[/b]", classes="question")
            yield Static(lines)
            yield Static("The list reads each run's lock and journal only; the stale count "
                         "needs the checkpoint and is counted for the selected run.",
                         classes="hint note")

    def action_close(self) -> None:
        self.dismiss(None)


def _stamp(log_dir: str) -> tuple[float, int]:
    """The journal's modification time and size: a stale count holds until they change."""
    try:
        info = os.stat(os.path.join(log_dir, EVENTS_FILE))
    except OSError:
        return (0.0, 0)
    return (info.st_mtime, info.st_size)


def count_stale(run: SurveyRun) -> str:
    """How many of the run's finished steps are stale (blocking: loads its checkpoint and
    checks its files); ``-`` without a checkpoint, ``?`` when it cannot tell."""
    try:
        target = resolve_target(run.target, check_files=False)
        verdict = resume_verdict(target)
        if verdict.pipeline is None:
            return "-" if verdict.refusal is None else "?"
        states = freshness_of(target, verdict.pipeline).states
    except Exception:  # a broken project, a refused checkpoint: not known
        return "?"
    return str(sum(1 for state in states if state.state == "stale"))


class DashboardApp(App[str | None]):
    """Every run under ``folder``, one row each.

    Parameters
    ----------
    folder : str
        The folder given on the command line.
    runs : list of SurveyRun, optional
        Already found (else found in a thread at start).
    selected : str, optional
        The target to put the cursor on (the run just closed).
    clock : callable
        ``time.time`` (a test gives a fixed clock).
    """

    CSS_PATH = "app.tcss"
    CSS = """
    #runs { height: 1fr; }
    #run-detail { height: 3; padding: 0 1; background: $boost; }
    """
    TITLE = "aw-tui"
    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("r", "run", "Run"),
        Binding("c", "continue_run", "Continue"),
        Binding("x", "stop", "Stop"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
    ]
    refresh_interval = 2.0
    rescan_interval = 10.0
    job_watch: JobWatch = WATCH

    def __init__(self, folder: str, runs: list[SurveyRun] | None = None,
                 selected: str | None = None, message: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.folder = folder
        self.runs: list[SurveyRun] = list(runs or [])
        self.rows: list[dict[str, Any]] = []
        self.selected_target = selected
        self.first_message = message
        self.clock = clock
        self.stale: dict[str, tuple[tuple[float, int], str]] = {}
        self.started: list[subprocess.Popen] = []
        self._keys: list[str] = []
        self._scanned = time.monotonic() if runs else 0.0
        self._stale_timer: Any = None
        self.message_line = ""

    def compose(self) -> ComposeResult:
        yield Static(f"aw-tui {shown(self.folder)}: reading the runs…", id="header")
        # one space between columns, not two: twelve columns fit 120 columns
        table = RunTable(id="runs", cursor_type="row", zebra_stripes=True, cell_padding=0)
        table.add_columns(*(f" {name}" for name in COLUMNS))
        yield table
        yield Static("", id="run-detail")
        yield Static(self.first_message, id="message")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.read_rows()
        self.set_interval(self.refresh_interval, self.read_rows)

    # -- reading ------------------------------------------------------------------------
    def _job(self, run: SurveyRun) -> dict[str, Any] | None:
        view = self.job_watch.view(run.log_dir) if run.log_dir else None
        if view is None:
            return None
        return {"id": view.job_id, "state": view.state, "reason": view.reason,
                "node": view.node, "time_left": view.time_left_now(), "active": view.active}

    @work(thread=True, exclusive=True, group="rows")
    def read_rows(self) -> None:
        """Walk the folder (every ``rescan_interval``) and read every run's row."""
        runs = self.runs
        if not runs or time.monotonic() - self._scanned > self.rescan_interval:
            runs = find_runs(self.folder)
            self._scanned = time.monotonic()
        now = self.clock()
        rows = [survey_row(run, self.folder, self._job(run), now) for run in runs]
        for proc in self.started:
            proc.poll()  # reap the runners this app started once they end
        self.post_message(RowsRead(runs, rows))

    def on_rows_read(self, message: RowsRead) -> None:
        self.runs, self.rows = message.runs, message.rows
        table = self.query_one(DataTable)
        keys = [f"{run.target}\n{run.log_dir}" for run in self.runs]
        now = self.clock()
        cells = [self._cells(row, now) for row in self.rows]
        if keys != self._keys:
            current = self.selected_run()
            wanted = current.target if current else self.selected_target
            table.clear()
            for key, row in zip(keys, cells, strict=True):
                table.add_row(*row, key=key)
            self._keys = keys
            index = next((i for i, run in enumerate(self.runs) if run.target == wanted), 0)
            if self.runs:
                table.move_cursor(row=index)
        else:
            changed = False
            for key, new in zip(keys, cells, strict=True):
                old = table.get_row(key)
                for column, (before, after) in enumerate(zip(old, new, strict=True)):
                    if str(before) != str(after):
                        # A wider cell widens its column now: DataTable measures it only
                        # when idle, and a cell drawn in between is cached at the old
                        # width (its cache key has no width), so "1337 PENDING" stayed
                        # "133" under load (the snapshot's flake).
                        place = table.ordered_columns[column]
                        plain = after.plain if isinstance(after, Text) else str(after)
                        place.content_width = max(place.content_width, cell_len(plain))
                        table.update_cell(key, place.key, after, update_width=True)
                        changed = True
            if changed:
                table.check_idle()  # it measures the widths (and the scroll size) when idle
        self._update_header()
        self._update_detail()

    def _cells(self, row: dict[str, Any], now: float) -> list[Any]:
        known = self.stale.get(row.get("log_dir") or "")
        stale = known[1] if known and known[0] == _stamp(row.get("log_dir") or "") else None
        cells: list[Any] = [f" {cell}" for cell in row_cells(row, now, stale)]
        cells[2] = Text(cells[2], style=STATE_STYLES.get(row["state"], ""))
        return cells

    def _update_header(self) -> None:
        states: dict[str, int] = {}
        for row in self.rows:
            states[row["state"]] = states.get(row["state"], 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        self.query_one("#header", Static).update(
            f"[b]aw-tui {shown(self.folder)}[/b]  {len(self.rows)} run(s)"
            + (f": {shown(summary)}" if summary else "") + "  (enter opens one, ? keys)")

    # -- the selected run ---------------------------------------------------------------
    def selected_run(self) -> SurveyRun | None:
        """The run under the cursor."""
        index = self.query_one(DataTable).cursor_row
        return self.runs[index] if self.runs and 0 <= index < len(self.runs) else None

    def selected_row(self) -> dict[str, Any] | None:
        """The selected run's row (as ``aw-tui status DIR --json`` gives it)."""
        index = self.query_one(DataTable).cursor_row
        return self.rows[index] if self.rows and 0 <= index < len(self.rows) else None

    def _update_detail(self) -> None:
        run, row = self.selected_run(), self.selected_row()
        if run is None or row is None:
            self.query_one("#run-detail", Static).update("no project or run directory found")
            return
        lines = [f"project: {shown(os.path.relpath(run.project, self.folder))}"
                 if run.project else "a run directory without its project file",
                 f"run directory: {shown(row.get('run_dir'))}"
                 if run.log_dir else f"[red]{shown(run.problem)}[/red]"]
        if row.get("live"):
            lines[-1] += f"  runner pid {row.get('pid')} on {shown(row.get('host'))}"
        job = row.get("job")
        if job:
            view = JobView(job["id"], job["state"], job.get("reason"), job.get("node"),
                           job.get("time_left"), checked=time.time())
            lines.append(f"Slurm {shown(view.text())}")
        elif row.get("state") == "failed" and row.get("failed_step") is not None:
            lines.append(f"failed at step {row['failed_step']}: enter shows its error")
        self.query_one("#run-detail", Static).update("\n".join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_detail()
        if self._stale_timer is not None:
            self._stale_timer.stop()
        self._stale_timer = self.set_timer(0.3, self._count_selected)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()  # enter on the table

    def _count_selected(self) -> None:
        run = self.selected_run()
        if run is None or not run.log_dir:
            return
        known = self.stale.get(run.log_dir)
        if known is None or known[0] != _stamp(run.log_dir):
            self.count_stale(run)

    @work(thread=True, exclusive=True, group="stale")
    def count_stale(self, run: SurveyRun) -> None:
        """The selected run's stale count (its checkpoint is loaded: in a thread)."""
        stamp = _stamp(run.log_dir)
        self.post_message(StaleCounted(run.log_dir, count_stale(run), stamp))

    def on_stale_counted(self, message: StaleCounted) -> None:
        self.stale[message.log_dir] = (message.stamp, message.text)
        if message.log_dir in [run.log_dir for run in self.runs]:
            self.on_rows_read(RowsRead(self.runs, self.rows))

    def show_message(self, text: str) -> None:
        """A one-line message above the keys."""
        self.message_line = text
        self.query_one("#message", Static).update(text)

    # -- actions ------------------------------------------------------------------------
    def action_open(self) -> None:
        """``enter``: open the selected run (the app ends with its target)."""
        run = self.selected_run()
        if run is not None:
            self.exit(run.target)

    def action_run(self) -> None:
        """``r``: run the selected project from its first step."""
        self._act(resume=False)

    def action_continue_run(self) -> None:
        """``c``: resume the selected run."""
        self._act(resume=True)

    def _act(self, resume: bool) -> None:
        run, row = self.selected_run(), self.selected_row()
        if run is None or row is None:
            return
        if run.problem:
            self.show_message(f"[b red]{shown(run.problem)}[/b red] (aw-tui check "
                              f"{shown(run.target)} lists the problems)")
            return
        if row.get("live"):
            self.show_message(f"a run is live (pid {row.get('pid')} on "
                              f"{shown(row.get('host'))}); stop it first (x)")
            return
        job = row.get("job")
        if job and job.get("active"):
            self.show_message(f"Slurm job {shown(job['id'])} is {job['state'].lower()}: wait "
                              "for it, or stop it (x)")
            return
        self._prepare(run, row, resume)

    @work(thread=True, group="prepare")
    def _prepare(self, run: SurveyRun, row: dict[str, Any], resume: bool) -> None:
        try:
            session = Session(resolve_target(run.target, expand=False))
        except AwTuiError as exc:
            self.call_from_thread(self.show_message, f"[b red]cannot open it:[/b red] "
                                  f"{shown(str(exc).splitlines()[0])}")
            return
        name = row["project"]
        done = (row.get("counts") or {}).get("done") or 0
        question = None
        if not resume and done:
            question = (f"Run {shown(name)} from its first step? Its {done} done step(s) "
                        "will run again and their results be replaced.")
        options = session.slurm_options()
        if options is not None:
            ask = submit_question(options, "continue the run (--resume)" if resume
                                  else "run from index 0")
            question = f"{question}\n\n{ask}" if question else ask
        self.call_from_thread(self._confirm, session, name, resume, question)

    def _confirm(self, session: Session, name: str, resume: bool, question: str | None) -> None:
        if question:
            self.push_screen(ConfirmScreen(question),
                             lambda ok: self._launch(session, name, resume) if ok else None)
        else:
            self._launch(session, name, resume)

    @work(thread=True, group="launch")
    def _launch(self, session: Session, name: str, resume: bool) -> None:
        what = "continuing" if resume else "running"
        try:
            if session.slurm_options() is not None:
                job = session.submit_run(resume=resume)
                status = job_status(job.job_id, max_age=0)
                self.job_watch.note_submitted(session.log_dir or "", job, status)
                text = (f"{what} {shown(name)}: submitted Slurm job {shown(job.job_id)} "
                        f"({shown(JobView.of(job, status).text())})")
            else:
                proc = session.start_run(resume=resume)
                self.started.append(proc)
                text = f"{what} {shown(name)}: runner pid {proc.pid} (runner.log in its run " \
                       "directory)"
        except (AwTuiError, OSError, subprocess.SubprocessError) as exc:
            text = f"[b red]cannot start {shown(name)}:[/b red] {shown(exc)}"
        self.call_from_thread(self.show_message, text)
        self.call_from_thread(self.read_rows)

    def action_stop(self) -> None:
        """``x``: stop the selected run's live runner, or cancel its queued Slurm job."""
        run, row = self.selected_run(), self.selected_row()
        if run is None or row is None or not run.log_dir:
            return
        job = row.get("job")
        if row.get("live"):
            self.push_screen(StopScreen(),
                             lambda when: self._stop(run, when) if when else None)
        elif job and job.get("active"):
            self.push_screen(
                ConfirmScreen(f"Slurm job {shown(job['id'])} of {shown(row['project'])} is "
                              f"{job['state'].lower()} and its runner has not started. "
                              "Cancel it?"),
                lambda ok: self._stop(run, "now") if ok else None)
        else:
            self.show_message("no live run to stop")

    @work(thread=True, group="stop")
    def _stop(self, run: SurveyRun, when: str) -> None:
        try:
            text = shown(stop_run(run.log_dir, when, watch=self.job_watch).message)
        except (AwTuiError, OSError, subprocess.SubprocessError) as exc:
            text = f"[b red]cannot stop it:[/b red] {shown(exc)}"
        self.call_from_thread(self.show_message, text)
        self.call_from_thread(self.read_rows)

    def action_help(self) -> None:
        """``?``: the keys."""
        self.push_screen(DashboardHelp())

    def action_quit_app(self) -> None:
        """``q``: quit; live runs go on."""
        self.exit(None)


def run_dashboard(folder: str, runs: list[SurveyRun], options: Any,
                  notify: bool = False) -> int:
    """The dashboard of ``folder``; ``enter`` opens a run in its own screen
    (:func:`aw_tui.tui.app.run_app`), and closing that comes back to the list."""
    selected, message = None, ""
    while True:
        app = DashboardApp(folder, runs, selected=selected, message=message)
        choice = app.run()
        if not choice:
            return 0
        selected, message, runs = choice, "", []
        try:
            target = resolve_target(choice, expand=False)
        except AwTuiError as exc:
            message = f"[b red]cannot open {shown(choice)}:[/b red] {shown(str(exc))}"
            continue
        run_app(target, options, notify=notify)
