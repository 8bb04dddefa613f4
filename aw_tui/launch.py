"""Start and stop runs from a viewer: a detached ``aw-tui PROJECT --batch`` process.

Nothing of the run lives in the viewer: the runner is its own session (no controlling
terminal), so a dropped SSH connection, a killed tmux or a closed TUI never stops it. Its
stdout and stderr go to ``<log>/runner.log``.
"""

from __future__ import annotations

import os
import subprocess

from aw_tui.options import RunOptions
from aw_tui.rundir.store import write_control_request

__all__ = ["RunRequest", "request_edit", "request_stop", "start_runner"]

RUNNER_LOG = "runner.log"


#: The runner's flags are :class:`aw_tui.options.RunOptions` (one definition for the command
#: line, the runner and ``Pipeline.run``); this name stays for callers that spell it so.
RunRequest = RunOptions


def start_runner(target: str, log_dir: str, request: RunOptions) -> subprocess.Popen:
    """Start a detached ``aw-tui TARGET --batch`` with ``request``'s flags; return its process.

    Its stdout and stderr go to ``<log_dir>/runner.log``.
    """
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, RUNNER_LOG)
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


def request_stop(log_dir: str, when: str = "after_step") -> str:
    """Ask the live runner to stop (``'now'`` or ``'after_step'``)."""
    if when not in ("now", "after_step"):
        raise ValueError(f"when must be 'now' or 'after_step', not {when!r}")
    return write_control_request(log_dir, {"action": "stop", "when": when})


def request_edit(log_dir: str, step_id: int, func_kwargs: dict) -> str:
    """Ask the live runner to replace a pending step's kwargs before it starts."""
    return write_control_request(
        log_dir, {"action": "edit", "step_id": int(step_id), "func_kwargs": func_kwargs}
    )
