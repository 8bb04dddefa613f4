"""The checkpoint: find it, check it is safe to unpickle, load it, replay the journal over it.

``load_pipeline`` (in :mod:`aw_tui.pipeline`) and the viewers read a run's state through
these functions; :class:`aw_tui.rundir.store.RunStore` writes the checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from aw_tui.base.errors import AwTuiError
from aw_tui.rundir.edits import decode_kwargs
from aw_tui.rundir.journal import JournalReader, event_at_seq, last_seq
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.trust import UntrustedFileError, load_trusted, open_trusted, read_own_json

__all__ = [
    "CheckpointError",
    "ResumeVerdict",
    "check_checkpoint_safe",
    "checkpoint_path",
    "find_checkpoint",
    "load_checkpoint",
    "replay_if_newer",
    "replay_journal",
    "results_at",
    "resume_verdict",
]


#: The largest ``steps/<id>.provenance.json`` read back (a step over 10,000 files).
PROVENANCE_LIMIT = 32 * 1024 * 1024


class CheckpointError(AwTuiError):
    """A checkpoint is missing, unsafe to unpickle, or damaged."""


def checkpoint_path(log_dir: str, run_name: str | None = None) -> str:
    """The checkpoint file of a run: ``pipeline.p`` or ``pipeline-<run_name>.p``."""
    return RunLayout(log_dir).checkpoint(run_name)


def find_checkpoint(path: str, run_name: str | None = None) -> str:
    """Resolve a run directory or checkpoint file to a checkpoint file.

    In a directory, ``pipeline-<run_name>.p`` when ``run_name`` is given, else
    ``pipeline.p``, else the newest ``pipeline-*.p``.
    """
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise CheckpointError(f"{path} is neither a run directory nor a checkpoint file")
    layout = RunLayout(path)
    wanted = layout.checkpoint(run_name)
    if os.path.isfile(wanted) or run_name:
        if not os.path.isfile(wanted):
            raise CheckpointError(f"no checkpoint {wanted}: was the run named differently?")
        return wanted
    candidates = layout.named_checkpoints()
    if not candidates:
        raise CheckpointError(
            f"no checkpoint (pipeline.p) in {path}: no run has started with this 'log' path"
        )
    return max(candidates, key=os.path.getmtime)


def check_checkpoint_safe(path: str) -> None:
    """Refuse a checkpoint that someone else could have planted (unpickling runs code).

    The checks of :func:`aw_tui.rundir.trust.open_trusted` (which :func:`load_checkpoint`
    makes on the descriptor it reads).

    Raises
    ------
    CheckpointError
        When ``path`` is not a regular file owned by the current user, or is writable by
        group or others, or its folder is not yours or is writable by others.
    """
    try:
        os.close(open_trusted(path, "checkpoint"))
    except UntrustedFileError as exc:
        raise CheckpointError(str(exc)) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None


def load_checkpoint(path: str) -> Any:
    """Unpickle a checkpoint through :func:`aw_tui.rundir.trust.load_trusted`.

    Raises
    ------
    CheckpointError
        When it is not provably yours, or damaged (e.g. truncated).
    """
    try:
        return load_trusted(path, "checkpoint")
    except UntrustedFileError as exc:
        raise CheckpointError(str(exc)) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except Exception as exc:  # a damaged or incompatible pickle
        raise CheckpointError(
            f"cannot load checkpoint {path}: {type(exc).__name__}: {exc}. If it was cut "
            "short (a full disk, a copy that stopped), rebuild it from the project and the "
            "journal (aw_tui.rundir.checkpoint.rebuild_checkpoint)."
        ) from exc


def replay_journal(pipeline: Any, log_dir: str) -> int:
    """Apply the journal events newer than the checkpoint to ``pipeline``.

    Finished steps get their results back from their ``step_finished`` line (JSON: nothing
    is unpickled) or, when the line says ``"results": "file"`` or has no ``results`` (a
    journal written before results went into it), from ``steps/<id>.result.p``; edits get
    their kwargs from ``steps/<id>.kwargs.p``; and ``run_step_idx`` points at the first step
    that did not finish, so ``run(resume=True)`` goes on from there.

    Returns
    -------
    int
        The number of events applied.
    """
    layout = RunLayout(log_dir)
    seq = int(getattr(pipeline, "journal_seq", 0) or 0)
    before = int(getattr(pipeline, "run_step_idx", 0) or 0)
    reader = JournalReader(log_dir, opener=_open_journal)
    try:
        events = [e for e in reader.read_all() if _seq_of(e) > seq]
    except UntrustedFileError as exc:
        raise CheckpointError(str(exc)) from None
    by_id = {step.step_id: step for step in pipeline.steps}
    applied = 0
    # Each checkpoint (pipeline.p, pipeline-<run_name>.p) belongs to one run name: a later
    # run under another name in the same folder is not part of its state.
    own_run = getattr(pipeline, "run_name", None)
    mine = True
    lost: set[int] = set()
    for event in events:
        kind = event.get("event")
        if kind == "run_started":
            mine = event.get("run_name") == own_run
        if not mine:
            continue
        step = by_id.get(event.get("step_id"))
        if kind == "run_started":
            ids = event.get("run_steps") or []
            pipeline.run_steps = [by_id[i] for i in ids if i in by_id]
            pipeline.run_step_idx = int(event.get("start_idx") or 0)
            pipeline.run_name = event.get("run_name")
            if not event.get("resume"):
                pipeline.completed_step_ids = set(event.get("completed") or [])
        elif kind == "step_finished" and step is not None:
            try:
                step.results = _results_of(event, layout)
            except Exception:
                # The journal line reached the disk but the result did not (power cut), or
                # the result is not provably yours: the step is not done and runs again.
                step.results = None
                lost.add(step.step_id)
            else:
                lost.discard(step.step_id)
                if event.get("completed", True):
                    pipeline.completed_step_ids.add(step.step_id)
            record = event.get("provenance")
            if record == "file":  # too big for its line
                record = read_own_json(layout.step_provenance(step.step_id), PROVENANCE_LIMIT)
            step.provenance = record if isinstance(record, dict) else None
            if event.get("run_step_idx") is not None:
                pipeline.run_step_idx = int(event["run_step_idx"])
        elif kind == "group_finished":
            if event.get("run_step_idx") is not None:
                pipeline.run_step_idx = int(event["run_step_idx"])
        elif kind == "edit_applied" and step is not None:
            path = layout.step_kwargs(step.step_id)
            try:
                step.func_kwargs = load_trusted(path, "edited kwargs")
            except Exception:
                # No readable kwargs file of yours: the event's copy (one encoding).
                if isinstance(event.get("func_kwargs"), dict):
                    step.func_kwargs = decode_kwargs(event["func_kwargs"])
        else:
            continue
        applied += 1
    pipeline.completed_step_ids -= lost
    if applied:
        # The documented rule: a step is finished only with its step_finished event and a
        # readable result. A damaged or missing line, or a lost result, leaves its step not
        # finished whatever later events say: run_step_idx never comes from them alone.
        run_steps = pipeline.run_steps or []
        start = _start_of_last_run(events, own_run)
        start = before if start is None else start
        done = pipeline.completed_step_ids
        first_open = next(
            (i for i in range(max(0, start), len(run_steps))
             if run_steps[i].step_id not in done),
            len(run_steps),
        )
        pipeline.run_step_idx = min(int(pipeline.run_step_idx or 0), first_open)
    if events:
        pipeline.journal_seq = max(_seq_of(e) for e in events)
    return applied


def _results_of(event: dict[str, Any], layout: RunLayout) -> Any:
    """A ``step_finished`` event's results: in the line (a dict), else in the step's result
    file (``"file"``, or no ``results`` field: an older journal).

    Raises
    ------
    Exception
        When the file is missing, damaged or not provably yours.
    """
    results = event.get("results")
    if type(results) is dict:
        return results
    return load_trusted(layout.step_result(event["step_id"]), "step result")


def results_at(log_dir: str, seq: int, step_id: int) -> Any:
    """The results of step ``step_id`` when the journal's event ``seq`` is its
    ``step_finished`` line: the line's own (JSON), else its result file's (unpickled only
    when provably yours). None otherwise: another event, the file missing or refused.

    A viewer keeps only the ``seq`` of each step's last event and reads the line back
    (:func:`aw_tui.rundir.journal.event_at_seq`), not a second copy of every step's results.
    """
    event = event_at_seq(log_dir, seq)
    if event is None or event.get("event") != "step_finished" or event.get("step_id") != step_id:
        return None
    try:
        return _results_of(event, RunLayout(log_dir))
    except Exception:
        return None


def _seq_of(event: dict[str, Any]) -> int:
    try:
        return int(event.get("seq", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _start_of_last_run(events: list[dict[str, Any]], run_name: str | None) -> int | None:
    """The ``start_idx`` of the last ``run_started`` of ``run_name`` among ``events``."""
    for event in reversed(events):
        if event.get("event") == "run_started" and event.get("run_name") == run_name:
            try:
                return int(event.get("start_idx") or 0)
            except (TypeError, ValueError):
                return 0
    return None


def _open_journal(path: str) -> int:
    return open_trusted(path, "journal")


def replay_if_newer(pipeline: Any, log_dir: str) -> int:
    """:func:`replay_journal`, skipped when the journal holds nothing newer than the checkpoint.

    The checkpoint written when a run ends includes its whole journal; replaying means
    parsing every event only to skip them all (1.3 s for a 50,000-step run, and as much
    memory as the events). The journal's last line tells whether anything is newer.
    """
    last = last_seq(log_dir)
    if last is None or last > int(getattr(pipeline, "journal_seq", 0) or 0):
        return replay_journal(pipeline, log_dir)
    return 0


@dataclass
class ResumeVerdict:
    """What ``--resume`` would do with a run directory's checkpoint.

    Attributes
    ----------
    state : str
        ``none`` (no checkpoint: a resume has nothing to continue), ``ok`` (it loads),
        ``refused`` (not provably yours: a resume refuses it), ``damaged`` (it cannot be
        unpickled, e.g. truncated: :func:`aw_tui.rundir.store.rebuild_checkpoint` rebuilds it
        from the project and the journal).
    checkpoint : str or None
        The checkpoint's path, when there is one.
    reason : str or None
        Why a resume would refuse it (the message ``--resume`` prints).
    """

    state: str
    checkpoint: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a resume would load it."""
        return self.state == "ok"


def resume_verdict(path: str, run_name: str | None = None, load: bool = True) -> ResumeVerdict:
    """What ``--resume`` would do with the checkpoint of ``path`` (a run directory or a
    checkpoint file), for ``check`` and ``status``: they report exactly this.

    Parameters
    ----------
    path : str
        A run directory or a checkpoint file.
    run_name : str, optional
        The run's name (``pipeline-<run_name>.p``).
    load : bool
        Unpickle it to tell a damaged checkpoint (else only the trust checks are made).
    """
    if os.path.isdir(path):
        layout = RunLayout(path)
        present = os.path.lexists(layout.checkpoint(run_name)) or (
            not run_name and layout.named_checkpoints())
        if not present:
            return ResumeVerdict("none")
    elif not os.path.lexists(path):
        return ResumeVerdict("none")
    try:
        found = find_checkpoint(path, run_name)
    except CheckpointError as exc:
        return ResumeVerdict("refused", None, str(exc))
    try:
        if not load:
            check_checkpoint_safe(found)
            return ResumeVerdict("ok", found)
        pipeline = load_trusted(found, "checkpoint")
    except UntrustedFileError as exc:
        return ResumeVerdict("refused", found, str(exc))
    except OSError as exc:
        return ResumeVerdict("refused", found, f"cannot read checkpoint {found}: {exc.strerror}")
    except Exception as exc:
        return ResumeVerdict(
            "damaged", found,
            f"the checkpoint {found} cannot be loaded ({type(exc).__name__}: {exc}); rebuild "
            "it from the project file and the journal",
        )
    if not hasattr(pipeline, "steps"):
        return ResumeVerdict("refused", found, f"{found} does not hold an aw_tui Pipeline")
    return ResumeVerdict("ok", found)
