"""Small step functions for trying out projects and for tests (importable by name).

``aw_tui.testing_funcs:succeed`` in a project's ``func`` runs a step that does nothing and
succeeds; the others fail, raise, sleep or print in known ways.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from aw_tui.base.process import run_command

__all__ = ["fail", "print_lines", "raise_error", "run_argv", "sleep", "succeed",
           "tool_progress", "touch"]


def succeed(**kwargs: Any) -> dict[str, Any]:
    """Return success with the kwargs as the summary."""
    return {"status": "success", "summary": {k: v for k, v in kwargs.items()
                                             if isinstance(v, (int, float, str, bool))}}


def fail(message: str = "this step fails on purpose") -> dict[str, Any]:
    """Return an error result."""
    return {"status": "error", "error_msg": message}


def raise_error(message: str = "this step raises on purpose") -> dict[str, Any]:
    """Raise a RuntimeError."""
    raise RuntimeError(message)


def sleep(seconds: float = 0.5, **kwargs: Any) -> dict[str, Any]:
    """Sleep, then succeed."""
    time.sleep(float(seconds))
    return {"status": "success", "summary": {"slept": float(seconds)}}


def touch(path: str, seconds: float = 0.0) -> dict[str, Any]:
    """Append a line to ``path`` (a side effect a test can count), then sleep."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    if seconds:
        time.sleep(float(seconds))
    return {"status": "success"}


def print_lines(lines: int = 10, delay: float = 0.0) -> dict[str, Any]:
    """Run a child process that prints ``lines`` lines (through the step's output file)."""
    code = (
        "import sys, time\n"
        f"for i in range({int(lines)}):\n"
        "    sys.stderr.write(f'> line {i}\\n'); sys.stderr.flush()\n"
        f"    time.sleep({float(delay)})\n"
    )
    result = run_command([sys.executable, "-c", code])
    status = "success" if result.returncode == 0 else "error"
    return {"status": status, "summary": {"lines": int(lines)}}


def run_argv(argv: list[str]) -> dict[str, Any]:
    """Run ``argv`` as a tool step does (no shell; output to the step's output file).

    Succeeds when the command exits 0; the summary holds its exit code.
    """
    result = run_command([str(a) for a in argv])
    return {
        "status": "success" if result.returncode == 0 else "error",
        "summary": {"returncode": result.returncode},
        "error_msg": None if result.returncode == 0 else f"exit code {result.returncode}",
    }


def tool_progress(lines: int = 100, upto: int | None = None, every: int = 97,
                  delay: float = 0.0, hold: float = 0.0) -> dict[str, Any]:
    """Print what SWarp prints while it resamples one file (its banner, the file, then
    ``ESC[1M> Resampling line: i / lines`` every `every` lines, `delay` s apart) up to line
    `upto`, wait `hold` seconds there, then finish (``> All done``). Python's own output:
    it goes to the step's output file as a tool's does."""
    out = sys.stderr
    out.write("\x1b[1M> \n\x1b[1A----- SWarp 2.41.5 started on 2026-01-01 at 00:00:00 "
              "with 1 thread\n\n\x1b[1M> Examining input data ...\n\x1b[1A"
              "-------------- File a.fits:\n")
    stop = lines if upto is None else min(int(upto), lines)
    for line in [*range(0, stop, max(int(every), 1)), stop]:
        out.write(f"\x1b[1M> Resampling line: {line:6d} / {lines}    \n\x1b[1A")
        out.flush()
        time.sleep(delay)
    time.sleep(hold)
    out.write("\x1b[1M> \n\x1b[1A> All done (in 0.1 s)\n")
    out.flush()
    return {"status": "success", "summary": {"lines": int(lines)}}
