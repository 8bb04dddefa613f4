"""The app's run keys when the project's runner is a Slurm job (``[launcher] kind =
"slurm"``): ``r``/``c`` submit it, the header shows the job, ``x`` stops or cancels it.

A mixin of `aw_tui.tui.app.AwTuiApp` (which holds the bindings and ``session``,
``live_pid``, ``follow_running``), kept apart so that the app module stays small. What it
does without Textual is in `aw_tui.tui.jobwatch` (polling, stopping) and
`aw_tui.tui.session.Session` (``slurm_options``, ``submit_run``).
"""

from __future__ import annotations

import subprocess
from typing import Any

from textual import work

from aw_tui.base.errors import AwTuiError
from aw_tui.launchers.slurm import SlurmOptions, job_status
from aw_tui.rundir.vocabulary import FAILED, FINISHED, INTERRUPTED
from aw_tui.tui.jobwatch import WATCH, JobView, JobWatch, stop_run
from aw_tui.tui.screens import ConfirmScreen, shown

__all__ = ["LauncherActions", "submit_question"]


def submit_question(options: SlurmOptions, what: str) -> str:
    """The confirmation of a submit: what the job asks for (``what``: ``run from index 0``)."""
    return (f"Submit a Slurm job to {what}?\n  partition "
            f"{shown(options.partition or '(the default)')} · time "
            f"{shown(options.time or '(the partition limit)')} · {options.cpus} CPU(s)"
            + (f" · mem {shown(options.mem)}" if options.mem else "")
            + "\n  its output: slurm-<job>.out in the run directory")


class LauncherActions:
    """Run keys of `AwTuiApp` through the Slurm launcher (a mixin: ``self`` is the app)."""

    session: Any
    live_pid: int | None
    follow_running: bool
    show_message: Any
    push_screen: Any
    call_from_thread: Any
    update_header: Any
    _start: Any
    job_watch: JobWatch = WATCH
    """Where the header gets the job's state (shared by every view of the process)."""

    def job_view(self) -> JobView | None:
        """The run's Slurm job as last polled (None: no job recorded); never blocks."""
        return self.job_watch.view(self.session.log_dir)

    def job_header(self) -> str:
        """The job's part of the header line (empty without a Slurm job)."""
        view = self.job_view()
        if view is None:
            return ""
        text = shown(view.text())
        return f"  [b {view.style}]{text}[/]" if view.style else f"  {text}"

    def launcher_question(self, question: str | None, resume: bool) -> str | None:
        """``question`` (None: nothing to ask), with what the Slurm launcher will submit."""
        options = self.session.slurm_options()
        if options is None:
            return question
        ask = submit_question(options, "continue the run (--resume)" if resume else (
            f"run from index {self.session.start_idx or 0}"))
        return f"{question}\n\n{ask}" if question else ask

    def confirm_then_start(self, question: str | None, resume: bool) -> None:
        """Ask ``question`` (and what a Slurm launcher submits), then start the run."""
        question = self.launcher_question(question, resume)
        if question:
            self.push_screen(ConfirmScreen(question),
                             lambda ok: self._start(resume=resume) if ok else None)
        else:
            self._start(resume=resume)

    def job_in_the_way(self) -> bool:
        """Whether the run's Slurm job is queued or starting (then say so): ``r`` and ``c``
        would start a second runner beside it."""
        view = self.job_view()
        if view is None or not view.active:
            return False
        state = self.session.state
        ended = state.ended if state.state in (FINISHED, FAILED, INTERRUPTED) else None
        if not view.pending and ended is not None and ended > view.checked:
            self.job_watch.forget(self.session.log_dir)  # its run ended since Slurm said so
            return False
        self.show_message(f"Slurm job {shown(view.job_id)} is {view.state.lower()}: wait "
                          "for it, or stop it (x)")
        return True

    def start_through_launcher(self, resume: bool) -> bool:
        """With the Slurm launcher, submit the runner (in a thread) and return True."""
        if self.session.slurm_options() is None:
            return False
        self.show_message("submitting the runner as a Slurm job…")
        self._submit_job(resume)
        return True

    @work(thread=True, group="submit")
    def _submit_job(self, resume: bool) -> None:
        try:
            job = self.session.submit_run(resume=resume)
            status = job_status(job.job_id, max_age=0)
        except (AwTuiError, OSError, subprocess.SubprocessError) as exc:
            self.call_from_thread(self.show_message,
                                  f"[b red]cannot submit the runner:[/b red] {shown(exc)}")
            return
        self.job_watch.note_submitted(self.session.log_dir, job, status)
        self.call_from_thread(self._submitted, JobView.of(job, status))

    def _submitted(self, view: JobView) -> None:
        self.follow_running = True
        state = view.state.lower() + (f", {view.reason}" if view.reason else "")
        self.show_message(f"submitted Slurm job {shown(view.job_id)} ({shown(state)}): its "
                          "state is in the header; x cancels it")
        self.update_header()

    def stop_through_launcher(self, when: str) -> bool:
        """``x`` on a run whose runner is (or may be) a Slurm job: stop it in a thread
        (through ``control/``, then ``scancel``); False for a local runner."""
        view = self.job_view()
        if (view is None or not view.active) and self.session.slurm_options() is None:
            return False
        self._stop_job(when)
        return True

    def offer_job_cancel(self) -> bool:
        """``x`` with no runner live: offer to cancel the run's queued or starting job."""
        view = self.job_view()
        if view is None or not view.active:
            return False
        question = (f"Slurm job {shown(view.job_id)} has not started "
                    f"({shown(view.reason or view.state.lower())}). Cancel it?"
                    if view.pending else
                    f"Slurm job {shown(view.job_id)} is {view.state.lower()}, its runner "
                    "has not started the run yet. Stop it?")
        self.push_screen(ConfirmScreen(question),
                         lambda ok: self._stop_job("now") if ok else None)
        return True

    @work(thread=True, group="stop")
    def _stop_job(self, when: str) -> None:
        self.call_from_thread(self.show_message, "stopping…")
        try:
            outcome = stop_run(self.session.log_dir or "", when, watch=self.job_watch)
        except (AwTuiError, OSError, subprocess.SubprocessError) as exc:
            self.call_from_thread(self.show_message,
                                  f"[b red]cannot stop the job:[/b red] {shown(exc)}")
            return
        self.call_from_thread(self.show_message, shown(outcome.message))
        self.call_from_thread(self.update_header)
