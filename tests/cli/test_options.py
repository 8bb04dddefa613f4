"""The run's flags are written once (aw_tui.options): argparse, the runner's argv and
``Pipeline.run`` agree."""

from __future__ import annotations

import inspect

import pytest

from aw_tui.cli.main import _run_parser
from aw_tui.options import RunOptions
from aw_tui.pipeline import Pipeline

EVERY_FLAG = RunOptions(
    tags=["a", "b"], ignore_tags=["c"], resume=True, start_idx=3, run_name="night1",
    ignore_errors=True, ignore_exceptions=True, verbose=True, jobs=4, create_paths=True,
    use_checkpoint=True,
)


@pytest.mark.parametrize("options", [RunOptions(), EVERY_FLAG, RunOptions(start_idx=0)])
def test_runner_argv_parses_back_to_the_same_options(options: RunOptions) -> None:
    argv = options.argv("/p/project.toml")
    assert argv[3:5] == ["/p/project.toml", "--batch"]
    args = _run_parser().parse_args(argv[3:])
    assert args.batch
    back = RunOptions.from_args(args)
    # argparse leaves unset booleans at None or False: compare what a run would do.
    assert back.run_kwargs() == options.run_kwargs()
    assert (back.jobs, back.verbose, bool(back.create_paths), back.use_checkpoint) == (
        options.jobs, options.verbose, bool(options.create_paths), options.use_checkpoint)


def test_run_kwargs_are_pipeline_run_parameters() -> None:
    accepted = set(inspect.signature(Pipeline.run).parameters)
    assert set(EVERY_FLAG.run_kwargs()) <= accepted
    assert EVERY_FLAG.run_kwargs(resume=False)["resume"] is False
