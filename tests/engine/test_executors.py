"""The run loop knows executors only through the ``Executor`` protocol (issue 10)."""

from __future__ import annotations

import ast
import concurrent.futures as cf
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tooling import REPO

from aw_tui import testing_funcs as tf
from aw_tui.engine.call import StepCall, StepOutcome
from aw_tui.engine.executors import Executor, LocalExecutor
from aw_tui.pipeline import Pipeline, load_pipeline
from aw_tui.rundir.journal import read_events


class InlineExecutor:
    """An executor written against the protocol alone: runs each call at submit time."""

    capacity = 2
    label = "inline"

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, call: StepCall) -> cf.Future:
        self.submitted.append(call.step.step_id)
        future: cf.Future = cf.Future()
        call.worker = "inline"
        future.set_result(call())
        return future

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        return [f for f in futures if f.done()]

    def outcome(self, future: Any, step: Any) -> StepOutcome:
        return future.result()

    def cancel(self, future: Any) -> None:
        future.cancel()

    def close(self) -> None:
        pass


def test_both_executors_implement_the_protocol():
    local = LocalExecutor(2)
    try:
        assert isinstance(local, Executor)
    finally:
        local.close()
    assert isinstance(InlineExecutor(), Executor)
    assert not isinstance(object(), Executor)
    distributed = pytest.importorskip("distributed")
    from aw_tui.engine.dask_cluster import DaskExecutor  # lazy: needs the dask extra

    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        executor = DaskExecutor(client, owns_client=False)
        assert isinstance(executor, Executor)


def test_any_executor_of_the_protocol_runs_a_group(tmp_path: Path):
    pipeline = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "temp")},
                        create_paths=True)
    for i in range(3):
        pipeline.add_step(tf.touch, ["g"], independent=True, path=str(tmp_path / f"{i}.txt"))
    pipeline.add_step(tf.succeed, ["end"])
    executor = InlineExecutor()
    assert pipeline.run(executor=executor)["status"] == "success"
    assert executor.submitted == [0, 1, 2]
    assert all((tmp_path / f"{i}.txt").exists() for i in range(3))
    events = read_events(str(tmp_path / "log"))
    assert [e["event"] for e in events].count("group_finished") == 1
    started = [e for e in events if e["event"] == "step_started" and e["step_id"] < 3]
    assert {e["worker"] for e in started} == {"inline"}
    assert next(e for e in events if e["event"] == "run_started")["executor"] == "inline"
    reloaded = load_pipeline(str(tmp_path / "log"))
    assert reloaded.run_step_idx == 4


def test_the_loop_imports_no_executor_implementation():
    tree = ast.parse((REPO / "aw_tui" / "engine" / "loop.py").read_text())
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert "aw_tui.engine.executors.Executor" in imported
    assert not [name for name in imported if "dask" in name or "LocalExecutor" in name]


def test_a_local_run_does_not_import_dask():
    code = (
        "import sys, tempfile\n"
        "from aw_tui import testing_funcs as tf\n"
        "from aw_tui.engine.executors import executor_from_config\n"
        "from aw_tui.pipeline import Pipeline\n"
        "p = Pipeline({'log': tempfile.mkdtemp()}, create_paths=True)\n"
        "p.add_step(tf.succeed, independent=True)\n"
        "p.run(executor=executor_from_config({'kind': 'local', 'jobs': 2}))\n"
        "print('distributed' in sys.modules, 'dask' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
