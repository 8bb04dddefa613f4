"""Every run under a folder: ``aw-tui DIR``'s dashboard and ``aw-tui status DIR``.

:func:`find_runs` walks the folder (at most :data:`MAX_DEPTH` levels, symbolic links not
followed, hidden folders skipped) for project files and run directories: a project's run
directory is its ``[paths] log`` (or ``runs/<stem>``) wherever that is; a run directory
found on the way that no project names is listed on its own (a pipeline run from Python,
an old ``runs/`` entry). :func:`survey_row` gives each run's row from its lock and the
newest run's journal lines only (:func:`aw_tui.rundir.glance.glance`): no checkpoint is
unpickled, so a hundred runs list in well under a second. Which finished steps are stale
needs the checkpoint: the list leaves it unknown (None, shown as ``?``).

A folder that names one project or run (:func:`names_one_run`) opens that run, as before.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

from aw_tui.launch import launcher_kind
from aw_tui.project.loader import ProjectError, load_project
from aw_tui.rundir.glance import glance
from aw_tui.target import PROJECT_FILE, is_run_dir, project_log_dir, run_dirs_in

__all__ = [
    "COLUMNS",
    "MAX_DEPTH",
    "SurveyRun",
    "ago",
    "find_runs",
    "names_one_run",
    "row_cells",
    "survey_row",
]

#: How deep :func:`find_runs` looks below the folder it is given.
MAX_DEPTH = 4
#: Folders never walked into (besides hidden ones).
SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages", "steps", "control"})
_STEPS_TABLE = re.compile(rb"^[ \t]*\[\[[ \t]*steps[ \t]*\]\]", re.MULTILINE)
#: The table's columns (``aw-tui status DIR`` and the dashboard).
COLUMNS = ("project", "run", "state", "done", "stale", "failed", "pending", "step", "job",
           "elapsed", "left", "last activity")
"""(``run``: the run's name, ``-`` for the unnamed run; a run directory without its project
shows its path under ``project``.)"""


@dataclass
class SurveyRun:
    """One run found under a folder.

    Attributes
    ----------
    log_dir : str
        The run directory (absolute; it may not exist yet for a project never run).
    project : str or None
        The project file that names it (absolute), None for a run directory on its own.
    name : str or None
        The project's ``[pipeline] name``.
    launcher : str
        ``[launcher] kind`` of the project (``local`` for a run directory on its own).
    problem : str or None
        Why the project file could not be read (its run directory is then unknown).
    """

    log_dir: str
    project: str | None = None
    name: str | None = None
    launcher: str = "local"
    problem: str | None = None

    @property
    def target(self) -> str:
        """What to open or run: the project file, else the run directory."""
        return self.project or self.log_dir


def names_one_run(folder: str) -> bool:
    """Whether ``aw-tui FOLDER`` names one project or run (else it lists every run in it):
    the folder holds ``project.toml``, is a run directory, or holds exactly one run
    directory (directly or in ``runs/``), as :func:`aw_tui.target.resolve_target` takes it."""
    return (os.path.isfile(os.path.join(folder, PROJECT_FILE)) or is_run_dir(folder)
            or len(run_dirs_in(folder)) == 1)


def _is_project_file(path: str) -> bool:
    """``project.toml``, or another ``.toml`` file with a ``[[steps]]`` line (not
    pyproject.toml): the loader says whether it is a valid project."""
    name = os.path.basename(path)
    if name == PROJECT_FILE:
        return True
    if name == "pyproject.toml":
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
    except OSError:
        return False
    return _STEPS_TABLE.search(head) is not None


def _natural(entry: os.DirEntry[str]) -> list[Any]:
    """Sort key: m2 before m10."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", entry.name)]


def _walk(folder: str, depth: int, projects: list[str], runs: list[str]) -> None:
    """Collect project files and run directories under ``folder``, ``depth`` levels more."""
    if is_run_dir(folder):
        runs.append(folder)
        return  # its steps/ and control/ are not runs
    try:
        entries = sorted(os.scandir(folder), key=_natural)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.name.endswith(".toml") and entry.is_file(follow_symlinks=False):
            if _is_project_file(entry.path):
                projects.append(entry.path)
        elif (depth > 0 and entry.name not in SKIPPED
              and entry.is_dir(follow_symlinks=False)):
            _walk(entry.path, depth - 1, projects, runs)


def find_runs(folder: str, depth: int = MAX_DEPTH) -> list[SurveyRun]:
    """The runs of every project and every run directory under ``folder`` (see the
    module's docstring), projects first in path order, then the run directories no project
    names."""
    root = os.path.abspath(folder)
    projects: list[str] = []
    found: list[str] = []
    _walk(root, depth, projects, found)
    runs: list[SurveyRun] = []
    named: set[str] = set()
    for path in projects:
        try:
            project = load_project(path, check_files=False, steps=False)
        except (ProjectError, OSError) as exc:
            runs.append(SurveyRun(log_dir="", project=path,
                                  problem=str(exc).splitlines()[0] if str(exc) else "invalid"))
            continue
        log_dir = os.path.abspath(project_log_dir(project))
        if os.path.realpath(log_dir) in named:
            continue  # two project files of one run directory: the first names it
        named.add(os.path.realpath(log_dir))
        runs.append(SurveyRun(log_dir=log_dir, project=path, name=project.name,
                              launcher=launcher_kind(project)))
    runs += [SurveyRun(log_dir=path) for path in found if os.path.realpath(path) not in named]
    return runs


def _label(path: str, root: str) -> str:
    relative = os.path.relpath(path, root)
    return path if relative.startswith("..") else relative


def survey_row(run: SurveyRun, root: str, job: dict[str, Any] | None = None,
               now: float | None = None) -> dict[str, Any]:
    """One run's row as plain data (``aw-tui status DIR --json``): where it is, its state
    at a glance (:class:`aw_tui.rundir.glance.Glance`), and its Slurm ``job`` as given."""
    now = time.time() if now is None else now
    root = os.path.abspath(root)
    if run.project is not None:
        folder = os.path.dirname(run.project)
        shown = _label(folder if os.path.basename(run.project) == PROJECT_FILE
                       else run.project, root)
    else:
        shown = _label(run.log_dir, root)
    row: dict[str, Any] = {"project": shown if shown != "." else os.path.basename(root),
                           "project_file": run.project, "project_name": run.name,
                           "run_dir": _label(run.log_dir, root) if run.log_dir else None,
                           "target": run.target, "launcher": run.launcher,
                           "problem": run.problem, "job": job}
    if run.problem:
        row.update(state="invalid project", log_dir=None, counts={}, running=[],
                   run_name=None)
        return row
    row.update(glance(run.log_dir, now).to_json())
    return row


def ago(when: float | None, now: float | None = None) -> str:
    """``12 s ago``, ``3 min ago``, ``2 h ago``, or the date (``-`` for None)."""
    if when is None:
        return "-"
    seconds = max(0.0, (time.time() if now is None else now) - when)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(when))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(int(max(0.0, seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _job_cell(job: dict[str, Any] | None) -> str:
    """``1337 PENDING`` (the reason and node are in ``status DIR --json`` and the
    dashboard's details)."""
    return f"{job.get('id')} {job.get('state')}" if job else ""


def row_cells(row: dict[str, Any], now: float | None = None,
              stale: str | None = None) -> list[str]:
    """The row's text in :data:`COLUMNS` order (``stale``: the stale count if known)."""
    counts = row.get("counts") or {}
    running = row.get("running") or []
    step = ""
    if running:
        first = running[0]
        step = f"[{(first.get('index') or 0) + 1}/{counts.get('total', '?')}] {first.get('func')}"
        step += f" +{len(running) - 1}" if len(running) > 1 else ""
    known = counts.get("stale")
    ran = bool(counts.get("total"))  # a project never run: its counts are not known here
    return [
        row["project"] or "-",
        row.get("run_name") or "-",
        row["state"],
        str(counts.get("done", "")) if ran else "-",
        stale if stale is not None else ("?" if known is None else str(known)),
        str(counts.get("failed", "")) if ran else "-",
        str(counts.get("pending", "")) if ran else "-",
        step,
        _job_cell(row.get("job")),
        _clock(row.get("elapsed")),
        _clock(row.get("remaining")) if row.get("remaining") is not None else "",
        ago(row.get("last_activity"), now),
    ]
