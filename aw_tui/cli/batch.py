"""``aw-tui PROJECT --batch``: run headless, with output that suits a Slurm log.

One line when a step starts and one when it ends (``[3/7] step2 SCAMP ok 0.4 s  astrom ref
0.029"``); the tools' output goes to the run directory only, unless ``--verbose``; a
progress line only on a terminal. Exit codes (see :data:`EXIT_CODES`): 0 done, 1 a step
failed, 2 bad input, configuration or missing tool, 130 interrupted. Never imports Textual.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from typing import IO, Any

from aw_tui.astromatic.summaries import format_summary, step_label
from aw_tui.base.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STEP_FAILED,
    AwTuiError,
)
from aw_tui.base.text import inert
from aw_tui.cli.common import (
    EXIT_PIPE_CLOSED,
    discard_stdout,
    error_text,
    missing_tool,
    run_problem,
    say,
)
from aw_tui.engine.executors import executor_from_config
from aw_tui.launchers.slurm import allocation_end, resubmit
from aw_tui.options import OptionsError, RunOptions, check_start_idx
from aw_tui.rundir.journal import JournalReader, RunState, read_events
from aw_tui.rundir.vocabulary import ERROR, RUNNING, SKIPPED, SUCCESS, count_ended
from aw_tui.target import Target, has_checkpoint, open_pipeline, resolve_target

__all__ = ["EXIT_CODES", "make_executor", "run_batch"]


EXIT_CODES = {
    EXIT_OK: "every selected step ran",
    EXIT_STEP_FAILED: "a step failed (error result or exception); the run can be resumed",
    EXIT_BAD_INPUT: "bad input: project file, arguments, checkpoint, missing tool, run "
    "directory in use",
    EXIT_INTERRUPTED: "interrupted (SIGINT, SIGTERM, SIGHUP or a stop request); resumable",
    EXIT_PIPE_CLOSED: "the output's reader went away (e.g. `aw-tui status X | head`); a "
    "--batch run goes on",
}


class Reporter(threading.Thread):
    """Prints journal events as Slurm-friendly lines while the run goes on."""

    def __init__(self, log_dir: str, out: IO[str], progress: bool) -> None:
        super().__init__(name="aw-tui-report", daemon=True)
        self.reader = JournalReader(log_dir)
        self.reader.read_all()  # only this run's events
        self.out = out
        self.progress = progress
        self.state = RunState()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._bar_shown = False
        self._gone = False
        self._ran = 0  # steps that ended in this run

    def run(self) -> None:
        while not self._halt.wait(0.2):
            self.drain()
            if self.progress:
                self._draw_bar()

    def stop(self) -> None:
        """Print what is left and stop."""
        self._halt.set()
        self.drain()
        self._clear_bar()

    def _print(self, line: str) -> None:
        self._clear_bar()
        self._write(inert(line) + "\n")

    def _write(self, text: str) -> None:
        """Write and flush; once the reader of our output is gone, print nothing more (the
        run goes on: its journal has every event)."""
        if self._gone:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (BrokenPipeError, ValueError):  # `| head` closed the pipe; out was closed
            self._gone = True
            if self.out is sys.stdout:
                discard_stdout()  # the run's exit code stays the command's

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self._write("\r\x1b[K")
            self._bar_shown = False

    def _draw_bar(self) -> None:
        with self._lock:
            state = self.state
            if state.state != RUNNING or not state.run_steps:
                return
            counts = state.counts()
            done = count_ended(counts)
            total = len(state.run_steps)
            width = 24
            filled = int(width * done / max(total, 1))
            running = ", ".join(step_label(s.tags, s.func) for s in state.running_steps())
            elapsed = time.time() - (state.started or time.time())
            self._write(
                f"\r\x1b[K[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                f"{elapsed:.0f} s {inert(running[:40], one_line=True)}"
            )
            self._bar_shown = True

    def drain(self) -> None:
        """Print every event that arrived since the last call."""
        with self._lock:
            for event in self.reader.read_all():
                step = self.state.apply(event)
                line = self._line(event, step)
                if line:
                    self._print(line)

    def _line(self, event: dict[str, Any], step: Any) -> str | None:
        kind = event.get("event")
        total = len(self.state.run_steps)
        if kind == "step_finished":
            self._ran += 1
        if kind == "run_started":
            self._ran = 0
            how = "resuming" if event.get("resume") else "starting"
            return (
                f"aw-tui: {how} {event.get('pipeline_name')} at step index "
                f"{event.get('start_idx')} of {total} on {event.get('host')} pid "
                f"{event.get('pid')}"
            )
        if step is None:
            if kind == "warning":
                return f"warning: step {event.get('step_id')}: {event.get('message')}"
            if kind == "run_finished":
                ran = self._ran
                skipped = self.state.counts().get(SKIPPED, 0)
                kept = max(0, total - ran - skipped)
                took = f"{event.get('duration', 0):.1f} s"
                rest = "".join([f"; {kept} were already done and current" if kept else "",
                                f"; {skipped} before the start index did not run"
                                if skipped else ""])
                if not ran and kept and not skipped:
                    return f"aw-tui: nothing to run: all {total} steps are done and current"
                if ran == total:
                    return f"aw-tui: done, {total} steps in {took}"
                return f"aw-tui: done, {ran} steps ran in {took}{rest}"
            if kind == "stop_requested":
                return f"aw-tui: stop requested ({event.get('when')})"
            return None
        index = (step.index if step.index is not None else -1) + 1
        label = step_label(step.tags, step.func)
        where = f" on {step.worker}" if step.worker else ""
        if kind == "step_started":
            return f"[{index}/{total}] {label} started{where}"
        if kind == "step_finished":
            status = {SUCCESS: "ok"}.get(step.status, step.status)
            if step.status == SUCCESS and (step.verdict == "warn" or step.warnings):
                status = "warn"  # never a plain "ok" for a result that came with warnings
            line = f"[{index}/{total}] {label} {status} {step.duration or 0:.1f} s"
            summary = format_summary(step.summary)
            if summary:
                line += f"  {summary}"
            if step.warnings:
                line += f"  ⚠ {len(step.warnings)}: {step.warnings[0]}"
            if step.status == ERROR and step.error_msg:
                line += f"\n    {step.error_msg}"
            return line
        if kind == "step_interrupted":
            return f"[{index}/{total}] {label} interrupted ({event.get('reason')})"
        return None


def _err(message: str) -> None:
    say(message)


def run_batch(target_path: str, options: RunOptions, out: IO[str] | None = None) -> int:
    """Run a project / run directory headless and return the exit code."""
    out = out or sys.stdout
    try:
        options.validate()
        target = resolve_target(target_path, options.run_name)
        if target.project is not None and not _from_checkpoint(target, options):
            # Before the pipeline is built (which creates the project's folders).
            problem = run_problem(target, None, options)
            if problem:
                _err(problem)
                return EXIT_BAD_INPUT
        opened = open_pipeline(
            target, resume=options.resume, run_name=options.run_name,
            create_paths=options.create_paths, use_checkpoint=options.use_checkpoint,
            keep_stale=options.keep_stale,
        )
    except AwTuiError as exc:
        _err(error_text(exc))
        return EXIT_BAD_INPUT  # nothing ran yet: whatever stops us here is bad input
    pipeline = opened.pipeline
    for note in opened.notes:
        out.write(f"aw-tui: note: {inert(note)}\n")
    selected = pipeline.select_steps(
        options.tags, options.ignore_tags, None, options.resume and opened.from_checkpoint
    )
    if not selected:
        _err(
            "no step matches the selection (--tags "
            f"{options.tags or '-'} / --ignore-tags {options.ignore_tags or '-'}); "
            "`aw-tui check PROJECT` lists the steps and their tags"
        )
        return EXIT_BAD_INPUT
    try:
        check_start_idx(options.start_idx, len(selected))
    except OptionsError as exc:
        _err(error_text(exc))
        return EXIT_BAD_INPUT
    problem = missing_tool(selected, getattr(pipeline, "build_paths", {}))
    if problem:
        _err(problem)
        return EXIT_BAD_INPUT
    try:
        executor = make_executor(pipeline, options, target)
    except (AwTuiError, ValueError, ImportError) as exc:  # a bad [executor] table, no dask
        _err(str(exc))
        return EXIT_BAD_INPUT
    return _run(pipeline, options, opened.from_checkpoint, target_path, target.log_dir,
                executor, out)


def _from_checkpoint(target: Target, options: RunOptions) -> bool:
    """Whether the run would start from the target's checkpoint (not a fresh build)."""
    return (options.resume or options.use_checkpoint) and has_checkpoint(
        target, options.run_name)


def _echo_listeners(options: RunOptions, out: IO[str]) -> list[Any]:
    """With ``--verbose``, a listener that copies the tools' output to ``out``."""
    stream = getattr(out, "buffer", None)
    if not options.verbose or stream is None:
        return []

    def echo(chunk: bytes) -> None:
        stream.write(chunk)
        stream.flush()

    return [echo]


def _run(pipeline: Any, options: RunOptions, from_checkpoint: bool, target_path: str,
         log_dir: str | None, executor: Any, out: IO[str]) -> int:
    """Run the opened pipeline with the reporter printing its events; the exit code.

    ``target_path`` is the target as the user wrote it (for the advice printed);
    ``log_dir`` the target's run directory.
    """
    reporter = None
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        reporter = Reporter(log_dir, out, progress=out.isatty())
        reporter.start()
    code = EXIT_OK
    job_id = os.environ.get("SLURM_JOB_ID")
    deadline = allocation_end(job_id) if job_id else None
    try:
        pipeline.run(
            **options.run_kwargs(resume=options.resume and from_checkpoint),
            executor=executor,
            output_listeners=_echo_listeners(options, out),
            deadline=deadline,
            expected_seconds=_expected_seconds(log_dir) if deadline else None,
        )
    except AwTuiError as exc:
        code = exc.exit_code
        if reporter:
            reporter.stop()
        if code == EXIT_STEP_FAILED:
            _err(f"FAILED: {error_text(exc)}")
            _err(
                f"fix the step (edit the project file, or press e in aw-tui {target_path}), "
                f"then aw-tui {target_path} --batch --resume runs the fixed step and every "
                "step that depends on it"
            )
        else:
            _err(error_text(exc))
    except KeyboardInterrupt as exc:
        code = EXIT_INTERRUPTED
        if reporter:
            reporter.stop()
        reason = getattr(exc, "reason", "SIGINT")
        _err(f"interrupted ({reason}); resume with: aw-tui {target_path} --batch --resume")
        if job_id and log_dir and (reason.startswith("walltime") or reason == "SIGTERM"):
            _requeue(log_dir, job_id)
    finally:
        if reporter:
            reporter.stop()
        if executor is not None and hasattr(executor, "close"):
            executor.close()
    return code


def _expected_seconds(log_dir: str | None) -> dict[str, float]:
    """The median duration of the finished steps of each function in the journal (this
    run directory's earlier runs): what a step is expected to take in a new allocation."""
    if not log_dir or not os.path.isfile(os.path.join(log_dir, "events.jsonl")):
        return {}
    funcs: dict[int, str] = {}
    durations: dict[str, list[float]] = {}
    for event in read_events(log_dir):
        if event.get("event") == "step_started" and isinstance(event.get("func"), str):
            funcs[event.get("step_id")] = event["func"]
        elif event.get("event") == "step_finished" and isinstance(
                event.get("duration"), int | float) and event.get("step_id") in funcs:
            durations.setdefault(funcs[event["step_id"]], []).append(float(event["duration"]))
    return {func: statistics.median(values) for func, values in durations.items()}


def _requeue(log_dir: str, job_id: str) -> None:
    """A run its allocation ended: submit its runner again (``[launcher.slurm] requeue``)."""
    try:
        job = resubmit(log_dir, after=job_id)
    except AwTuiError as exc:
        _err(f"could not submit the run again: {error_text(exc)}")
        return
    if job is None:
        return
    _err(f"submitted job {job.job_id} to go on after job {job_id} "
         f"({len(job.previous_jobs)} of {job.options.get('requeue')} requeues)")


def make_executor(pipeline: Any, options: RunOptions, target: Any) -> Any:
    """The executor for ``--jobs`` / the project's ``[executor]`` table (None: serial).

    ``--jobs N`` (else ``[pipeline] jobs`` of a project without ``[executor]``) runs up to N
    steps at once: N threads here, or with ``[executor] kind = "dask"`` N steps in flight on
    the cluster (its ``jobs`` are batch jobs, which ``--jobs`` leaves alone).
    """
    project = getattr(target, "project", None)
    config = dict(getattr(project, "executor_config", None) or {})
    jobs = options.jobs
    if jobs is None and not config:
        jobs = getattr(project, "jobs", None)
    if jobs is not None and config.get("kind") == "dask":
        config["capacity"] = jobs
    elif jobs is not None:
        config.setdefault("kind", "local" if jobs > 1 else "serial")
        config["jobs"] = jobs
    kind = config.get("kind", "serial")
    if kind == "serial" or not config:
        return None
    return executor_from_config(config)
