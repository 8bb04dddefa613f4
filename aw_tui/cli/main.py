"""The ``aw-tui`` command line: the TUI, ``--batch``, ``check``, ``status``, ``demo``, ``doctor``.

Only the TUI path imports Textual; everything else stays headless.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from aw_tui.astromatic.registry import tool_report
from aw_tui.astromatic.summaries import format_summary
from aw_tui.base.errors import EXIT_BAD_INPUT, EXIT_OK, AwTuiError
from aw_tui.cli.batch import EXIT_CODES, error_text, run_batch
from aw_tui.demo.writer import write_demo
from aw_tui.options import RunOptions, add_run_flags
from aw_tui.pipeline import load_pipeline
from aw_tui.project.loader import load_project
from aw_tui.rundir.journal import RunState, read_events
from aw_tui.rundir.store import CheckpointError, read_lock
from aw_tui.rundir.vocabulary import INTERRUPTED, RUNNING, count_done
from aw_tui.target import resolve_target

__all__ = ["main"]

SUBCOMMANDS = ("check", "status", "demo", "doctor")

EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aw-tui",
        description=(
            "Run AstrOmatic pipelines (SExtractor, SCAMP, SWarp, PSFEx). "
            "`aw-tui PROJECT` opens the terminal UI; `--batch` runs headless. "
            "Other commands: aw-tui check|status|demo|doctor (see aw-tui COMMAND --help)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="project file (.toml), run directory or pipeline.p")
    parser.add_argument("--batch", action="store_true", help="run headless (Slurm, nohup)")
    add_run_flags(parser)
    return parser


def _options(args: argparse.Namespace) -> RunOptions:
    if args.start_idx is not None and args.start_idx < 0:
        raise SystemExit(f"aw-tui: --start-idx must be 0 or more, not {args.start_idx}")
    return RunOptions.from_args(args)


def _fail(exc: AwTuiError) -> int:
    """Print a deliberate error as one paragraph; the bad-input exit code."""
    sys.stderr.write(f"aw-tui: {error_text(exc)}\n")
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run ``aw-tui`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            handler = {"check": cmd_check, "status": cmd_status, "demo": cmd_demo,
                       "doctor": cmd_doctor}[argv[0]]
            return handler(argv[1:])
        args = _run_parser().parse_args(argv)
        options = _options(args)
        if args.batch:
            return run_batch(args.project, options)
        return open_tui(args.project, options)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
            return EXIT_BAD_INPUT
        return EXIT_BAD_INPUT if exc.code not in (0, None) else EXIT_OK
    except KeyboardInterrupt:
        return 130


def open_tui(project: str, options: RunOptions | None = None) -> int:
    """Open the terminal UI on a project or run directory."""
    try:
        # A run with a checkpoint opens without expanding the project's steps (the table
        # shows the checkpoint's); the app checks the whole file once the table is shown.
        target = resolve_target(project, options.run_name if options else None, expand=False)
    except AwTuiError as exc:
        return _fail(exc)
    from aw_tui.tui.app import run_app  # lazy: Textual takes ~0.5 s; --batch never needs it

    return run_app(target, options or RunOptions())


# -- check ------------------------------------------------------------------------------
def cmd_check(argv: list[str]) -> int:
    """``aw-tui check PROJECT``: validate and print the expanded steps (a dry run)."""
    parser = argparse.ArgumentParser(
        prog="aw-tui check",
        description="Validate a project and list its expanded steps; with a checkpoint, "
        "say what --resume would run. Runs nothing.",
    )
    parser.add_argument("project")
    parser.add_argument("--run-name")
    parser.add_argument("--tags", action="append")
    parser.add_argument("--ignore-tags", action="append")
    args = parser.parse_args(argv)
    try:
        target = resolve_target(args.project, args.run_name)
    except AwTuiError as exc:
        return _fail(exc)
    out = sys.stdout
    if target.project is not None:
        rows = target.project.steps_table()
        out.write(f"{target.path}: valid, {len(rows)} steps\n")
        out.write(target.project.format_steps_table() + "\n")
    try:
        if target.log_dir and os.path.isdir(target.log_dir):
            pipeline = load_pipeline(target.log_dir, args.run_name)
        else:
            pipeline = None
    except CheckpointError:
        pipeline = None
    except AwTuiError as exc:
        return _fail(exc)
    if pipeline is None:
        out.write("no checkpoint yet: --resume would start from the first step\n")
        return EXIT_OK
    if target.project is None:
        _print_table(out, ["idx", "id", "tags", "func"], [
            [str(i), str(s.step_id), ",".join(s.tags), s.func_name]
            for i, s in enumerate(pipeline.steps)
        ])
    run_steps = pipeline.run_steps or []
    todo = [
        (i, s) for i, s in enumerate(run_steps)
        if i >= pipeline.run_step_idx and s.step_id not in pipeline.completed_step_ids
    ]
    if target.project is not None:
        stored = getattr(pipeline, "project_fingerprint", None)
        if stored and stored != target.project.fingerprint:
            out.write("note: the project file changed since the checkpoint; --resume uses "
                      "the checkpoint's steps\n")
    if not todo:
        out.write(f"checkpoint {pipeline.run_step_idx}/{len(run_steps)}: the last run "
                  "finished; --resume would run nothing\n")
    else:
        out.write(
            f"--resume would run {len(todo)} step(s), from run index {todo[0][0]}: "
            + ", ".join(f"{i}:{s.step_id}({s.func_name})" for i, s in todo[:20])
            + (" ..." if len(todo) > 20 else "") + "\n"
        )
    return EXIT_OK


def _print_table(out: Any, header: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = min(max(widths[i], len(cell)), 60)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out.write(fmt.format(*header).rstrip() + "\n")
    for row in rows:
        out.write(fmt.format(*[c[:60] for c in row]).rstrip() + "\n")


# -- status -----------------------------------------------------------------------------
def run_status(log_dir: str) -> dict[str, Any]:
    """The state of the last or live run of a run directory, as plain data."""
    state = RunState.from_events(read_events(log_dir))
    lock = read_lock(log_dir)
    live = lock is not None and lock.is_alive()
    run_state = state.state
    if run_state == RUNNING and not live:
        run_state = "dead"
    now = time.time()
    steps = []
    for index, step_id in enumerate(state.run_steps):
        st = state.step(step_id)
        steps.append({
            "index": index, "step_id": step_id, "status": st.status, "tags": st.tags,
            "func": st.func, "duration": st.duration, "summary": st.summary,
            "error_msg": st.error_msg, "host": st.host, "worker": st.worker,
        })
    return {
        "log_dir": os.path.abspath(log_dir),
        "state": run_state,
        "pipeline_name": state.pipeline_name,
        "run_name": state.run_name,
        "host": lock.host if live and lock else state.host,
        "pid": lock.pid if live and lock else state.pid,
        "live": live,
        "started": state.started,
        "ended": state.ended,
        "elapsed": ((state.ended or now) - state.started) if state.started else None,
        "remaining": state.estimate_remaining(now),
        "counts": state.counts(),
        "failed_step": state.failed_step,
        "failed_index": state.failed_index,
        "error_msg": state.error_msg,
        "reason": state.reason,
        "steps": steps,
    }


def describe_state(status: dict[str, Any]) -> str:
    """One line: idle / running on HOST pid N since T / finished / failed at step K ..."""
    state = status["state"]
    if state == RUNNING:
        since = time.strftime("%H:%M:%S", time.localtime(status["started"] or 0))
        return f"running on {status['host']} pid {status['pid']} since {since}"
    if state == "failed":
        return f"failed at step {status['failed_step']} (index {status['failed_index']})"
    if state == INTERRUPTED:
        return f"interrupted at index {status['failed_index']} ({status['reason']})"
    if state == "dead":
        return (f"runner gone (pid {status['pid']} on {status['host']} ended without "
                "recording it): resume with --resume")
    return state


def cmd_status(argv: list[str]) -> int:
    """``aw-tui status PROJECT``: the last or live run, as a table or ``--json``."""
    parser = argparse.ArgumentParser(
        prog="aw-tui status",
        description="Show the state of the last or live run of a project or run directory "
        "(works from another host on a shared file system).",
    )
    parser.add_argument("project")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        target = resolve_target(args.project, check_files=False)
    except AwTuiError as exc:
        return _fail(exc)
    if not target.log_dir or not os.path.isdir(target.log_dir):
        status = {"log_dir": target.log_dir, "state": "idle", "steps": [], "counts": {}}
    else:
        status = run_status(target.log_dir)
    if args.json:
        json.dump(status, sys.stdout, indent=1, default=repr)
        sys.stdout.write("\n")
        return EXIT_OK
    out = sys.stdout
    out.write(f"{status['log_dir']}: {describe_state(status)}\n")
    counts = status.get("counts") or {}
    if counts:
        done = count_done(counts)
        extra = ""
        if status.get("elapsed") is not None:
            extra = f"  elapsed {status['elapsed']:.0f} s"
        if status.get("remaining") is not None:
            extra += f"  about {status['remaining']:.0f} s left"
        out.write(f"{done} done, {counts.get('error', 0)} failed, "
                  f"{counts.get('pending', 0) + counts.get('running', 0)} to go{extra}\n")
    _print_table(out, ["idx", "id", "status", "time", "tags", "summary"], [
        [str(s["index"]), str(s["step_id"]), s["status"],
         f"{s['duration']:.1f}s" if s["duration"] is not None else "",
         ",".join(s["tags"] or []), format_summary(s["summary"]) or (s["error_msg"] or "")]
        for s in status["steps"]
    ])
    return EXIT_OK


# -- demo -------------------------------------------------------------------------------
def _say(line: str) -> None:
    """Print one progress line of `aw-tui demo` at once."""
    sys.stdout.write(f"aw-tui: {line}\n")
    sys.stdout.flush()


def cmd_demo(argv: list[str]) -> int:
    """``aw-tui demo [DIR]``: write the demo project with synthetic data, then open it."""
    parser = argparse.ArgumentParser(
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
    project = write_demo(args.dir, size=args.size, progress=_say)
    sys.stdout.write(f"aw-tui: demo project written to {project}\n")
    if args.no_run:
        return EXIT_OK
    options = _options(args)
    if args.batch:
        return run_batch(project, options)
    return open_tui(project, options)


# -- doctor -----------------------------------------------------------------------------
def cmd_doctor(argv: list[str]) -> int:
    """``aw-tui doctor``: which tools were found where, versions, how to install the rest."""
    parser = argparse.ArgumentParser(
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
            return _fail(exc)
    rows = tool_report(build_paths)
    out = sys.stdout
    for row in rows:
        if row["status"] == "ok":
            out.write(f"  ok       {row['code']:<11} {row['version']:<8} {row['path']}\n")
        else:
            out.write(f"  MISSING  {row['code']:<11} {row['hint']}\n")
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
