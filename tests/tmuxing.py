"""A private tmux server for the tests that drive ``aw-tui`` in a real terminal."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tooling import on_ci

AW_TUI = Path(sys.executable).parent / "aw-tui"
WIDTH, HEIGHT = 100, 30


def require_tmux() -> str:
    """The tmux binary, or skip (fail under CI=true) when it is missing."""
    path = shutil.which("tmux")
    if path is None:
        message = "tmux not found: apt-get install tmux"
        if on_ci():
            pytest.fail(message + " [CI=true: missing tools fail instead of skipping]")
        pytest.skip(message)
    if not AW_TUI.exists():
        pytest.fail(f"{AW_TUI} not found: install the package (pip install -e .)")
    return str(path)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             describe: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s\n{describe()}")
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        return handle.read().split(") ")[-1][:1] != "Z"
    return True


class Tmux:
    """A private tmux server; panes run a command with a chosen environment."""

    def __init__(self, folder: Path) -> None:
        self.binary = require_tmux()
        self.socket = folder / "tmux.sock"
        self.conf = folder / "tmux.conf"
        # keep a pane whose command ended, to read its last words
        self.conf.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "NO_COLOR")}
        self.env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.pane_pids: list[int] = []

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, "-u", "-S", str(self.socket), "-f", str(self.conf), *args],
            capture_output=True, text=True, timeout=20, check=check, env=self.env,
            stdin=subprocess.DEVNULL,
        )

    def open(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> int:
        """Start ``argv`` in a new detached session of WIDTHxHEIGHT; return the pane's pid."""
        command = ["env", *(f"{k}={v}" for k, v in env.items()), *argv]
        self("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", name,
             "-c", str(cwd), "--", *command)
        pid = int(self("display-message", "-p", "-t", name, "#{pane_pid}").stdout.strip())
        self.pane_pids.append(pid)
        return pid

    def screen(self, name: str, escapes: bool = False, history: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", name] + (["-e"] if escapes else [])
        if history:  # the scrolled-off lines too, wrapped lines joined
            args += ["-S", "-", "-J"]
        return self(*args).stdout

    def keys(self, name: str, *keys: str) -> None:
        """Send keys one by one; an Escape is followed by a pause (ESC+key is Alt+key)."""
        for key in keys:
            self("send-keys", "-t", name, key)
            time.sleep(0.3 if key == "Escape" else 0.05)

    def pane_dead(self, name: str) -> bool:
        result = self("display-message", "-p", "-t", name, "#{pane_dead}", check=False)
        return result.returncode != 0 or result.stdout.strip() == "1"

    def kill_session(self, name: str) -> None:
        self("kill-session", "-t", name, check=False)

    def close(self) -> None:
        self("kill-server", check=False)
        for pid in self.pane_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
