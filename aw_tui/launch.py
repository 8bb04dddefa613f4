"""Start runs from a viewer: a detached ``aw-tui PROJECT --batch`` process, or the same
runner as a Slurm batch job when the project says ``[launcher] kind = "slurm"``.

Nothing of the run lives in the viewer: the runner is its own session (no controlling
terminal), so a dropped SSH connection, a killed tmux or a closed TUI never stops it. Its
stdout and stderr go to ``<log>/runner.log``. A viewer stops a run or edits a pending step
through :mod:`aw_tui.rundir.control`.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from aw_tui.launchers.slurm import SlurmJob, options_from_config, submit
from aw_tui.options import RunOptions
from aw_tui.rundir.layout import RunLayout

__all__ = ["RunRequest", "launcher_kind", "start_runner", "submit_runner"]


#: The runner's flags are :class:`aw_tui.options.RunOptions` (one definition for the command
#: line, the runner and ``Pipeline.run``); this name stays for callers that spell it so.
RunRequest = RunOptions


def start_runner(target: str, log_dir: str, request: RunOptions) -> subprocess.Popen:
    """Start a detached ``aw-tui TARGET --batch`` with ``request``'s flags; return its process.

    Its stdout and stderr go to ``<log_dir>/runner.log``.
    """
    os.makedirs(log_dir, exist_ok=True)
    log_path = RunLayout(log_dir).runner_log
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            request.argv(target),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=os.path.dirname(os.path.abspath(target)) if os.path.isfile(target) else None,
        )


def launcher_kind(project: Any) -> str:
    """``[launcher] kind`` of a project: ``"local"`` (the default, and for a run directory
    opened without its project) or ``"slurm"``."""
    config = getattr(project, "launcher_config", None) or {}
    return str(config.get("kind") or "local")


def submit_runner(project_path: str, log_dir: str, request: RunOptions,
                  launcher_config: dict[str, Any] | None, hold: bool = False) -> SlurmJob:
    """Submit ``aw-tui PROJECT --batch`` with ``request``'s flags as a Slurm job.

    The job's options come from the project's ``[launcher.slurm]`` table; it starts in the
    project's folder and is recorded in ``<log_dir>/launcher.json``
    (:func:`aw_tui.launchers.slurm.submit`, whose :class:`~aw_tui.launchers.slurm.SlurmError`
    it raises).
    """
    project_path = os.path.abspath(project_path)
    return submit(request.argv(project_path), options_from_config(launcher_config), log_dir,
                  hold=hold, cwd=os.path.dirname(project_path))
