"""The ``aw-tui`` command line: the TUI, ``--batch``, ``check``, ``status``, ``demo``, ``doctor``.

Only the TUI path imports Textual; everything else stays headless.
"""

from __future__ import annotations

import argparse
import os
import sys

from aw_tui.astromatic.registry import tool_report
from aw_tui.base.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, AwTuiError
from aw_tui.base.text import inert
from aw_tui.cli.batch import EXIT_CODES, run_batch
from aw_tui.cli.check import cmd_check
from aw_tui.cli.common import (
    EXIT_PIPE_CLOSED,
    ArgumentParser,
    discard_stdout,
    fail,
    options_from,
)
from aw_tui.cli.produce import cmd_init, cmd_report, cmd_results
from aw_tui.cli.status import cmd_status
from aw_tui.cli.submit import cmd_submit
from aw_tui.options import RunOptions, add_run_flags
from aw_tui.project.loader import load_project
from aw_tui.survey import find_runs, names_one_run
from aw_tui.target import resolve_target

__all__ = ["main"]

SUBCOMMANDS = ("check", "status", "demo", "doctor", "init", "results", "report", "submit")

EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())


def _run_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="aw-tui",
        description=(
            "Run AstrOmatic pipelines (SExtractor, SCAMP, SWarp, PSFEx). "
            "`aw-tui PROJECT` opens the terminal UI; `--batch` runs headless. "
            "Other commands: aw-tui check|status|demo|doctor|init|results|report|submit (see aw-tui COMMAND --help)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="project file (.toml), run directory or pipeline.p")
    parser.add_argument("--batch", action="store_true", help="run headless (Slurm, nohup)")
    parser.add_argument("--notify", action="store_true",
                        help="TUI: ring the bell and send a desktop notification (OSC 9/777) "
                             "when a run ends (or set AW_TUI_NOTIFY=1)")
    add_run_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``aw-tui`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # here, so that a closed pipe is seen below and not at exit
        return code
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
            return EXIT_BAD_INPUT
        return EXIT_BAD_INPUT if exc.code not in (0, None) else EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _output_closed()


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS:
        handler = {"check": cmd_check, "status": cmd_status, "demo": cmd_demo,
                   "doctor": cmd_doctor, "init": cmd_init, "results": cmd_results,
                   "report": cmd_report, "submit": cmd_submit}[argv[0]]
        return handler(argv[1:])
    args = _run_parser().parse_args(argv)
    try:
        options = options_from(args)
    except AwTuiError as exc:
        return fail(exc)
    if args.batch:
        return run_batch(args.project, options)
    return open_tui(args.project, options, notify=args.notify)


def _output_closed() -> int:
    """The reader of stdout went away (``aw-tui status X | head -3``): stop quietly, as
    Unix tools do, with the exit status of a process ended by SIGPIPE."""
    discard_stdout()
    return EXIT_PIPE_CLOSED


def open_tui(project: str, options: RunOptions | None = None, notify: bool = False) -> int:
    """Open the terminal UI on a project or run directory (`notify`: ``--notify``); on a
    folder of several, the dashboard of every run in it."""
    if os.path.isdir(project) and not names_one_run(project):
        runs = find_runs(project)
        if runs:
            from aw_tui.tui.dashboard import run_dashboard  # lazy: Textual, as below

            return run_dashboard(project, runs, options or RunOptions(), notify=notify)
    try:
        # A run with a checkpoint opens without expanding the project's steps (the table
        # shows the checkpoint's); the app checks the whole file once the table is shown.
        target = resolve_target(project, options.run_name if options else None, expand=False)
    except AwTuiError as exc:
        return fail(exc)
    from aw_tui.tui.app import run_app  # lazy: Textual takes ~0.5 s; --batch never needs it

    return run_app(target, options or RunOptions(), notify=notify)


# -- demo -------------------------------------------------------------------------------
def _say(line: str) -> None:
    """Print one progress line of `aw-tui demo` at once."""
    sys.stdout.write(f"aw-tui: {line}\n")
    sys.stdout.flush()


def cmd_demo(argv: list[str]) -> int:
    """``aw-tui demo [DIR]``: write the demo project with synthetic data, then open it."""
    parser = ArgumentParser(
        prog="aw-tui demo",
        description="Write the demo project (synthetic sky: 3 exposures, configs, "
        "project.toml) into DIR and open it in the TUI, or run it with --batch.",
    )
    parser.add_argument("dir", nargs="?", default="aw-tui-demo")
    parser.add_argument("--batch", action="store_true", help="run it headless")
    parser.add_argument("--size", type=int, default=2048, help="image size in pixels")
    parser.add_argument("--no-run", action="store_true", help="only write the project")
    add_run_flags(parser)
    args = parser.parse_args(argv)
    from aw_tui.demo.writer import write_demo  # lazy: numpy and astropy, for the demo only

    project = write_demo(args.dir, size=args.size, progress=_say)
    sys.stdout.write(inert(f"aw-tui: demo project written to {project}") + "\n")
    if args.no_run:
        return EXIT_OK
    options = options_from(args)
    if args.batch:
        return run_batch(project, options)
    return open_tui(project, options)


# -- doctor -----------------------------------------------------------------------------
def cmd_doctor(argv: list[str]) -> int:
    """``aw-tui doctor``: which tools were found where, versions, how to install the rest."""
    parser = ArgumentParser(
        prog="aw-tui doctor",
        description="Show which AstrOmatic tools were found, where, their versions, and "
        "how to install missing ones.",
    )
    parser.add_argument("project", nargs="?", help="use this project's [build_paths]")
    args = parser.parse_args(argv)
    build_paths: dict[str, str] = {}
    if args.project:
        try:
            build_paths = dict(load_project(args.project, check_files=False).build_paths)
        except AwTuiError as exc:
            return fail(exc)
    rows = tool_report(build_paths)
    out = sys.stdout
    for row in rows:
        if row["status"] == "ok":
            out.write(inert(f"  ok       {row['code']:<11} {row['version']:<8} {row['path']}")
                      + "\n")
        else:
            out.write(inert(f"  MISSING  {row['code']:<11} {row['hint']}") + "\n")
    import importlib.metadata  # lazy: ~20 ms of start-up that only doctor needs

    versions = []
    for name in ("textual", "astropy", "dill", "numpy", "dask", "distributed",
                 "dask-jobqueue"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    out.write(f"  python {sys.version.split()[0]}; " + "; ".join(versions) + "\n")
    return EXIT_OK if all(r["status"] == "ok" for r in rows) else EXIT_BAD_INPUT
