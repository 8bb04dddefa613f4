"""The run's flags, written down once: argparse fills them, they become a runner's argv and
``Pipeline.run``'s keyword arguments.

``aw-tui PROJECT --batch``, ``aw-tui PROJECT`` (the TUI), ``aw-tui demo`` and the detached
runner the TUI starts all take the same flags; :func:`add_run_flags` declares them,
:meth:`RunOptions.from_args` reads them back, :meth:`RunOptions.argv` turns them into the
command line of a runner, and :meth:`RunOptions.run_kwargs` into ``Pipeline.run``'s arguments.
Nothing here imports Textual or the engine.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from aw_tui.base.errors import AwTuiError
from aw_tui.base.text import inert

__all__ = ["OptionsError", "RunOptions", "add_run_flags", "check_start_idx", "split_tags"]

#: A run name becomes a file name (``pipeline-NAME.p``): letters, digits, ``.``, ``_``, ``-``.
RUN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class OptionsError(AwTuiError):
    """A flag with a value no run can use (exit code 2, nothing is run or written)."""


def split_tags(values: list[str] | None) -> list[str]:
    """``["a,b", "c"]`` (repeated, comma-separated flags) -> ``["a", "b", "c"]``."""
    tags: list[str] = []
    for value in values or []:
        tags.extend(t for t in value.split(",") if t)
    return tags


@dataclass
class RunOptions:
    """The flags of a run, mirroring ``Pipeline.run``.

    Attributes
    ----------
    tags, ignore_tags : list of str
        Run only steps with one of ``tags``; never steps with one of ``ignore_tags``.
    resume : bool
        Go on from the checkpoint (finished steps are not run again).
    start_idx : int or None
        Start at this index of the run's steps.
    run_name : str or None
        Name of the run (checkpoint ``pipeline-NAME.p``).
    ignore_errors, ignore_exceptions : bool or None
        Go on past steps that return an error / raise (None: each step's own setting).
    verbose : bool
        Also print the tools' output.
    jobs : int or None
        Run up to this many independent steps at once.
    create_paths : bool or None
        Create missing paths without asking (None: the project's setting).
    use_checkpoint : bool
        Start from the checkpoint's results (a project's steps are still its file's).
    keep_stale : bool
        On resume, keep the results of stale steps (run only pending and failed ones).
    """

    tags: list[str] = field(default_factory=list)
    ignore_tags: list[str] = field(default_factory=list)
    resume: bool = False
    start_idx: int | None = None
    run_name: str | None = None
    ignore_errors: bool | None = None
    ignore_exceptions: bool | None = None
    verbose: bool = False
    jobs: int | None = None
    create_paths: bool | None = None
    use_checkpoint: bool = False
    keep_stale: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """The options of a namespace filled by a parser that :func:`add_run_flags` set up."""
        return cls(
            tags=split_tags(args.tags),
            ignore_tags=split_tags(args.ignore_tags),
            resume=args.resume,
            start_idx=args.start_idx,
            run_name=args.run_name,
            ignore_errors=args.ignore_errors,
            ignore_exceptions=args.ignore_exceptions,
            verbose=args.verbose,
            jobs=args.jobs,
            create_paths=args.create_paths,
            use_checkpoint=args.use_checkpoint,
            keep_stale=getattr(args, "keep_stale", False),
        )

    def validate(self) -> None:
        """Refuse values no run can use, before anything is opened or written.

        Raises
        ------
        OptionsError
            Naming every bad flag, its value and what to give instead.
        """
        problems = []
        if self.run_name is not None and not RUN_NAME_RE.match(self.run_name):
            problems.append(
                f"--run-name {inert(self.run_name, one_line=True)!r}: a run name becomes a "
                "file name (pipeline-NAME.p), so it must be 1 to 64 letters, digits, '.', "
                "'_' or '-', starting with a letter or digit (e.g. --run-name night1)"
            )
        if self.jobs is not None and self.jobs < 1:
            problems.append(f"--jobs {self.jobs}: give 1 or more steps at once (1 runs them "
                            "one after the other)")
        if self.start_idx is not None and self.start_idx < 0:
            problems.append(f"--start-idx {self.start_idx}: give an index of 0 or more "
                            "(`aw-tui check PROJECT` lists the indexes)")
        if problems:
            raise OptionsError("; ".join(problems) + " (nothing was run)")

    def argv(self, target: str) -> list[str]:
        """The command line of a detached ``aw-tui TARGET --batch`` runner with these flags."""
        argv = [sys.executable, "-m", "aw_tui", target, "--batch"]
        if self.resume:
            argv.append("--resume")
        if self.use_checkpoint:
            argv.append("--use-checkpoint")
        if self.keep_stale:
            argv.append("--keep-stale")
        if self.start_idx is not None:
            argv += ["--start-idx", str(self.start_idx)]
        for tag in self.tags:
            argv += ["--tags", tag]
        for tag in self.ignore_tags:
            argv += ["--ignore-tags", tag]
        if self.run_name:
            argv += ["--run-name", self.run_name]
        if self.ignore_errors:
            argv.append("--ignore-errors")
        if self.ignore_exceptions:
            argv.append("--ignore-exceptions")
        if self.jobs:
            argv += ["--jobs", str(self.jobs)]
        if self.verbose:
            argv.append("--verbose")
        if self.create_paths:
            argv.append("--create-paths")
        return argv

    def run_kwargs(self, resume: bool | None = None) -> dict[str, Any]:
        """``Pipeline.run``'s keyword arguments for these flags.

        Parameters
        ----------
        resume : bool, optional
            Overrides :attr:`resume` (``--resume`` without a checkpoint starts afresh).
        """
        return {
            "run_tags": list(self.tags),
            "ignore_tags": list(self.ignore_tags),
            "run_name": self.run_name,
            "resume": self.resume if resume is None else resume,
            "ignore_errors": self.ignore_errors,
            "ignore_exceptions": self.ignore_exceptions,
            "start_idx": self.start_idx,
        }


def check_start_idx(start_idx: int | None, count: int) -> None:
    """Refuse a ``--start-idx`` past the ``count`` steps the run would schedule.

    Raises
    ------
    OptionsError
    """
    if start_idx is not None and start_idx >= count:
        raise OptionsError(
            f"--start-idx {start_idx}: this run has {count} step(s), indexes 0 to "
            f"{count - 1}; give one of those (`aw-tui check PROJECT` lists them; nothing was "
            "run)"
        )


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Declare the run's flags (those of :class:`RunOptions`) on ``parser``."""
    parser.add_argument("--tags", action="append", metavar="TAG[,TAG]",
                        help="run only steps with one of these tags")
    parser.add_argument("--ignore-tags", action="append", metavar="TAG[,TAG]",
                        help="never run steps with these tags (wins over --tags)")
    parser.add_argument("--resume", action="store_true",
                        help="go on from the checkpoint: finished steps are not run again")
    parser.add_argument("--start-idx", type=int, metavar="N",
                        help="start at index N of the run's steps")
    parser.add_argument("--run-name", metavar="NAME",
                        help="name the run (checkpoint pipeline-NAME.p)")
    parser.add_argument("--ignore-errors", action="store_true", default=None,
                        help="go on past steps that return an error")
    parser.add_argument("--ignore-exceptions", action="store_true", default=None,
                        help="go on past steps that raise")
    parser.add_argument("--jobs", "-j", type=int, metavar="N",
                        help="run up to N independent steps at once")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also print the tools' output")
    parser.add_argument("--create-paths", action="store_true", default=None,
                        help="create missing paths without asking")
    parser.add_argument("--use-checkpoint", action="store_true",
                        help="start from the checkpoint's results (a project's steps still "
                        "come from its file; a run directory's from the checkpoint); "
                        "implied by --resume")
    parser.add_argument("--keep-stale", action="store_true",
                        help="with --resume: keep the results of stale steps and run only "
                        "the pending and failed ones")
