"""Start runs from a viewer: a detached ``aw-tui PROJECT --batch`` process.

Nothing of the run lives in the viewer: the runner is its own session (no controlling
terminal), so a dropped SSH connection, a killed tmux or a closed TUI never stops it. Its
stdout and stderr go to ``<log>/runner.log``. A viewer stops a run or edits a pending step
through :mod:`aw_tui.rundir.control`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from aw_tui.rundir.layout import RunLayout

__all__ = ["RunRequest", "start_runner"]


@dataclass
class RunRequest:
    """What to run: the flags of ``--batch``."""

    resume: bool = False
    use_checkpoint: bool = False
    start_idx: int | None = None
    tags: list[str] = field(default_factory=list)
    ignore_tags: list[str] = field(default_factory=list)
    run_name: str | None = None
    jobs: int | None = None
    create_paths: bool = False

    def argv(self, target: str) -> list[str]:
        """The runner's command line."""
        argv = [sys.executable, "-m", "aw_tui", target, "--batch"]
        if self.resume:
            argv.append("--resume")
        if self.use_checkpoint:
            argv.append("--use-checkpoint")
        if self.start_idx is not None:
            argv += ["--start-idx", str(self.start_idx)]
        for tag in self.tags:
            argv += ["--tags", tag]
        for tag in self.ignore_tags:
            argv += ["--ignore-tags", tag]
        if self.run_name:
            argv += ["--run-name", self.run_name]
        if self.jobs:
            argv += ["--jobs", str(self.jobs)]
        if self.create_paths:
            argv.append("--create-paths")
        return argv


def start_runner(target: str, log_dir: str, request: RunRequest) -> subprocess.Popen:
    """Start a detached runner for ``target`` writing to ``log_dir``; return its process."""
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
