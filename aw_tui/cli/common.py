"""What the commands share: one-paragraph errors, plain tables, the run flags' checks.

Everything printed here goes through :func:`aw_tui.base.text.inert`: names, tags, file names
and error messages come from project files, checkpoints and tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import IO, Any, NoReturn

from aw_tui.astromatic.registry import TOOLS, ToolNotFoundError, find_tool
from aw_tui.base.errors import EXIT_BAD_INPUT, AwTuiError
from aw_tui.base.text import inert
from aw_tui.options import RunOptions, check_start_idx
from aw_tui.target import Target

__all__ = [
    "EXIT_PIPE_CLOSED",
    "ArgumentParser",
    "discard_stdout",
    "error_text",
    "fail",
    "missing_tool",
    "options_from",
    "print_table",
    "run_problem",
    "say",
    "select_by_tags",
]

#: The reader of the output went away (``| head``): the status of a process ended by SIGPIPE.
EXIT_PIPE_CLOSED = 141


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose error messages (which quote what was typed) are printed with
    their control characters made visible."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` on stderr; exit with code 2."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {inert(message)}\n")


def discard_stdout() -> None:
    """Send what is still to be written to stdout to /dev/null: its reader went away (``|
    head``), and the interpreter's last flush must not fail on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (captured)
        pass


def error_text(exc: AwTuiError) -> str:
    """One paragraph for an error: its message and, unless the message holds it, its hint."""
    text = str(exc)
    hint = getattr(exc, "hint", "")
    if hint and hint not in text:
        text += f"\n    fix: {hint}"
    return text


def say(message: str, stream: IO[str] | None = None) -> None:
    """Print ``aw-tui: MESSAGE`` on stderr (or ``stream``), control characters made visible."""
    stream = stream or sys.stderr
    stream.write(f"aw-tui: {inert(message)}\n")
    stream.flush()


def fail(exc: AwTuiError) -> int:
    """Print a deliberate error as one paragraph on stderr; the bad-input exit code."""
    say(error_text(exc))
    return EXIT_BAD_INPUT


def options_from(args: argparse.Namespace) -> RunOptions:
    """The validated :class:`RunOptions` of parsed run flags.

    Raises
    ------
    aw_tui.options.OptionsError
    """
    options = RunOptions.from_args(args)
    options.validate()
    return options


def print_table(out: IO[str], header: list[str], rows: Iterable[list[Any]],
                max_width: int | None = 60) -> None:
    """Aligned columns; every cell on one line, control characters made visible."""
    cells = [[inert(c, one_line=True) for c in row] for row in rows]
    if max_width is not None:
        cells = [[c[:max_width] for c in row] for row in cells]
    widths = [len(h) for h in header]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out.write(fmt.format(*header).rstrip() + "\n")
    for row in cells:
        out.write(fmt.format(*row).rstrip() + "\n")


def select_by_tags(steps: Iterable[Any], tags: list[str], ignore_tags: list[str]) -> list[Any]:
    """The steps a run with ``--tags`` / ``--ignore-tags`` would schedule (``Pipeline.run``'s
    rule, for steps that are not yet a pipeline's, such as a project's expanded steps)."""
    return [
        step for step in steps
        if (not tags or any(tag in tags for tag in step.tags))
        and not any(tag in ignore_tags for tag in step.tags)
    ]


def missing_tool(steps: Iterable[Any], build_paths: dict[str, str]) -> str | None:
    """The error for a tool that one of ``steps`` needs and that is not installed, if any."""
    needed: list[str] = []
    for step in steps:
        tool = getattr(step.func, "tool", None) or getattr(step.func, "label", None)
        if tool in TOOLS and tool not in needed:
            needed.append(tool)
    for tool in needed:
        try:
            find_tool(tool, build_paths)
        except ToolNotFoundError as exc:
            return str(exc)
    return None


def run_problem(target: Target, pipeline: Any, options: RunOptions) -> str | None:
    """What ``--batch`` with these flags would refuse before running, if anything.

    Parameters
    ----------
    target : Target
    pipeline : Pipeline or None
        The checkpoint a resume would run (None: none, or the run is built from the
        project file).
    options : RunOptions
    """
    resume = options.resume and pipeline is not None
    if resume or target.project is None:
        if pipeline is None:
            return (f"{target.path}: no checkpoint to open (no pipeline.p in "
                    f"{target.log_dir})")
        steps = pipeline.select_steps(options.tags, options.ignore_tags, None, resume)
        build_paths = getattr(pipeline, "build_paths", {}) or {}
    else:
        steps = select_by_tags(target.project.steps, options.tags, options.ignore_tags)
        build_paths = dict(target.project.build_paths)
    if not steps:
        return ("no step matches the selection (--tags "
                f"{options.tags or '-'} / --ignore-tags {options.ignore_tags or '-'}): a run "
                "would do nothing")
    try:
        check_start_idx(options.start_idx, len(steps))
    except AwTuiError as exc:
        return error_text(exc)
    return missing_tool(steps, build_paths)

