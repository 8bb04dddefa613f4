"""What is current, for the TUI: the steps to show and the state of each now.

For a project the project file is the one definition of the steps: the table shows the
steps :func:`aw_tui.target.open_pipeline` would build (``use_checkpoint=True``), with the
checkpoint's results taken over by identity, and each step's state now
(:func:`aw_tui.target.freshness_of`: done, stale and why, pending, ...). For a run directory
(a pipeline built in Python) the checkpoint's steps, with their states.

Nothing here imports Textual; the session calls :func:`fold` from a thread worker.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.project.loader import ProjectError, load_project
from aw_tui.rundir import checkpoint
from aw_tui.rundir.freshness import StepFreshness
from aw_tui.target import Target, build_from_project, freshness_of, project_pipeline

__all__ = ["FoldError", "Folded", "file_stamp", "fold", "load_replayed", "missing_folders",
           "reread", "watched_files"]


class FoldError(Exception):
    """The project's steps cannot be shown now (e.g. its folders are missing and may not be
    created); the message says why and what to do."""


@dataclass
class Folded:
    """The steps to show and their states (:func:`fold`).

    Attributes
    ----------
    pipeline : Pipeline
        What the table shows: the project's steps (the checkpoint's for a run directory).
    checkpoint : Pipeline or None
        The checkpoint the states were computed from (None: there is none yet).
    states : dict
        step id (of ``pipeline``) -> its :class:`~aw_tui.rundir.freshness.StepFreshness`.
    removed : list of StepFreshness
        The checkpoint's steps the project no longer has (their results are kept).
    seq : int or None
        The journal ``seq`` the checkpoint includes (None without a checkpoint): a step
        event after it is newer than the states.
    """

    pipeline: Any
    checkpoint: Any = None
    states: dict[int, StepFreshness] = field(default_factory=dict)
    removed: list[StepFreshness] = field(default_factory=list)
    seq: int | None = None


def file_stamp(paths: Iterable[str]) -> tuple[tuple[str, int | None, int | None], ...]:
    """``(path, mtime_ns, size)`` of each file (None, None when it cannot be read): what
    changes when a file is written."""
    out = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            out.append((path, None, None))
        else:
            out.append((path, info.st_mtime_ns, info.st_size))
    return tuple(out)


def watched_files(target: Target) -> list[str]:
    """The files whose change changes a project's steps: the project file and the files of
    its step functions (``project.func_files``); none for a run directory."""
    project = target.project
    if project is None:
        return []
    return [target.path, *(str(p) for p in getattr(project, "func_files", ()) or ())]


def reread(target: Target) -> tuple[Target, tuple[Any, ...]]:
    """Read the target's project file in full again: a copy of the target with it, and the
    :func:`file_stamp` of the files it came from, taken before reading (a change while it
    is read is seen next time).

    Raises
    ------
    aw_tui.project.loader.ProjectError
        The file does not load; its ``stamp`` attribute holds the stamp.
    """
    stamp = file_stamp(watched_files(target))
    try:
        project = load_project(target.path)
    except ProjectError as exc:
        exc.stamp = stamp  # type: ignore[attr-defined]
        raise
    fresh = dataclasses.replace(target, project=project)
    files = watched_files(fresh)
    return fresh, (stamp if [s[0] for s in stamp] == files else file_stamp(files))


def load_replayed(source: str) -> Any:
    """``load_pipeline(source)``, without reading the journal when there is nothing newer
    (see :func:`aw_tui.rundir.checkpoint.replay_if_newer`)."""
    found = checkpoint.find_checkpoint(source)
    pipeline = checkpoint.load_checkpoint(found)
    if not isinstance(pipeline, Pipeline):
        return load_pipeline(source)  # its error message
    checkpoint.replay_if_newer(pipeline, os.path.dirname(os.path.abspath(found)))
    return pipeline


def missing_folders(project: Any) -> list[str]:
    """The project's ``[paths]`` folders that do not exist."""
    paths = dict(getattr(project, "paths", {}) or {})
    return [p for p in paths.values() if isinstance(p, str) and not os.path.exists(p)]


def fold(target: Target, checkpoint: Any, running: Iterable[int] = (),
         create_paths: bool = False, step_ids: dict[str, int] | None = None) -> Folded:
    """The steps to show and their states now.

    Parameters
    ----------
    target : Target
        Its project complete (its steps expanded), for a project.
    checkpoint : Pipeline or None
        The loaded checkpoint, the journal replayed over it; None when there is none (a
        project not run yet: its steps, all pending).
    running : iterable of int
        The ids of the steps running now (the journal's).
    create_paths : bool
        The user agreed to create the project's missing folders (else only a project with
        ``[pipeline] create_paths = true`` creates them).
    step_ids : dict, optional
        Without a checkpoint: the ids the table used so far, by identity (kept).

    Raises
    ------
    FoldError
        When the project's folders are missing and may not be created.
    """
    project = target.project
    if project is not None:
        missing = missing_folders(project)
        if missing and not (create_paths or project.create_paths):
            raise FoldError(
                f"folders of {os.path.basename(target.path)} are missing "
                f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): create them "
                "or set [pipeline] create_paths = true"
            )
    make = True if create_paths else None
    if checkpoint is None:
        if project is None:
            raise FoldError(f"{target.path}: no checkpoint to show")
        return Folded(build_from_project(target, make, step_ids=step_ids, share_values=True))
    freshness = freshness_of(target, checkpoint, running)
    if project is None:
        pipeline = checkpoint
    else:
        pipeline = project_pipeline(target, checkpoint, freshness, create_paths=make)
    by_identity = {s.identity: s for s in freshness.states}
    states = {step.step_id: by_identity[step.identity] for step in pipeline.steps
              if step.identity in by_identity}
    seq = int(getattr(checkpoint, "journal_seq", 0) or 0)
    return Folded(pipeline, checkpoint, states, list(freshness.removed), seq)
