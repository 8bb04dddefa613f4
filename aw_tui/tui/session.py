"""What the TUI shows and does, without Textual: steps, run state, rows, edits, runs.

The TUI keeps one :class:`Session`. Loading steps and reading the journal are blocking I/O:
the app calls them from thread workers only.

For a project the table shows the project file's steps with the checkpoint's results, and
each step's state now (:mod:`aw_tui.tui.fold`): a step whose result is no longer current
shows ``stale`` (its first reason as its summary), a step new to the project ``pending``.
A step the live run started or finished after those states were computed shows what the
journal says. :meth:`Session.refresh` computes them again (after a run ends, when the
project file changes: :meth:`Session.project_changed`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import threading
from typing import Any

from aw_tui.astromatic.summaries import format_summary
from aw_tui.base.gcpause import gc_paused, give_back_memory
from aw_tui.launch import RunRequest, launcher_kind, start_runner, submit_runner
from aw_tui.launchers.slurm import SlurmJob, SlurmOptions, options_from_config
from aw_tui.project.loader import ProjectError
from aw_tui.rundir import checkpoint, control
from aw_tui.rundir.freshness import StepFreshness
from aw_tui.rundir.journal import JournalReader, RunState, read_run_header
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.lock import LockInfo, read_lock
from aw_tui.rundir.vocabulary import (
    DONE_STATUSES,
    PENDING,
    RUNNING,
    SKIPPED,
    STALE,
    SUCCESS,
)
from aw_tui.target import Target, build_from_project
from aw_tui.tui import runplan
from aw_tui.tui.fold import FoldError, file_stamp, fold, load_replayed, reread, watched_files
from aw_tui.tui.light import (
    LightChild,
    LightError,
    LightPipeline,
    LightStep,
    LightView,
    load_light,
    read_light,
    start_light,
    wants_light,
)
from aw_tui.tui.session_edits import EditOutcome, EditTarget, SessionEdits
from aw_tui.tui.step_rows import UNCHECKED, StepRow, result_fields

__all__ = ["INLINE_STEPS", "EditOutcome", "EditTarget", "Session"]

#: Up to this many steps, :meth:`Session.load` computes the states before the first paint
#: (so no row ever shows a stale result as a success); a bigger run paints the checkpoint's
#: rows first and the app folds the states in afterwards (the first-paint targets).
INLINE_STEPS = 2000

#: The journal events that change every row.
_ALL_ROWS_EVENTS = ("run_started", "edit_applied")


class _StepsById:
    """A pipeline's steps by id, looked up by the pipeline (no dict of 100,000 of them)."""

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def get(self, step_id: Any, default: Any = None) -> Any:
        if self._pipeline is None:
            return default
        try:
            return self._pipeline.get_step(step_id)
        except KeyError:
            return default


class Session(SessionEdits):
    """A project or run directory opened in the TUI.

    Parameters
    ----------
    target : Target
        From :func:`aw_tui.target.resolve_target`.
    light : bool
        Whether a big checkpoint (:func:`aw_tui.tui.light.wants_light`) is read by a child
        process, this session holding its steps light (:mod:`aw_tui.tui.light`); False in
        that child itself.
    """

    def __init__(self, target: Target, light: bool = True) -> None:
        self.target = target
        self.light_allowed = light
        self.light = False
        """Whether the steps are held light (:class:`~aw_tui.tui.light.LightPipeline`)."""
        self._watched: list[str] | None = None  # the whole project's files (light: the child's)
        self._prefetched: LightChild | None = None
        self._rows_built: list[StepRow] = []  # the rows built last (rows)
        self.pipeline: Any = None
        self.state = RunState()
        self.reader = JournalReader(self.log_dir, light=True) if self.log_dir else None
        self.start_idx: int | None = None
        self.run_tags: list[str] = []
        self.ignore_tags: list[str] = []
        self.load_error: str | None = None
        self.caught_up = False
        """Whether :attr:`state` holds the whole journal (else only the newest run's header)."""
        self._results: dict[int, dict[str, Any]] = {}
        self.checkpoint: Any = None
        """The loaded checkpoint (journal replayed), the states' source; None without one."""
        self.freshness: dict[int, StepFreshness] = {}
        """Each step's state now, by step id (empty until :meth:`refresh`)."""
        self.fresh_seq: int | None = None
        """The journal ``seq`` the states include (None: not computed)."""
        self.removed: list[StepFreshness] = []
        """Steps of the checkpoint that the project no longer has (results kept)."""
        self.folded = False
        """Whether :meth:`refresh` has run (else the rows are the checkpoint's)."""
        self.project_error: str | None = None
        """Why the project file does not load now (the table keeps its last good steps)."""
        self.fold_error: str | None = None
        """Why the project's steps cannot be shown now (e.g. missing folders)."""
        self.create_paths = False
        self.project_stamp = file_stamp(watched_files(target))
        """:func:`aw_tui.tui.fold.file_stamp` of the files the steps come from, when read."""
        self._all_rows_seq = 0  # seq of the last event that changed every row
        self._checkpoint_stamp: tuple[Any, ...] | None = None
        self._refresh_lock = threading.Lock()
        self._editing = threading.Event()

    @property
    def log_dir(self) -> str | None:
        """The run directory: the target's, which owns that path."""
        return self.target.log_dir

    # -- loading ------------------------------------------------------------------------
    def missing_paths(self) -> list[str]:
        """Folders of the project that do not exist (the engine would ask to create them)."""
        project = self.target.project
        if project is None or self.has_checkpoint() or getattr(project, "create_paths", False):
            return []  # the engine creates them without asking
        paths = dict(getattr(project, "paths", {}) or {})
        return [p for p in paths.values() if isinstance(p, str) and not os.path.exists(p)]

    def has_checkpoint(self) -> bool:
        """Whether the run directory holds a checkpoint."""
        return bool(self.target.checkpoint) and os.path.isfile(self.target.checkpoint or "")

    def prefetch(self) -> None:
        """Start reading a big checkpoint light now (:mod:`aw_tui.tui.light`): its child
        process works while the app starts; :meth:`load` reads it."""
        if self.pipeline is None and self._prefetched is None and self._wants_light():
            self._prefetched = start_light(self.target, fold=False)

    def _wants_light(self) -> bool:
        return (self.light_allowed and self.has_checkpoint()
                and wants_light(self.target.checkpoint))

    def load(self, create_paths: bool = False) -> None:
        """Load the steps: the checkpoint's (with edits) if any, else built from the project.

        Of the journal, only the newest run's header is read (from the end of the file):
        the rows show the checkpoint's results until :meth:`catch_up` has folded the
        journal, which for a big finished run takes longer than everything else.
        """
        self.create_paths = self.create_paths or create_paths
        self.caught_up = self.light = False  # the journal's header only, read below
        with gc_paused():
            started, self._prefetched = self._prefetched, None
            if started is None and self._wants_light():
                started = start_light(self.target, fold=False)
            if started is not None:
                with contextlib.suppress(LightError):  # in-process below: it says why
                    self._hold_light(read_light(started))
            if not self.light and (self.has_checkpoint() or self.target.project is None):
                self.hold_checkpoint()
            elif not self.light:
                self.pipeline = build_from_project(
                    self.target, create_paths=create_paths or None, share_values=True)
                self.folded = True  # no checkpoint: every step is pending
        if self.reader is not None:
            self.state = read_run_header(self.log_dir or "") or RunState()
            self.reader = JournalReader(self.log_dir or "", light=True)
            self.caught_up = False
        if not self.folded and len(self.pipeline.steps) <= INLINE_STEPS:
            with contextlib.suppress(ProjectError, FoldError):  # kept in project/fold_error
                self.refresh()

    def hold_checkpoint(self) -> Any:
        """Load the checkpoint (the journal replayed) as the steps shown and the states'
        source; return it."""
        self.pipeline = self._load_checkpoint(self.target.checkpoint or self.log_dir or "")
        self.checkpoint = self.pipeline
        self._checkpoint_stamp = file_stamp([self.target.checkpoint or ""])
        return self.pipeline

    def _hold_light(self, view: LightView) -> None:
        """Show a child's steps (:mod:`aw_tui.tui.light`) and, when it folded, their states."""
        self.light, self.checkpoint, self._checkpoint_stamp = True, None, None
        if self.caught_up:  # the journal says more than the checkpoint's fields
            view.pipeline.forget_fields(self.state.steps)
        self.pipeline = view.pipeline
        if view.folded:
            self.freshness, self.removed, self.fresh_seq = view.states, view.removed, view.seq
            if self.target.project is not None:
                self.project_stamp, self._watched = view.stamp, view.watched
                self.project_error = None
            self.fold_error = None
            self._results.clear()
            self.folded = True

    def _refresh_light(self, running: set[int], reload_project: bool) -> bool:
        """:meth:`refresh` by a child process; False when it failed (refresh in-process).
        A project file broken since the last good states keeps them, as in-process (the
        journal's events still come in), unless asked to read it again."""
        try:
            previous = self.pipeline if isinstance(self.pipeline, LightPipeline) else None
            view = load_light(self.target, fold=True, running=running,
                              create_paths=self.create_paths, previous=previous,
                              known=self.state.steps if self.caught_up else None)
        except ProjectError as exc:
            self.project_stamp, self.project_error = getattr(exc, "stamp", ()), str(exc)
            self._watched = None  # the stamp is of the files the partial project names
            if self.fresh_seq is not None and not reload_project:
                return True
            raise
        except FoldError as exc:
            self.fold_error = str(exc)
            raise
        except LightError:
            self.light = False
            return False
        self._hold_light(view)
        give_back_memory()  # the steps shown before: their pages to the system
        return True

    def refresh(self, reload_project: bool = False, running: set[int] | None = None) -> None:
        """Compute what the table shows again: the project file's steps (read again with
        ``reload_project``), the checkpoint's current results (read again when a run
        rewrote it) and each step's state now. Blocking: call it from a thread.

        The new pipeline and states replace the old ones only when everything loaded: a
        project file that does not load leaves them as they were.

        Raises
        ------
        aw_tui.project.loader.ProjectError
            The project file does not load (also kept in :attr:`project_error`).
        aw_tui.tui.fold.FoldError
            Its steps cannot be shown now (also kept in :attr:`fold_error`).
        """
        with self._refresh_lock, gc_paused():
            if running is None:
                running = ({s.step_id for s in self.state.running_steps()}
                           if self.caught_up else set())
            if self.light and self._refresh_light(running, reload_project):
                return
            target = self._current_target(reload_project)
            found = self._current_checkpoint()
            old = {s.identity: s.step_id for s in self.steps()}
            try:
                folded = fold(target, found, running, self.create_paths, step_ids=old)
            except FoldError as exc:
                self.fold_error = str(exc)
                raise
            self.fold_error = None
            if target is not self.target:
                self.target.project = target.project
            self.checkpoint = found
            self.freshness, self.removed = folded.states, folded.removed
            self.pipeline, self.fresh_seq = folded.pipeline, folded.seq
            self._results.clear()
            self.folded = True

    def _current_target(self, reload_project: bool) -> Target:
        """The target with its project file read in full (:func:`aw_tui.tui.fold.reread`):
        again when asked, when it was read without its steps, or when it changed since (a
        refresh after a run never misses an edit the watcher has not seen yet)."""
        project = self.target.project
        needed = reload_project or (project is not None and not project.complete)
        if project is None or (not needed and not self.project_changed()):
            return self.target
        try:
            target, self.project_stamp = reread(self.target)
        except ProjectError as exc:
            self.project_stamp, self.project_error = getattr(exc, "stamp", ()), str(exc)
            if needed:
                raise
            return self.target  # the last good project: the run's results still come in
        self.project_error = None
        return target

    def project_changed(self) -> bool:
        """Whether the project file (or a file of its step functions) changed since it was
        read: a stat of each, cheap enough to ask every second."""
        watched = self._watched if self._watched is not None else watched_files(self.target)
        return file_stamp(watched) != self.project_stamp

    def _current_checkpoint(self) -> Any:
        """The checkpoint as it is now: the one loaded before with the journal's newer events
        replayed, or loaded again when a run rewrote it (None when there is none)."""
        if not self.has_checkpoint():
            return None
        stamp = file_stamp([self.target.checkpoint or ""])
        if self.checkpoint is not None and stamp is not None and stamp == self._checkpoint_stamp:
            checkpoint.replay_if_newer(self.checkpoint, self.log_dir or "")
            return self.checkpoint
        found = self._load_checkpoint(self.target.checkpoint or self.log_dir or "")
        self._checkpoint_stamp = stamp
        return found

    def catch_up(self, stop: threading.Event | None = None) -> bool:
        """Fold the whole journal into a new :attr:`state` (then :meth:`poll` goes on).

        The new state replaces the header-only one in one assignment, so a thread showing
        the state never sees it half-built.

        Parameters
        ----------
        stop : threading.Event, optional
            When set (the app is closing), give up between two reads of at most 1 MiB.

        Returns
        -------
        bool
            Whether the journal was folded (False: stopped).
        """
        if self.reader is None:
            self.caught_up = True
            return True
        reader = JournalReader(self.log_dir or "", max_bytes=1024 * 1024, light=True)
        state = RunState()
        steps = _StepsById(self.pipeline)  # their tags and summaries: held once
        with gc_paused():
            for reads in itertools.count(1):
                if stop is not None and stop.is_set():
                    return False
                if reads % 16 == 0:
                    give_back_memory()  # the lines read so far: not on top of the next
                events = reader.read_new()
                if reader.reset:
                    state = RunState()
                self._apply(events, state)
                state.share_with(steps, events, summaries=not self.light)
                if reader.at_end:
                    break
        self.reader, self.state, self.caught_up = reader, state, True
        if self.light:  # the journal says more than the checkpoint's fields
            self.pipeline.forget_fields(state.steps)
        give_back_memory()  # the journal's lines read: their pages to the system
        return True

    def _load_checkpoint(self, source: str) -> Any:
        """:func:`aw_tui.tui.fold.load_replayed` (a method: tests count its calls)."""
        return load_replayed(source)

    def poll(self) -> list[dict[str, Any]]:
        """Apply the journal's new events to :attr:`state` and return them (the first call
        after :meth:`load` catches up with the whole journal and returns none)."""
        if not self.caught_up:
            self.catch_up()
            return []
        if self.reader is None:
            return []
        kept: list[dict[str, Any]] = []
        while True:
            events = self.reader.read_new()
            if self.reader.reset:
                self.state = RunState()
                kept = []
            self._apply(events, self.state)
            kept.extend(events)
            if self.reader.at_end:
                return kept

    def _apply(self, events: list[dict[str, Any]], state: RunState) -> None:
        for event in events:
            state.apply(event)  # a step's own seq: its StepState's
            kind = event.get("event")
            step_id = event.get("step_id")
            if kind in _ALL_ROWS_EVENTS:
                self._all_rows_seq = max(self._all_rows_seq, int(event.get("seq", 0) or 0))
            if kind in ("step_finished", "step_started") and step_id is not None:
                self._results.pop(step_id, None)
            if kind == "edit_applied" and step_id is not None and self.pipeline is not None:
                with contextlib.suppress(KeyError):
                    step = self.pipeline.get_step(step_id)
                    if isinstance(event.get("func_kwargs"), dict):
                        step.func_kwargs = control.decode_kwargs(event["func_kwargs"])

    # -- what to show -------------------------------------------------------------------
    def lock(self) -> LockInfo | None:
        """The live runner's lock, or None when no run is live (nor while this session
        holds the lock itself to edit the checkpoint: that is no run)."""
        if not self.log_dir:
            return None
        lock = read_lock(self.log_dir)
        if lock is None or not lock.is_alive():
            return None
        if self._editing.is_set() and lock.is_local() and lock.pid == os.getpid():
            return None
        return lock

    def steps(self) -> list[Any]:
        """The pipeline's steps (empty until loaded)."""
        return list(self.pipeline.steps) if self.pipeline is not None else []

    def run_order(self) -> dict[int, int]:
        """step id -> run index, from the newest run (or the checkpoint's selection)."""
        if self.state.run_steps:
            return {sid: i for i, sid in enumerate(self.state.run_steps)}
        if self.pipeline is not None and self.pipeline.run_steps:
            return {s.step_id: i for i, s in enumerate(self.pipeline.run_steps)}
        return {s.step_id: i for i, s in enumerate(self.steps())}

    def row_for(self, step: Any, order: dict[int, int]) -> StepRow:
        """The table row of one step."""
        index = order.get(step.step_id)
        known = self.state.steps.get(step.step_id)
        status, duration, summary, worker = PENDING, None, "", None
        verdict, warnings = None, 0
        if known is not None:
            status = known.status
            duration = known.duration
            summary = format_summary(known.summary) or (known.error_msg or "")
            worker = known.worker
            verdict, warnings = known.verdict, len(known.warnings)
        else:
            fields = step.fields if type(step) is LightStep else result_fields(step.results)
            if fields is not None:
                status, duration, summary, verdict, warnings = fields
        fresh = self.current_state(step.step_id)
        if fresh is None and not self.folded and status == SUCCESS:
            status = UNCHECKED  # not known current yet: a big run's first paint, a broken file
        if fresh is not None and status != RUNNING and (
                fresh.state == STALE or (fresh.state == PENDING and status in DONE_STATUSES)):
            # Not current: never its old result (the details show it as "previous run").
            # A pending step keeps a status that claims no result (skipped, interrupted).
            status = fresh.state
            summary = fresh.reasons[0] if status == STALE and fresh.reasons else ""
            duration, worker, verdict, warnings = None, None, None, 0
        if fresh is not None and fresh.state == PENDING and "new" in fresh.reasons:
            summary = "new"
        if index is None and status == PENDING and (fresh is None or "new" not in fresh.reasons):
            status = SKIPPED
        return StepRow(
            index=index,
            step_id=step.step_id,
            tags=step.tags,  # the step's own list: rows are built again, never changed
            func=step.func_name,
            status=status,
            duration=duration,
            summary=summary,
            worker=worker,
            is_start=self.start_idx is not None and index == self.start_idx,
            verdict=verdict if isinstance(verdict, str) else None,
            warnings=warnings,
            identity=str(getattr(step, "identity", "") or ""),
        )

    def changed_since(self, seq: int) -> tuple[bool, list[int]]:
        """What the journal changed after ``seq``: whether every row (a run started), and
        the steps that started or ended (rows built at ``seq`` miss those)."""
        if self.state.last_seq <= seq:
            return False, []
        if self._all_rows_seq > seq:
            return True, []
        return False, [sid for sid, st in list(self.state.steps.items()) if st.seq > seq]

    def current_state(self, step_id: int) -> StepFreshness | None:
        """The step's state now (:mod:`aw_tui.rundir.freshness`), unless the live run started
        or finished it after the states were computed (then the journal says more: None)."""
        fresh = self.freshness.get(step_id)
        if fresh is None or self.fresh_seq is None:
            return None
        known = self.state.steps.get(step_id)
        if known is not None and known.seq > self.fresh_seq:
            return None
        return fresh

    def rows(self) -> list[StepRow]:
        """Every step's row, in the pipeline's order. A row equal to the one built last at
        its place is that very object (rows are never changed): a table of 100,000 rows
        and the next set share all but the rows that changed."""
        with gc_paused():
            order, before, rows = self.run_order(), self._rows_built, []
            for place, step in enumerate(self.steps()):
                row = self.row_for(step, order)
                old = before[place] if place < len(before) else None
                rows.append(old if old == row else row)
            self._rows_built = rows
            return rows

    def output_path(self, step_id: int) -> str | None:
        """``steps/<id>.out`` of a step."""
        if not self.log_dir:
            return None
        return RunLayout(self.log_dir).step_output(step_id)

    def result(self, step_id: int) -> dict[str, Any] | None:
        """A step's results: its newest ``step_finished`` line's (live run), else the checkpoint's."""
        if step_id in self._results:
            return self._results[step_id]
        result = None
        known = self.state.steps.get(step_id)
        seq = known.seq if known is not None else 0  # its last event's: its results if it finished
        if seq and self.log_dir:
            result = checkpoint.results_at(self.log_dir, seq, step_id)
        if result is None and self.pipeline is not None:
            with contextlib.suppress(KeyError):
                result = self.pipeline.get_step(step_id).results
        if isinstance(result, dict):
            self._results[step_id] = result
            return result
        return None

    def command_lines(self, step_id: int) -> list[str]:
        """The step's tool command lines as a shell would take them (empty if none ran)."""
        result = self.result(step_id) or {}
        argv = result.get("argv")
        if not argv:
            return []
        commands = argv if isinstance(argv[0], (list, tuple)) else [argv]
        return [shlex.join(str(arg) for arg in command) for command in commands]

    def counts(self) -> dict[str, int]:
        """Steps per status over the table."""
        counts: dict[str, int] = {}
        for row in self.rows():
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts

    # -- actions ------------------------------------------------------------------------
    def would_overwrite(self, start_idx: int) -> int:
        """How many finished steps ``r`` from ``start_idx`` runs again
        (:func:`aw_tui.tui.runplan.redone_steps`: the run's own selection)."""
        return runplan.redone_steps(self, start_idx)

    def run_request(self, resume: bool, create_paths: bool = False) -> RunRequest:
        """The runner's flags for ``r`` (``resume`` False) or ``c``.

        With a checkpoint the runner starts from its results (``--use-checkpoint``, implied
        by ``--resume``): for a project its steps still come from the project file
        (:func:`aw_tui.target.open_pipeline`), their ids kept by identity, so the journal's
        step ids stay the table's; ``c`` runs what is pending, stale or failed.
        """
        request = RunRequest(
            resume=resume,
            use_checkpoint=self.has_checkpoint(),
            start_idx=self.start_idx if (self.start_idx is not None or not resume) else None,
            tags=list(self.run_tags),
            ignore_tags=list(self.ignore_tags),
            create_paths=create_paths,
        )
        if not resume and request.start_idx is None:
            request.start_idx = 0
        return request

    def start_run(self, resume: bool, create_paths: bool = False) -> Any:
        """Start a detached runner; return its process."""
        return start_runner(self.target.path, self.log_dir or "",
                            self.run_request(resume, create_paths))

    def slurm_options(self) -> SlurmOptions | None:
        """The job ``r`` and ``c`` submit when the project's launcher is Slurm, else None."""
        project = self.target.project
        if launcher_kind(project) != "slurm":
            return None
        return options_from_config(project.launcher_config)

    def submit_run(self, resume: bool, create_paths: bool = False) -> SlurmJob:
        """Submit the runner as a Slurm job (``[launcher.slurm]``); return the job."""
        return submit_runner(self.target.path, self.log_dir or "",
                             self.run_request(resume, create_paths),
                             self.target.project.launcher_config)

    def stop(self, when: str) -> None:
        """Ask the live runner to stop."""
        if self.log_dir:
            control.request_stop(self.log_dir, when)
