"""``aw-tui check PROJECT``: validate a project and say what a run would do, running nothing.

It takes the run's flags and refuses what ``--batch`` would refuse (exit 2): a bad flag, a
project error, a selection with no step, a ``--start-idx`` past the steps, a missing tool, and
a checkpoint that ``--resume`` would refuse (damaged, not yours, writable by others, or
written for a project since copied or moved). It writes nothing, except with
``--rebuild-checkpoint``: a damaged checkpoint is then rebuilt from the project file and the
journal, under the run directory's lock.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any

from aw_tui.astromatic.configcheck import validate_steps
from aw_tui.base.errors import EXIT_BAD_INPUT, EXIT_OK, AwTuiError
from aw_tui.base.text import inert
from aw_tui.cli.common import (
    ArgumentParser,
    error_text,
    fail,
    options_from,
    print_table,
    run_problem,
    say,
)
from aw_tui.options import add_run_flags
from aw_tui.rundir.checkpoint import resume_verdict as checkpoint_verdict
from aw_tui.rundir.journal import step_ids_by_identity, verify_journal
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.store import rebuild_checkpoint
from aw_tui.target import (
    Target,
    TargetError,
    build_from_project,
    resolve_target,
    resume_plan,
    resume_verdict,
)

__all__ = ["cmd_check"]


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="aw-tui check",
        description="Validate a project and list its expanded steps; with a checkpoint, "
        "say what --resume would run. Takes the flags of a run and refuses what --batch "
        "would refuse. Runs and writes nothing.",
    )
    parser.add_argument("project", help="project file (.toml) or its folder, run directory "
                        "or pipeline.p")
    parser.add_argument("--rebuild-checkpoint", action="store_true",
                        help="rebuild a damaged (e.g. truncated) checkpoint from the project "
                        "file, the journal and the result files (the damaged one is kept "
                        "aside), then check as usual")
    add_run_flags(parser)
    return parser


def cmd_check(argv: list[str]) -> int:
    """``aw-tui check PROJECT [run flags]``: the exit code ``--batch`` would start with."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        options = options_from(args)
        target = resolve_target(args.project, options.run_name)
    except AwTuiError as exc:
        return fail(exc)
    if target.project is not None:
        rows = target.project.steps_table()
        out.write(f"{inert(target.path)}: valid, {len(rows)} steps\n")
        print_table(out, ["#", "id", "tags", "func", "inputs"], [
            [r.index, r.step_id, ",".join(r.tags), r.func, r.inputs] for r in rows
        ], max_width=None)
    if args.rebuild_checkpoint:
        rebuilt = _rebuild(target, options.run_name)
        if rebuilt is not None:
            return rebuilt
    _report_journal(out, target)
    verdict = resume_verdict(target, options.run_name)
    if verdict.refusal is not None:
        out.write(f"checkpoint: --resume would refuse it (exit 2): "
                  f"{inert(error_text(verdict.refusal))}\n")
        return EXIT_BAD_INPUT
    pipeline = verdict.pipeline
    if pipeline is None and target.project is not None:
        out.write("no checkpoint yet: --resume would start from the first step\n")
    elif pipeline is not None:
        _report_resume(out, target, pipeline, options.keep_stale)
    problem = run_problem(target, pipeline, options)
    if problem:
        say(problem)
        return EXIT_BAD_INPUT
    if target.project is not None:  # the tools' configs, against the installed tools' lists
        problems = validate_steps(target.project.steps, dict(target.project.build_paths))
        for text in problems:
            say(text)
        if problems:
            return EXIT_BAD_INPUT
    return EXIT_OK


def _rebuild(target: Target, run_name: str | None) -> int | None:
    """``--rebuild-checkpoint``: an exit code when it cannot be done, else None (then check)."""
    if target.project is None or not target.log_dir:
        return fail(TargetError(
            f"{target.path}: --rebuild-checkpoint needs the project file the run was made from",
            "run aw-tui check PROJECT.toml --rebuild-checkpoint on the project file"))
    trust = checkpoint_verdict(target.log_dir, run_name, load=True)
    if trust.state != "damaged":
        say(f"the checkpoint is {trust.state}: nothing to rebuild")
        return None
    try:
        # The steps get back the ids the journal knows them by (steps added since a run
        # started have ids beyond the others).
        fresh = build_from_project(target, step_ids=step_ids_by_identity(target.log_dir))
        path = rebuild_checkpoint(target.log_dir, fresh, run_name)
    except AwTuiError as exc:
        return fail(exc)
    say(f"rebuilt {path} from the project file and the journal (the damaged file is kept "
        "beside it)")
    return None


def _report_journal(out: IO[str], target: Target) -> None:
    """The journal's damaged or missing lines, by line number (their steps count as not
    finished, so ``--resume`` runs them again)."""
    if not target.log_dir or not os.path.isfile(RunLayout(target.log_dir).journal):
        return
    problems = verify_journal(target.log_dir)
    for problem in problems[:20]:
        out.write(inert(f"journal line {problem.line}: {problem.message}", one_line=True)
                  + "\n")
    if len(problems) > 20:
        out.write(f"journal: {len(problems) - 20} more problems\n")
    if problems:
        out.write("journal: the steps of damaged or missing lines count as not finished; "
                  "--resume runs them again\n")


def _report_resume(out: IO[str], target: Target, pipeline: Any, keep_stale: bool) -> None:
    """What ``--resume`` would run from this checkpoint, step by step, and why."""
    if target.project is None:
        print_table(out, ["idx", "id", "tags", "func"], [
            [i, s.step_id, ",".join(s.tags), s.func_name] for i, s in enumerate(pipeline.steps)
        ])
    plan = resume_plan(target, pipeline, keep_stale)
    counts = plan.freshness.counts()
    total = len(plan.freshness.states)
    if not plan.to_run:
        out.write(f"checkpoint: all {total} steps are done and current; --resume would run "
                  "nothing\n")
    else:
        out.write(f"--resume would run {len(plan.to_run)} of {total} step(s), in this order "
                  f"({counts['done']} done and current are kept):\n")
        print_table(out, ["idx", "step", "why"], [
            [index, inert(identity, one_line=True), inert(why, one_line=True)]
            for index, identity, why in plan.to_run[:200]
        ], max_width=None)
        if len(plan.to_run) > 200:
            out.write(f"... and {len(plan.to_run) - 200} more\n")
    if plan.kept:
        out.write(f"--keep-stale: {plan.kept} stale result(s) would be kept\n")
    for gone in plan.freshness.removed:
        out.write(inert(f"removed: {gone.identity} (no longer in the project; its results are "
                        "kept in the run directory)", one_line=True) + "\n")
