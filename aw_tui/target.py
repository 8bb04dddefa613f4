"""Turn what the user names on the command line into a pipeline to run or watch.

A target is a TOML project file, a folder holding ``project.toml``, a run directory (a
pipeline's ``paths['log']``), a folder holding exactly one run directory (directly or in
``runs/``) or a checkpoint file ``pipeline*.p`` (so pipelines built in Python or Jupyter open
too). Every command resolves it here, the same way.

The :class:`Target` is the one owner of the run directory's path; :func:`resume_verdict` is
the one answer to "what would ``--resume`` do with the checkpoint", which ``check``,
``status`` and ``--batch`` all ask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from aw_tui.astromatic.registry import TOOLS, probe
from aw_tui.base.errors import AwTuiError
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.project.loader import Project, ProjectError, load_project
from aw_tui.rundir.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
)
from aw_tui.rundir.checkpoint import resume_verdict as checkpoint_verdict
from aw_tui.rundir.freshness import Freshness, Planned, assess, records_of
from aw_tui.rundir.layout import EVENTS_FILE, STEPS_DIR

__all__ = [
    "OpenedPipeline",
    "ResumeVerdict",
    "Target",
    "TargetError",
    "complete_project",
    "freshness_of",
    "has_checkpoint",
    "open_pipeline",
    "project_pipeline",
    "relocation_problem",
    "resolve_target",
    "resume_plan",
    "resume_verdict",
]


#: The project file a folder names (docs/project-file.md).
PROJECT_FILE = "project.toml"


class TargetError(AwTuiError):
    """The command-line target cannot be used (exit code 2)."""

    def __str__(self) -> str:
        return f"{self.message}\n    fix: {self.hint}" if self.hint else self.message


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

    ``path`` is a project file, a folder (its ``project.toml``, else the run directory it is
    or holds: see the module's docstring), or a checkpoint. With ``expand=False`` a project whose run directory holds a checkpoint is read without
    its inputs and steps (``project.complete`` is False): a viewer shows the checkpoint's
    steps and can check the whole file later (:func:`complete_project`). Without a
    checkpoint, or when that partial read finds a problem, the whole file is loaded (and
    its errors raised) as with ``expand=True``.

    Raises
    ------
    TargetError
        For a path that does not exist or is of an unknown kind, or a folder that names no
        project and no single run.
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
        return _folder_target(path, run_name, check_files, expand)
    if os.path.isfile(path) and path.endswith(".p"):
        folder = os.path.dirname(os.path.abspath(path))
        return Target(path=os.path.abspath(path), kind="run", log_dir=folder,
                      checkpoint=os.path.abspath(path))
    raise TargetError(
        f"{path}: not a project (.toml), run directory or checkpoint (.p) — rename it or "
        "point at the right file"
    )


def is_run_dir(folder: str) -> bool:
    """Whether ``folder`` is a run directory: it holds a journal, a checkpoint or ``steps/``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return any(
        name in (EVENTS_FILE, STEPS_DIR) or (name.startswith("pipeline") and name.endswith(".p"))
        for name in names
    )


def run_dirs_in(folder: str) -> list[str]:
    """The run directories just inside ``folder`` and inside its ``runs/``, sorted."""
    found = []
    for parent in (folder, os.path.join(folder, "runs")):
        try:
            names = sorted(os.listdir(parent))
        except OSError:
            continue
        found += [os.path.join(parent, n) for n in names
                  if os.path.isdir(os.path.join(parent, n)) and is_run_dir(os.path.join(parent, n))]
    return found


def _folder_target(path: str, run_name: str | None, check_files: bool,
                   expand: bool) -> Target:
    """A folder: the project of its ``project.toml``, else a run directory, else the one run
    directory it holds (docs/project-file.md: a folder names its project)."""
    project_file = os.path.join(path, PROJECT_FILE)
    if os.path.isfile(project_file):
        return _project_target(project_file, run_name, check_files, expand)
    folder = os.path.abspath(path)
    if not is_run_dir(folder):
        runs = run_dirs_in(folder)
        if len(runs) != 1:
            what = ("no run directory" if not runs else
                    f"{len(runs)} run directories ({', '.join(runs[:5])})")
            raise TargetError(
                f"{path}: a folder with no {PROJECT_FILE} and {what} in it, so it names no "
                "project or run.",
                f"give the project file (.toml), its folder, or one run directory (the "
                f"pipeline's 'log' path{', e.g. ' + runs[0] if runs else ''}); "
                f"aw-tui {path} and aw-tui status {path} list every run in it",
            )
        folder = runs[0]
    return Target(path=folder, kind="run", log_dir=folder,
                  checkpoint=checkpoint_path(folder, run_name))


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


@dataclass
class ResumeVerdict:
    """What ``--resume`` would do with a target's checkpoint.

    Attributes
    ----------
    checkpoint : str or None
        The checkpoint file it would load (None: there is none yet; it starts afresh).
    pipeline : Pipeline or None
        The loaded checkpoint, with the journal replayed over it (None when refused).
    refusal : AwTuiError or None
        Why it would refuse the checkpoint (damaged, not yours, writable by others, written
        for a project that was since copied or moved), exit code 2.
    """

    checkpoint: str | None = None
    pipeline: Any = None
    refusal: AwTuiError | None = None


def resume_verdict(target: Target, run_name: str | None = None,
                   replay: bool = True) -> ResumeVerdict:
    """Load the target's checkpoint as ``--resume`` would; say what it would do with it.

    ``check``, ``status`` and ``--batch --resume`` all ask this, so they cannot disagree.
    Loading reads (and so runs) only a checkpoint that the load's own checks let through.

    Parameters
    ----------
    target : Target
    run_name : str, optional
        Which run's checkpoint.
    replay : bool
        Replay the journal over the checkpoint (what a resume runs from). False only
        unpickles it (``status``, which needs the verdict, not the steps: half the time on
        a 3,000-step run); replaying never refuses a checkpoint that loads.
    """
    if not target.log_dir or not has_checkpoint(target, run_name):
        return ResumeVerdict()
    where = (target.checkpoint if target.checkpoint and os.path.isfile(target.checkpoint)
             else target.log_dir)
    # The run directory's own verdict first (missing, not provably yours, damaged): the one
    # owner of those rules is rundir.checkpoint.
    trust = checkpoint_verdict(where, run_name, load=False)
    if trust.state == "none":
        return ResumeVerdict()
    if not trust.ok:
        return ResumeVerdict(trust.checkpoint, refusal=CheckpointError(trust.reason or ""))
    checkpoint = trust.checkpoint or where
    try:
        pipeline = load_pipeline(checkpoint, run_name) if replay else load_checkpoint(checkpoint)
    except AwTuiError as exc:
        damaged = checkpoint_verdict(checkpoint, run_name, load=True)
        if damaged.state == "damaged":
            return ResumeVerdict(checkpoint, refusal=CheckpointError(
                damaged.reason or str(exc),
                f"rebuild it: aw-tui check {target.path} --rebuild-checkpoint"))
        return ResumeVerdict(checkpoint, refusal=exc)
    if not isinstance(pipeline, Pipeline):  # load_pipeline's own check, when not replaying
        return ResumeVerdict(checkpoint, refusal=CheckpointError(
            f"{checkpoint} does not hold an aw_tui Pipeline"))
    problem = relocation_problem(target, pipeline, checkpoint)
    if problem is not None:
        return ResumeVerdict(checkpoint, refusal=problem)
    return ResumeVerdict(checkpoint, pipeline)


def _same_place(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def relocation_problem(target: Target, pipeline: Any, checkpoint: str) -> TargetError | None:
    """The refusal for a checkpoint written where the project no longer is, if so.

    A checkpoint records the project file and the run directory it was written for, and its
    steps' kwargs hold absolute paths of that place. After ``cp -a orig copy`` (or ``mv``),
    resuming ``copy`` would read and write ``orig``'s files (or re-create ``orig``): never
    write outside the project being run, so this is refused.
    """
    moved = []
    stored_log = (getattr(pipeline, "paths", None) or {}).get("log")
    if stored_log and target.log_dir and not _same_place(stored_log, target.log_dir):
        moved.append(f"run directory {stored_log}, now {target.log_dir}")
    stored_project = getattr(pipeline, "project_path", None)
    if (target.project is not None and stored_project
            and not _same_place(stored_project, target.path)):
        moved.append(f"project file {stored_project}, now {target.path}")
    if not moved:
        return None
    fresh = f"aw-tui {target.path} --batch" if target.project is not None else (
        "aw-tui PROJECT.toml --batch on the project file")
    return TargetError(
        f"{checkpoint} was written for another place ({'; '.join(moved)}): the project was "
        "copied or moved since. Its steps hold the old place's absolute paths, so resuming "
        "would read and write the original's files; --resume refuses it.",
        f"start the run afresh here ({fresh}, without --resume: finished steps run again), "
        "or resume the original where it is",
    )


def open_pipeline(
    target: Target, resume: bool = False, run_name: str | None = None,
    create_paths: bool | None = None, use_checkpoint: bool = False,
    keep_stale: bool = False,
) -> OpenedPipeline:
    """The pipeline to run: built from the project, taking over what is current.

    For a project, the project file is the one definition of the steps. Resuming builds
    the pipeline from it and takes over from the checkpoint the result of each step that is
    ``done`` (:func:`freshness_of`; steps matched by identity, not index); the stale, pending
    and failed steps run, in order (with ``keep_stale``, stale results are kept too). For a
    run directory (a pipeline built in Python) the checkpoint's steps are the definition;
    a stale step there runs again too.

    Raises
    ------
    TargetError, CheckpointError
        When there is no checkpoint to open for a run directory, or ``--resume`` would
        refuse it (:func:`resume_verdict`).
    """
    notes: list[str] = []
    have_checkpoint = bool(target.log_dir) and has_checkpoint(target, run_name)
    if target.kind == "run" or ((resume or use_checkpoint) and have_checkpoint):
        if not have_checkpoint:
            raise TargetError(
                f"{target.path}: no checkpoint to open (no pipeline.p in {target.log_dir})"
            )
        verdict = resume_verdict(target, run_name)
        if verdict.refusal is not None:
            raise verdict.refusal
        if target.project is None:
            pipeline = verdict.pipeline
            notes += _reopen_stale(pipeline, freshness_of(target, pipeline), keep_stale)
        else:
            pipeline, more = _resume_project(target, verdict.pipeline, create_paths,
                                             keep_stale)
            notes += more
        return OpenedPipeline(pipeline, True, notes)
    if resume and not have_checkpoint:
        notes.append("no checkpoint to resume from yet: starting from the first step")
    pipeline = build_from_project(target, create_paths)
    return OpenedPipeline(pipeline, False, notes)


def tool_version(name: str, binary: str) -> str | None:
    """The version the tool ``name`` at ``binary`` prints (``-v``), or None."""
    if name not in TOOLS:
        return None
    info = probe(name, binary)
    return info.version if info is not None else None


def freshness_of(target: Target, checkpoint: Any, running: Any = ()) -> Freshness:
    """The state of each step now (:mod:`aw_tui.rundir.freshness`): the project file's steps
    (the checkpoint's for a run directory) against the checkpoint's records.

    Parameters
    ----------
    target : Target
    checkpoint : Pipeline
        The loaded checkpoint, with the journal replayed over it.
    running : iterable of int
        The ids of the checkpoint's steps running now (from the journal).
    """
    steps = list(getattr(checkpoint, "steps", []) or [])
    records = records_of(steps, getattr(checkpoint, "completed_step_ids", ()) or ())
    retired = dict(getattr(checkpoint, "retired", None) or {})
    for identity, old in retired.items():
        if old.get("provenance") and identity not in records:
            records[identity] = old["provenance"]
    running_ids = set(running)
    running_names = {s.identity for s in steps if s.step_id in running_ids}
    if target.project is None:
        planned = [Planned(s.identity, s.func_kwargs, s.func, s.step_id) for s in steps]
        return assess(planned, records, [s.identity for s in steps], running_names,
                      tool_version=tool_version)
    project = complete_project(target)
    ids = {s.identity: s.step_id for s in steps}
    planned = [Planned(s.identity, s.kwargs, s.func, ids.get(s.identity, -1))
               for s in project.steps]
    now = {p.identity for p in planned}
    removed = [(s.identity, s.step_id) for s in steps if s.identity not in now]
    removed += [(i, int(old.get("step_id", -1))) for i, old in retired.items()
                if i not in now and i not in ids]
    return assess(planned, records, [*ids, *retired], running_names, removed, tool_version)


@dataclass
class PlannedRun:
    """What ``--resume`` would do (:func:`resume_plan`).

    Attributes
    ----------
    freshness : Freshness
        The state of every step now.
    to_run : list of (int, str, str)
        The steps it would run, in order: run index, identity, why (``new``, ``pending``,
        ``failed``, ``stale: ...``).
    kept : int
        The stale results it would keep (``--keep-stale``).
    """

    freshness: Freshness
    to_run: list[tuple[int, str, str]]
    kept: int = 0


def why_text(state: Any) -> str:
    """``stale: a; b``, ``pending``, ``new``, ``failed`` ... for a step's state."""
    if state.state == "pending":
        return "new" if "new" in state.reasons else "pending"
    if state.reasons:
        return f"{state.state}: " + "; ".join(state.reasons)
    return state.state


def resume_plan(target: Target, checkpoint: Any, keep_stale: bool = False) -> PlannedRun:
    """Which steps ``--resume`` would run from ``checkpoint`` (a loaded, replayed one), and
    why: what ``aw-tui check`` prints. Runs and writes nothing."""
    freshness = freshness_of(target, checkpoint)
    stale = sum(1 for s in freshness.states if s.state == "stale")
    if target.project is not None:
        position = {id(s): i for i, s in enumerate(freshness.states)}
        todo = [(position[id(s)], s.identity, why_text(s))
                for s in freshness.to_run(keep_stale)]
        return PlannedRun(freshness, todo, stale if keep_stale else 0)
    _reopen_stale(checkpoint, freshness, keep_stale)
    states = {s.step_id: s for s in freshness.states}
    run_steps = checkpoint.run_steps or []
    todo = []
    for index, step in enumerate(run_steps):
        if index < checkpoint.run_step_idx or step.step_id in checkpoint.completed_step_ids:
            continue
        state = states.get(step.step_id)
        todo.append((index, step.identity, why_text(state) if state else "pending"))
    return PlannedRun(freshness, todo, stale if keep_stale else 0)


def _reopen_stale(pipeline: Any, freshness: Freshness, keep_stale: bool) -> list[str]:
    """Make a checkpoint's stale steps run again on resume (unless ``keep_stale``)."""
    stale = [s for s in freshness.states if s.state == "stale"]
    if not stale:
        return []
    if keep_stale:
        return [f"--keep-stale: kept {len(stale)} stale result(s) "
                f"({', '.join(s.identity for s in stale[:5])}{', ...' if len(stale) > 5 else ''})"]
    ids = {s.step_id for s in stale}
    pipeline.completed_step_ids -= ids
    run_steps = pipeline.run_steps or []
    first = next((i for i, s in enumerate(run_steps) if s.step_id in ids), None)
    if first is not None:
        pipeline.run_step_idx = min(int(pipeline.run_step_idx or 0), first)
    return [f"{len(stale)} stale step(s) will run again: "
            + "; ".join(f"{s.identity} ({s.reasons[0]})" for s in stale[:3])
            + (" ..." if len(stale) > 3 else "")]


def project_pipeline(target: Target, checkpoint: Any, freshness: Freshness | None = None,
                     create_paths: bool | None = None) -> Any:
    """The pipeline :func:`open_pipeline` (``use_checkpoint=True``) builds for a project,
    from a checkpoint already loaded (and replayed) and its :func:`freshness_of`: the project
    file's steps, ids kept by identity, each with the checkpoint's result taken over (only
    the ``done`` ones count as completed). What a viewer shows; it runs nothing.
    """
    return _resume_project(target, checkpoint, create_paths, False, freshness, reuse=True)[0]


def _resume_project(target: Target, checkpoint: Any, create_paths: bool | None,
                    keep_stale: bool, freshness: Freshness | None = None,
                    reuse: bool = False) -> tuple[Any, list[str]]:
    """The project's pipeline with the current results of ``checkpoint`` taken over
    (``reuse``: the checkpoint's step objects themselves, where the project defines them
    alike: what a viewer shows, never a run)."""
    if freshness is None:
        freshness = freshness_of(target, checkpoint)
    old_steps = {s.identity: s for s in checkpoint.steps}
    retired = dict(getattr(checkpoint, "retired", None) or {})
    ids = {i: int(old.get("step_id", -1)) for i, old in retired.items()}
    ids.update({i: s.step_id for i, s in old_steps.items()})
    pipeline = build_from_project(target, create_paths, step_ids=ids,
                                  reuse=old_steps if reuse else None, share_values=reuse)
    keep = {"done", "stale"} if keep_stale else {"done"}
    states = {s.identity: s for s in freshness.states}
    completed = set()
    for step in pipeline.steps:
        old = old_steps.get(step.identity)
        state = states.get(step.identity)
        if old is not None and old is not step:
            step.take_record_of(old)  # the record as held: not decoded
        if old is not None and state is not None and state.state in keep:
            completed.add(step.step_id)
    for gone in freshness.removed:
        old = old_steps.get(gone.identity)
        if old is not None:
            retired[gone.identity] = {"step_id": old.step_id, "results": old.results,
                                      "provenance": old.provenance}
    pipeline.retired = retired
    pipeline.completed_step_ids = completed
    pipeline.run_steps = list(pipeline.steps)
    pipeline.run_step_idx = next((i for i, s in enumerate(pipeline.steps)
                                  if s.step_id not in completed), len(pipeline.steps))
    pipeline.run_name = getattr(checkpoint, "run_name", None)
    pipeline.journal_seq = getattr(checkpoint, "journal_seq", 0)
    counts = freshness.counts()
    todo = freshness.to_run(keep_stale)
    notes = [f"{os.path.basename(target.path)}: {len(todo)} step(s) to run "
             f"({counts['stale']} stale, {counts['pending']} pending, {counts['failed']} "
             f"failed); {counts['done']} done and current are kept"
             + (f"; {counts['removed']} removed from the project (results kept)"
                if counts["removed"] else "")]
    if keep_stale and counts["stale"]:
        notes.append(f"--keep-stale: kept {counts['stale']} stale result(s); only pending "
                     "and failed steps run")
    notes += [f"will run {s.identity}: {why_text(s)}" for s in todo[:10]]
    if len(todo) > 10:
        notes.append(f"... and {len(todo) - 10} more (aw-tui check lists them all)")
    return pipeline, notes


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


def build_from_project(target: Target, create_paths: bool | None = None,
                       step_ids: dict[str, int] | None = None,
                       reuse: dict[str, Any] | None = None,
                       share_values: bool = False) -> Any:
    """Build a fresh pipeline from the target's project file (``step_ids``: the ids of
    step identities an earlier run used; ``reuse``: steps to keep where alike;
    ``share_values``: for a viewer, see ``Project.build_pipeline``)."""
    project = complete_project(target)
    pipeline = project.build_pipeline(create_paths=create_paths, step_ids=step_ids,
                                      reuse=reuse, share_values=share_values)
    if not pipeline.paths.get("log") and target.log_dir:
        os.makedirs(target.log_dir, exist_ok=True)
        pipeline.paths["log"] = target.log_dir
    pipeline.project_fingerprint = project.fingerprint
    pipeline.project_path = target.path
    return pipeline


def has_checkpoint(target: Target, run_name: str | None = None) -> bool:
    """Whether the target's run directory holds a checkpoint a resume would load."""
    if target.checkpoint and os.path.isfile(target.checkpoint):
        return True
    if target.log_dir and os.path.isdir(target.log_dir) and not run_name:
        return any(
            n.startswith("pipeline") and n.endswith(".p") for n in os.listdir(target.log_dir)
        )
    return False
