"""Turn what the user names on the command line into a pipeline to run or watch.

A target is a TOML project file, a run directory (a pipeline's ``paths['log']``) or a
checkpoint file ``pipeline*.p`` (so pipelines built in Python or Jupyter open too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from aw_tui.base.errors import AwTuiError
from aw_tui.pipeline import load_pipeline
from aw_tui.project.loader import Project, ProjectError, load_project
from aw_tui.rundir.checkpoint import checkpoint_path

__all__ = [
    "OpenedPipeline",
    "Target",
    "TargetError",
    "complete_project",
    "open_pipeline",
    "resolve_target",
]


class TargetError(AwTuiError):
    """The command-line target cannot be used (exit code 2)."""


@dataclass
class Target:
    """A resolved target: the one owner of the run directory's path.

    The project file, the pipeline built from it, the TUI's session and the commands ask the
    target for the run directory (:attr:`log_dir`) and the checkpoint (:attr:`checkpoint`)
    rather than working them out again.

    Attributes
    ----------
    path : str
        What was named, absolute (the project file when a folder holding one was named).
    kind : str
        ``"project"`` or ``"run"``.
    project : Project or None
        The loaded project file (``kind == "project"``).
    log_dir : str or None
        The run directory: ``[paths] log`` of the project, else ``runs/<stem>`` next to it;
        the folder itself or the checkpoint's folder for a run.
    checkpoint : str or None
        The checkpoint file of the run named ``run_name`` in :attr:`log_dir` (or the ``.p``
        file named on the command line).
    """

    path: str
    kind: str  # "project" or "run"
    project: Any = None
    log_dir: str | None = None
    checkpoint: str | None = None

    @property
    def display_name(self) -> str:
        """What to call it in headers and messages."""
        if self.project is not None:
            return os.path.basename(self.path)
        return self.log_dir or self.path


def default_log_dir(project_path: str) -> str:
    """The run directory of a project that names no ``[paths] log``."""
    folder = os.path.dirname(os.path.abspath(project_path))
    stem = os.path.splitext(os.path.basename(project_path))[0]
    return os.path.join(folder, "runs", stem)


def resolve_target(
    path: str, run_name: str | None = None, check_files: bool = True, expand: bool = True
) -> Target:
    """Load (and validate) a project, or locate a run directory / checkpoint.

    With ``expand=False`` a project whose run directory holds a checkpoint is read without
    its inputs and steps (``project.complete`` is False): a viewer shows the checkpoint's
    steps and can check the whole file later (:func:`complete_project`). Without a
    checkpoint, or when that partial read finds a problem, the whole file is loaded (and
    its errors raised) as with ``expand=True``.

    Raises
    ------
    TargetError
        For a path that does not exist or is of an unknown kind.
    aw_tui.project.loader.ProjectError
        For an invalid project file.
    """
    if not os.path.exists(path):
        raise TargetError(
            f"{path}: no such file or folder. Give a project file (.toml), a run directory "
            "(the pipeline's 'log' path) or a checkpoint (pipeline.p)."
        )
    if os.path.isfile(path) and path.endswith(".toml"):
        return _project_target(path, run_name, check_files, expand)
    if os.path.isdir(path):
        return Target(
            path=os.path.abspath(path),
            kind="run",
            log_dir=os.path.abspath(path),
            checkpoint=checkpoint_path(os.path.abspath(path), run_name),
        )
    if os.path.isfile(path) and path.endswith(".p"):
        folder = os.path.dirname(os.path.abspath(path))
        return Target(path=os.path.abspath(path), kind="run", log_dir=folder,
                      checkpoint=os.path.abspath(path))
    raise TargetError(
        f"{path}: not a project (.toml), run directory or checkpoint (.p) — rename it or "
        "point at the right file"
    )


def project_log_dir(project: Project) -> str:
    """The run directory of a project: its ``[paths] log``, else ``runs/<stem>`` beside it."""
    return project.log_dir or default_log_dir(str(project.path))


def _project_target(path: str, run_name: str | None, check_files: bool,
                    expand: bool) -> Target:
    """Load a project file (without its steps when it has a checkpoint and ``expand`` is
    False) and make its target."""
    project = None
    if not expand:
        try:
            project = load_project(path, check_files=check_files, steps=False)
        except ProjectError:
            project = None  # the full load below reports every problem
        if project is not None and not os.path.isfile(
            checkpoint_path(project_log_dir(project), run_name)
        ):
            project = None
    if project is None:
        project = load_project(path, check_files=check_files)
    log_dir = project_log_dir(project)
    return Target(path=os.path.abspath(path), kind="project", project=project,
                  log_dir=log_dir, checkpoint=checkpoint_path(log_dir, run_name))


@dataclass
class OpenedPipeline:
    """A pipeline ready to run, with notes for the user."""

    pipeline: Any
    from_checkpoint: bool
    notes: list[str] = field(default_factory=list)


def open_pipeline(
    target: Target, resume: bool = False, run_name: str | None = None,
    create_paths: bool | None = None, use_checkpoint: bool = False,
) -> OpenedPipeline:
    """The pipeline to run: the checkpoint's when resuming, else built from the project.

    Resuming uses the checkpoint's steps with their edited kwargs; if the project file
    changed since, a note says so and how to start afresh.
    """
    notes: list[str] = []
    have_checkpoint = bool(target.log_dir) and _has_checkpoint(target, run_name)
    if target.kind == "run" or ((resume or use_checkpoint) and have_checkpoint):
        if not have_checkpoint:
            raise TargetError(
                f"{target.path}: no checkpoint to open (no pipeline.p in {target.log_dir})"
            )
        pipeline = load_pipeline(target.checkpoint or target.log_dir or target.path, run_name)
        if target.project is not None:
            stored = getattr(pipeline, "project_fingerprint", None)
            if stored and stored != target.project.fingerprint:
                notes.append(
                    f"{os.path.basename(target.path)} changed since this run's checkpoint was "
                    "written; resuming uses the checkpoint's steps (with their edited kwargs). "
                    "To start afresh from the file, run without --resume (finished results "
                    "will be replaced)."
                )
        return OpenedPipeline(pipeline, True, notes)
    if resume and not have_checkpoint:
        notes.append("no checkpoint to resume from yet: starting from the first step")
    pipeline = build_from_project(target, create_paths)
    return OpenedPipeline(pipeline, False, notes)


def complete_project(target: Target) -> Any:
    """Load the target's whole project file if it was read without its steps; return it.

    Raises
    ------
    aw_tui.project.loader.ProjectError
        For an invalid project file (the partial project stays in place).
    """
    project = target.project
    if project is not None and not project.complete:
        project = load_project(target.path)
        target.project = project
    return project


def build_from_project(target: Target, create_paths: bool | None = None) -> Any:
    """Build a fresh pipeline from the target's project file."""
    project = complete_project(target)
    pipeline = project.build_pipeline(create_paths=create_paths)
    if not pipeline.paths.get("log") and target.log_dir:
        os.makedirs(target.log_dir, exist_ok=True)
        pipeline.paths["log"] = target.log_dir
    pipeline.project_fingerprint = project.fingerprint
    pipeline.project_path = target.path
    return pipeline


def _has_checkpoint(target: Target, run_name: str | None) -> bool:
    if target.checkpoint and os.path.isfile(target.checkpoint):
        return True
    if target.log_dir and os.path.isdir(target.log_dir) and not run_name:
        return any(
            n.startswith("pipeline") and n.endswith(".p") for n in os.listdir(target.log_dir)
        )
    return False
