"""``--batch`` on a terminal: its progress line names the running step's progress, read from
the tool's output (issue 14, fix 7; docs/progress.md)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from test_cli import step, write_project


def test_the_progress_line_on_a_terminal_shows_the_running_steps_progress(tmp_path: Path) -> None:
    project = write_project(tmp_path, step("aw_tui.testing_funcs:tool_progress", ["stack"],
                                           lines=8887, upto=5720, every=1000, hold=1.5))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                            stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the runner ended: the terminal is gone
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(timeout=30)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    bars = [part for part in text.split("\r") if part.startswith("\x1b[K[")]
    assert any("0/1 1 s stack 64% Resampling (file 1)" in bar for bar in bars), bars
