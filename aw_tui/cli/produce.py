"""``aw-tui init``, ``aw-tui results`` and ``aw-tui report``: a project from a folder of
images, and a run's results as a table or as a page."""

from __future__ import annotations

import os
import sys

from aw_tui.base.errors import EXIT_BAD_INPUT, EXIT_OK, AwTuiError
from aw_tui.base.text import inert
from aw_tui.cli.common import ArgumentParser, fail, say
from aw_tui.target import TargetError, resolve_target

__all__ = ["cmd_init", "cmd_report", "cmd_results"]


def cmd_init(argv: list[str]) -> int:
    """``aw-tui init DIR --images GLOB``: write a working project for the user's images."""
    parser = ArgumentParser(
        prog="aw-tui init",
        description="Write DIR/project.toml and DIR/config/ for your own images: SExtractor "
        "on each image; with --reference, the full chain (SCAMP, SWarp, PSFEx, PSF "
        "photometry). In a terminal it shows what it found and asks before writing.")
    parser.add_argument("dir", help="where to write the project")
    parser.add_argument("--images", required=True,
                        help="glob of the images, e.g. 'raw/*.fits' (quote it)")
    parser.add_argument("--reference", help="reference catalog for SCAMP (FITS table)")
    parser.add_argument("--weights", metavar="SUFFIX",
                        help="weight maps beside the images: a.fits -> a<SUFFIX>")
    parser.add_argument("--flags", metavar="SUFFIX",
                        help="flag maps beside the images: a.fits -> a<SUFFIX>")
    parser.add_argument("--force", action="store_true", help="replace an existing project")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask, write")
    args = parser.parse_args(argv)
    from aw_tui.project.scaffold import init_project  # lazy: astropy, for this command only

    interactive = not args.yes and sys.stdin.isatty() and sys.stdout.isatty()
    try:
        written = init_project(args.dir, args.images, weights=args.weights, flags=args.flags,
                               reference=args.reference, force=args.force,
                               interactive=interactive,
                               out=lambda text: sys.stdout.write(inert(text) + "\n"))
    except AwTuiError as exc:
        return fail(exc)
    if written is None:
        say("nothing written")
        return EXIT_OK
    project = os.path.join(args.dir, "project.toml")
    sys.stdout.write("".join(f"wrote {inert(path)}\n" for path in written))
    sys.stdout.write(f"next: aw-tui check {inert(project)}   then: aw-tui {inert(project)}\n")
    return EXIT_OK


def _log_dir(project: str, run_name: str | None) -> str:
    target = resolve_target(project, run_name, check_files=False, expand=False)
    if not target.log_dir or not os.path.isfile(os.path.join(target.log_dir, "events.jsonl")):
        raise TargetError(f"{project}: no run yet (no journal in {target.log_dir})",
                          f"run it first: aw-tui {project} --batch")
    return target.log_dir


def cmd_results(argv: list[str]) -> int:
    """``aw-tui results PROJECT``: one row per step and every summary field, as a table."""
    parser = ArgumentParser(
        prog="aw-tui results",
        description="Write the newest run's results (one row per step: status, verdict, "
        "warnings, duration and every summary field; outliers of a group flagged).")
    parser.add_argument("project")
    parser.add_argument("--format", default="csv", choices=["csv", "ecsv", "fits", "json"])
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    parser.add_argument("--run-name")
    args = parser.parse_args(argv)
    from aw_tui.report.results import results, write_results  # lazy: astropy is slow to import

    try:
        table = results(_log_dir(args.project, args.run_name))
        if args.format == "fits" and not args.output:
            raise TargetError("the fits format needs a file", "add -o results.fits")
        write_results(table, args.output, args.format)
    except AwTuiError as exc:
        return fail(exc)
    except OSError as exc:
        say(f"cannot write {args.output}: {exc.strerror}")
        return EXIT_BAD_INPUT
    return EXIT_OK


def cmd_report(argv: list[str]) -> int:
    """``aw-tui report PROJECT -o report.html``: one self-contained HTML page of the run."""
    parser = ArgumentParser(
        prog="aw-tui report",
        description="Write one self-contained HTML page of the newest run: steps, verdicts, "
        "warnings, plots per group, the PSF model and the stack (needs aw-tui[report]).")
    parser.add_argument("project")
    parser.add_argument("-o", "--output", default="report.html")
    parser.add_argument("--run-name")
    args = parser.parse_args(argv)
    from aw_tui.report.page import write_report  # lazy: astropy and matplotlib are slow

    try:
        path = write_report(_log_dir(args.project, args.run_name), args.output)
    except AwTuiError as exc:
        return fail(exc)
    except OSError as exc:
        say(f"cannot write {args.output}: {exc.strerror}")
        return EXIT_BAD_INPUT
    sys.stdout.write(f"wrote {inert(os.path.abspath(path))}\n")
    return EXIT_OK
