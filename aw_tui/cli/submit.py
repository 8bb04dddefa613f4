"""``aw-tui submit PROJECT``: run the project's runner as a Slurm batch job."""

from __future__ import annotations

import sys

from aw_tui.base.errors import EXIT_OK, AwTuiError
from aw_tui.base.text import inert
from aw_tui.cli.common import ArgumentParser, fail, options_from
from aw_tui.launch import submit_runner
from aw_tui.launchers.slurm import job_status, options_from_config
from aw_tui.options import add_run_flags
from aw_tui.target import TargetError, resolve_target

__all__ = ["cmd_submit", "slurm_options"]


#: The job's options from a project's ``[launcher]`` table (kept under this name).
slurm_options = options_from_config


def cmd_submit(argv: list[str]) -> int:
    """Submit ``aw-tui PROJECT --batch [flags]`` as a Slurm job; print its id."""
    parser = ArgumentParser(
        prog="aw-tui submit",
        description="Run the project as a Slurm batch job (options from [launcher.slurm]); "
        "the job id, the script and the submit time are kept in the run directory "
        "(launcher.json). Watch it with aw-tui status PROJECT or the TUI.")
    parser.add_argument("project")
    parser.add_argument("--hold", action="store_true",
                        help="submit held: the job waits until `scontrol release JOB`")
    add_run_flags(parser)
    args = parser.parse_args(argv)
    try:
        options = options_from(args)
        target = resolve_target(args.project, options.run_name)
        if target.project is None or not target.log_dir:
            raise TargetError(f"{args.project}: submit needs a project file with a log path",
                              "give the project's .toml file (its [paths] log is the run "
                              "directory)")
        job = submit_runner(str(target.path), target.log_dir, options,
                            target.project.launcher_config, hold=args.hold)
        state = job_status(job.job_id, max_age=0)
    except AwTuiError as exc:
        return fail(exc)
    sys.stdout.write(f"aw-tui: submitted job {job.job_id} ({state.state.lower()}"
                     + (f", {state.reason}" if state.reason else "") + ")\n"
                     f"watch: aw-tui status {inert(args.project)}   or: aw-tui "
                     f"{inert(args.project)}\n")
    return EXIT_OK
