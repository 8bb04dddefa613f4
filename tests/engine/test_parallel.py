"""Independent steps in parallel: ``--jobs`` (threads) and a real Dask cluster (issue 6).

The real SExtractor runs on a small generated sky: serially, with a LocalExecutor and on a
``dask.distributed.LocalCluster`` of worker *processes*; products and results must match.
The seed's semantics hold with both executors (results per step, ``run_step_idx``, resume,
errors, tags). A worker process killed in the middle of a step is either rescheduled by
Dask or recorded as ``worker lost`` and resumed, with nothing lost. ``aw-tui --batch``
lines say where each step ran. The Slurm sample project validates and renders its job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_jobqueue")

from tooling import require_tool  # noqa: E402

import aw_tui  # noqa: E402
from aw_tui import testing_funcs as tf  # noqa: E402
from aw_tui.astromatic.ldac import read_ldac  # noqa: E402
from aw_tui.demo.sky import make_sky  # noqa: E402
from aw_tui.engine.dask_cluster import DaskExecutor, build_cluster, light_pipeline  # noqa: E402
from aw_tui.engine.executors import LocalExecutor  # noqa: E402
from aw_tui.engine.loop import StepCall  # noqa: E402
from aw_tui.pipeline import Pipeline, PipelineError, PipelineWarning, load_pipeline  # noqa: E402
from aw_tui.project.funcref import FuncRef  # noqa: E402
from aw_tui.project.loader import ProjectError, load_project  # noqa: E402
from aw_tui.rundir.journal import read_events  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HOST = socket.gethostname()
N_EXPOSURES = 5
SLOW_LINES = 30  # the slow step prints this many lines, 0.1 s apart


def _config_dir() -> Path:
    for candidate in (
        Path(aw_tui.__file__).parent / "demo" / "data" / "demo" / "config",
        REPO / "sample_configs" / "demo" / "config",
    ):
        if (candidate / "default.sex").is_file():
            return candidate
    raise AssertionError("no demo config folder with default.sex")


CONFIG = _config_dir()


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something true, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def start_cluster():
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        # No dashboard; the scheduler's health/metrics server on any free port.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    return cluster, distributed.Client(cluster)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    return make_sky(tmp_path_factory.mktemp("sky"), n_exposures=N_EXPOSURES, size=512)


@pytest.fixture(scope="module")
def dask_client():
    cluster, client = start_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture(params=["local", "dask"])
def executor(request):
    if request.param == "local":
        made = LocalExecutor(2)
    else:
        made = DaskExecutor(request.getfixturevalue("dask_client"), owns_client=False)
    yield made
    made.close()


def count_rows(catalogs):
    """The step after the group: every catalog must be there (it waits for the group)."""
    return {
        "status": "success",
        "rows": {os.path.basename(c): len(read_ldac(c)) for c in catalogs},
    }


def build_sex_pipeline(root: Path, sky, slow: bool = False) -> Pipeline:
    """SExtractor per exposure (one group), optionally a slow step first; then count_rows."""
    paths = {name: str(root / name) for name in ("temp", "log", "catalogs")}
    pipeline = Pipeline(paths, pipeline_name="parallel", create_paths=True)
    if slow:
        pipeline.add_step(
            tf.print_lines,
            ["slow"],
            independent=True,
            group="detect",
            lines=SLOW_LINES,
            delay=0.1,
        )
    catalogs = []
    for i, exposure in enumerate(sky.exposures):
        catalog = str(root / "catalogs" / f"{Path(exposure['image']).stem}.ldac.fits")
        catalogs.append(catalog)
        pipeline.add_step(
            FuncRef("sextractor"),
            ["detect", f"exp{i}"],
            independent=True,
            group="detect",
            files=dict(exposure),
            api_kwargs={
                "config_file": str(CONFIG / "default.sex"),
                "config": {
                    "CATALOG_NAME": catalog,
                    "CATALOG_TYPE": "FITS_LDAC",
                    "PARAMETERS_NAME": str(CONFIG / "default.param"),
                    "FILTER": False,
                },
            },
        )
    pipeline.add_step(count_rows, ["count"], catalogs=catalogs)
    return pipeline


def products(pipeline: Pipeline) -> dict:
    """What a run produced, comparable between runs: per step status, detections, rows."""
    out = {}
    offset = 1 if pipeline.steps[0].tags == ["slow"] else 0  # the slow step is -1
    for step in pipeline.steps:
        results = step.results
        assert isinstance(results, dict), (step, results)
        entry = {"status": results["status"]}
        if "catalog" in results:
            table = read_ldac(results["catalog"])
            entry["detections"] = results["summary"]["detections"]
            entry["rows"] = len(table)
            entry["xy"] = np.round(np.c_[table["XWIN_IMAGE"], table["YWIN_IMAGE"]], 4).tolist()
        if "rows" in results:
            entry["count"] = results["rows"]
        out[step.step_id - offset] = entry
    return out


@pytest.fixture(scope="module")
def serial_reference(sky, tmp_path_factory):
    require_tool("sextractor")
    pipeline = build_sex_pipeline(tmp_path_factory.mktemp("serial"), sky)
    pipeline.run()
    reference = products(pipeline)
    assert all(entry["status"] == "success" for entry in reference.values())
    assert all(entry["rows"] > 50 for entry in list(reference.values())[:-1])
    return reference


def starts(events, step_id=None):
    return [
        e
        for e in events
        if e["event"] == "step_started" and (step_id is None or e["step_id"] == step_id)
    ]


# -- same products as the serial run ------------------------------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize("kind", ["local", "dask"])
def test_parallel_run_gives_the_serial_products(kind, sky, serial_reference, tmp_path, request):
    if kind == "local":
        executor = LocalExecutor(2)
        client = None
    else:
        client = request.getfixturevalue("dask_client")
        executor = DaskExecutor(client, owns_client=False)
    pipeline = build_sex_pipeline(tmp_path, sky)
    try:
        pipeline.run(executor=executor)
    finally:
        executor.close()
    assert products(pipeline) == serial_reference
    assert pipeline.run_step_idx == len(pipeline.run_steps)

    log = tmp_path / "log"
    events = read_events(str(log))
    group = [s.step_id for s in pipeline.steps if s.group == "detect"]
    worker_pids = set(client.run(os.getpid).values()) if client else {os.getpid()}
    for step_id in group:
        (started,) = starts(events, step_id)
        (finished,) = [
            e for e in events if e["event"] == "step_finished" and e["step_id"] == step_id
        ]
        # The journal says where it ran: this host, a worker process (dask) or a thread.
        assert started["host"] == finished["host"] == HOST
        assert started["worker"] == finished["worker"]
        assert started["pid"] in worker_pids
        if kind == "dask":
            assert started["worker"].startswith("tcp://")
            assert started["pid"] != os.getpid()
        else:
            assert re.fullmatch(
                rf"{re.escape(os.uname().nodename)}/aw-tui-step_\d+", started["worker"]
            )
        # The worker wrote the tool's raw output and the XML log into the run directory.
        out = (log / "steps" / f"{step_id}.out").read_bytes()
        assert b"SExtractor" in out or b"Source Extractor" in out
        assert (log / f"{step_id}.sex.log.xml").is_file()
        assert (log / "steps" / f"{step_id}.result.p").is_file()
        assert json.loads((log / "steps" / f"{step_id}.started").read_text())["attempt"] == 1
    # The group ended before the counting step started.
    kinds = [(e["event"], e.get("step_id")) for e in events]
    assert kinds.index(("group_finished", None)) < kinds.index(("step_started", group[-1] + 1))
    if kind == "dask":
        assert len({e["worker"] for e in starts(events) if e["step_id"] in group}) == 2
        assert not list((log / "steps").glob(".dask-context-*"))  # removed on close


# -- the seed's semantics, with both executors ---------------------------------------------------
def semantics_pipeline(
    tmp_path: Path, side: Path, fail_member: int | None = 1, ignore: bool = False
) -> Pipeline:
    side.mkdir(exist_ok=True)
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, pipeline_name="semantics", create_paths=True)
    for i in range(6):
        tags = ["g", f"m{i}"]
        if i == fail_member:
            pipeline.add_step(
                tf.fail,
                tags,
                ignore_errors=ignore,
                independent=True,
                group="g",
                message=f"m{i} fails",
            )
        elif i == 0:
            pipeline.add_step(
                tf.touch, tags, independent=True, group="g", path=str(side / "0"), seconds=1.0
            )
        else:
            pipeline.add_step(tf.touch, tags, independent=True, group="g", path=str(side / str(i)))
    pipeline.add_step(tf.succeed, ["after"], i=6)
    return pipeline


def runs(side: Path) -> dict[int, int]:
    return {int(p.name): len(p.read_text().splitlines()) for p in side.iterdir()}


def test_error_stops_the_group_after_running_members_and_resume_reruns_only_the_rest(
    executor, tmp_path
):
    side = tmp_path / "side"
    pipeline = semantics_pipeline(tmp_path, side)
    with pytest.raises(PipelineError, match="m1 fails"):
        pipeline.run(executor=executor)
    # m0 was running when m1 failed: it ended with its result; no other member started.
    assert pipeline.steps[0].results == {"status": "success"}
    assert pipeline.steps[1].results["status"] == "error"
    assert all(pipeline.steps[i].results is None for i in range(2, 7))
    assert runs(side) == {0: 1}
    assert pipeline.run_step_idx == 0
    events = read_events(str(tmp_path / "log"))
    finished = {e["step_id"]: e for e in events if e["event"] == "step_finished"}
    failed = next(e for e in events if e["event"] == "run_failed")
    assert finished[0]["seq"] > finished[1]["seq"]  # the run waited for m0
    assert finished[0]["run_step_idx"] == finished[1]["run_step_idx"] == 0
    assert failed["step_id"] == 1
    assert not any(e["event"] == "group_finished" for e in events)

    resumed = load_pipeline(str(tmp_path / "log"))
    assert resumed.run_step_idx == 0 and resumed.completed_step_ids == {0}
    assert resumed.steps[0].results == {"status": "success"}
    resumed.get_step(1).func = tf.succeed
    resumed.run(resume=True, executor=executor)
    assert runs(side) == {0: 1, 2: 1, 3: 1, 4: 1, 5: 1}  # m0 did not run again
    assert [s.results["status"] for s in resumed.steps] == ["success"] * 7
    assert resumed.run_step_idx == 7


def test_results_land_in_each_member_and_run_step_idx_moves_at_the_group_end(executor, tmp_path):
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, pipeline_name="results", create_paths=True)
    for i in range(8):
        pipeline.add_step(tf.succeed, ["g"], independent=True, i=i, twice=2 * i)
    pipeline.add_step(tf.fail, ["g"], ignore_errors=True, independent=True, message="ignored")
    pipeline.add_step(tf.succeed, ["after"], i=99)
    with pytest.warns(PipelineWarning, match="ignored"):
        pipeline.run(executor=executor)
    for i in range(8):
        assert pipeline.steps[i].results["summary"] == {"i": i, "twice": 2 * i}
    assert pipeline.steps[8].results["status"] == "error"
    assert pipeline.steps[9].results["summary"] == {"i": 99}
    events = read_events(str(tmp_path / "log"))
    members = [e for e in events if e["event"] == "step_finished" and e["step_id"] < 9]
    assert len(members) == 9 and {e["run_step_idx"] for e in members} == {0}
    (group,) = [e for e in events if e["event"] == "group_finished"]
    assert group["steps"] == list(range(9)) and group["run_step_idx"] == 9
    assert starts(events, 9)[0]["run_step_idx"] == 9


def test_tags_select_members_as_usual(executor, tmp_path):
    side = tmp_path / "side"
    pipeline = semantics_pipeline(tmp_path, side, fail_member=None)
    pipeline.run(run_tags=["m2", "m4", "m5", "after"], executor=executor)
    assert runs(side) == {2: 1, 4: 1, 5: 1}
    assert [s.step_id for s in pipeline.run_steps] == [2, 4, 5, 6]
    (group,) = [e for e in read_events(str(tmp_path / "log")) if e["event"] == "group_finished"]
    assert group["steps"] == [2, 4, 5]
    assert pipeline.steps[0].results is None and pipeline.steps[6].results is not None


def test_dask_tasks_carry_a_light_pipeline(dask_client, tmp_path):
    """A 10,000-step pipeline: each task carries a few hundred bytes, not the pipeline."""
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, pipeline_name="big", create_paths=True)
    for i in range(10_000):
        pipeline.add_step(
            tf.succeed,
            ["big"],
            independent=True,
            files={"image": f"/data/exp{i:05d}.fits", "wtmap": f"w{i}.fits"},
        )
    for step in pipeline.steps[:3]:
        step.results = {"status": "success", "catalog": f"/cat/{step.step_id}.ldac"}
    light = light_pipeline(pipeline)
    assert [s.step_id for s in light.steps] == [0, 1, 2]
    assert light.run_steps == [] and light.run_store is None and light.paths == pipeline.paths
    assert len(pipeline.steps) == 10_000  # the original is untouched

    executor = DaskExecutor(dask_client, owns_client=False)
    step = pipeline.steps[5000]
    call = StepCall(pipeline=pipeline, step=step, log_dir=str(tmp_path / "log"))
    (tmp_path / "log" / "steps").mkdir(parents=True)
    future = executor.submit(call)
    assert executor.wait_any([future], timeout=60) == [future]
    outcome = executor.outcome(future, step)
    executor.close()
    assert outcome.error is None and outcome.result["summary"] == {}
    assert outcome.worker.startswith("tcp://") and outcome.host == HOST
    assert executor.last_payload_size < 2000
    assert executor.last_context_size < 20_000


def test_dask_executor_on_a_running_scheduler(dask_client, tmp_path):
    address = dask_client.scheduler.address
    executor = DaskExecutor.from_config({"kind": "dask", "address": address, "capacity": 3})
    assert executor.label == f"dask {address}" and executor.capacity == 3
    paths = {"temp": str(tmp_path / "temp"), "log": str(tmp_path / "log")}
    pipeline = Pipeline(paths, pipeline_name="address", create_paths=True)
    for i in range(4):
        pipeline.add_step(tf.succeed, ["g"], independent=True, i=i)
    try:
        pipeline.run(executor=executor)
    finally:
        executor.close()
    assert [s.results["summary"]["i"] for s in pipeline.steps] == [0, 1, 2, 3]
    (run,) = [e for e in read_events(str(tmp_path / "log")) if e["event"] == "run_started"]
    assert run["executor"] == f"dask {address}"
    assert len(dask_client.nthreads()) == 2  # closing the executor left the cluster alone


def test_dask_config_errors_are_reported_before_anything_starts():
    with pytest.raises(ValueError, match="unknown key"):
        DaskExecutor.from_config({"kind": "dask", "clusterr": "local"})
    with pytest.raises(ValueError, match="needs jobs = N"):
        DaskExecutor.from_config(
            {"kind": "dask", "cluster": "slurm", "cluster_options": {"cores": 4, "memory": "8GB"}}
        )
    with pytest.raises(ValueError, match=r"cluster_options\]"):
        DaskExecutor.from_config({"kind": "dask", "cluster": {"queue": "short"}})
    with pytest.raises(ValueError, match="only apply to cluster = 'local'"):
        DaskExecutor.from_config({"kind": "dask", "cluster": "pbs", "workers": 3, "jobs": 1})
    with pytest.raises(ValueError, match="not known"):
        DaskExecutor.from_config({"kind": "dask", "cluster": "slurmm", "jobs": 1})
    with pytest.raises(ValueError, match="cannot go with address"):
        DaskExecutor.from_config({"kind": "dask", "address": "tcp://x:1", "jobs": 2})
    with pytest.raises(ValueError, match="not both"):
        DaskExecutor.from_config(
            {"kind": "dask", "cluster": "local", "jobs": 2, "adapt": {"maximum": 3}}
        )


# -- a worker killed in the middle of a step -------------------------------------------------------
class WorkerKiller(threading.Thread):
    """Waits until the step prints, then SIGKILLs the Dask worker process running it."""

    def __init__(self, client, log: Path, step_id: int, lines: int = 3) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.marker = log / "steps" / f"{step_id}.started"
        self.out = log / "steps" / f"{step_id}.out"
        self.lines = lines
        self.pid: int | None = None
        self.lines_at_kill = 0
        self.error: BaseException | None = None

    def _printed(self) -> int:
        try:
            return self.out.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def run(self) -> None:
        try:
            wait_for(lambda: self._printed() >= self.lines, 60, "the slow step's output")
            marker = json.loads(self.marker.read_text())
            address = marker["worker"].split()[0]
            pids = self.client.run(os.getpid)
            self.pid = pids[address]
            assert self.pid == marker["pid"]
            self.lines_at_kill = self._printed()
            os.kill(self.pid, signal.SIGKILL)
        except BaseException as exc:  # reported by the test
            self.error = exc


def slow_output_is_one_clean_attempt(log: Path, step_id: int) -> None:
    lines = (log / "steps" / f"{step_id}.out").read_text().splitlines()
    assert lines == [f"> line {i}" for i in range(SLOW_LINES)]


@pytest.mark.tools
def test_killed_worker_mid_step_is_rescheduled_with_nothing_lost(sky, serial_reference, tmp_path):
    cluster, client = start_cluster()  # Dask's default: a step survives 3 worker deaths
    executor = DaskExecutor(client, owns_client=False)
    pipeline = build_sex_pipeline(tmp_path, sky, slow=True)
    log = tmp_path / "log"
    killer = WorkerKiller(client, log, step_id=0)
    killer.start()
    try:
        with pytest.warns(PipelineWarning, match="started again"):
            pipeline.run(executor=executor)
        killer.join(30)
        assert killer.error is None, killer.error
    finally:
        executor.close()
        client.close()
        cluster.close()
    assert 3 <= killer.lines_at_kill < SLOW_LINES
    assert products(pipeline) == {-1: {"status": "success"}, **serial_reference}
    events = read_events(str(log))
    first, second = starts(events, 0)
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert first["pid"] == killer.pid != second["pid"]
    assert any(e["event"] == "warning" and "started again" in e["message"] for e in events)
    # The new attempt started a fresh output file: one complete run of the tool.
    slow_output_is_one_clean_attempt(log, 0)
    for step in pipeline.steps[1:]:
        assert len(starts(events, step.step_id)) == 1


@pytest.mark.tools
def test_worker_lost_step_is_interrupted_and_resume_finishes_it(sky, serial_reference, tmp_path):
    executor = DaskExecutor.from_config(
        {
            "kind": "dask",
            "cluster": "local",
            "workers": 2,
            "threads_per_worker": 1,
            "allowed_failures": 0,
        }
    )
    try:
        assert executor.capacity == 2 and executor.label.startswith("dask LocalCluster tls://127.0.0.1:")
        pipeline = build_sex_pipeline(tmp_path, sky, slow=True)
        log = tmp_path / "log"
        killer = WorkerKiller(executor.client, log, step_id=0)
        killer.start()
        with pytest.raises(PipelineError, match="worker lost"):
            pipeline.run(executor=executor)
        killer.join(30)
        assert killer.error is None, killer.error

        events = read_events(str(log))
        (lost,) = [e for e in events if e["event"] == "step_interrupted"]
        assert lost["step_id"] == 0 and lost["reason"] == "worker lost"
        assert "KilledWorker" in lost["error_msg"]
        assert not any(e["event"] == "step_finished" and e["step_id"] == 0 for e in events)
        done = {e["step_id"] for e in events if e["event"] == "step_finished"}
        assert done and all(pipeline.get_step(i).results["status"] == "success" for i in done)

        # The checkpoint and the journal keep every finished member; resume runs the rest.
        resumed = load_pipeline(str(log))
        assert resumed.run_step_idx == 0 and resumed.completed_step_ids == done
        resumed.run(resume=True, executor=executor)
    finally:
        executor.close()
    assert products(resumed) == {-1: {"status": "success"}, **serial_reference}
    events = read_events(str(log))
    for step in resumed.steps:
        expected = 2 if step.step_id == 0 else 1  # finished members never ran again
        assert len(starts(events, step.step_id)) == expected, step
    slow_output_is_one_clean_attempt(log, 0)


# -- aw-tui --batch ------------------------------------------------------------------------------------
PROJECT = """
[pipeline]
name = "batch-parallel"
create_paths = true

[paths]
temp = "work/temp"
log = "work/log"
catalogs = "work/catalogs"
config = "{config}"

[inputs.exposures]
glob = "images/2064*.fits"
exclude = ["*.wtmap.fits", "*.dqmask.fits"]
required = ["wtmap", "dqmask"]

[inputs.exposures.fields]
wtmap = "{{item.image|parent}}/{{item.image|stem}}.wtmap.fits"
dqmask = "{{item.image|parent}}/{{item.image|stem}}.dqmask.fits"
{executor}
[[steps]]
name = "detect"
func = "sextractor"
foreach = "exposures"
tags = ["detect"]

[steps.kwargs]
files = "{{item}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.sex"

[steps.kwargs.api_kwargs.config]
CATALOG_NAME = "{{paths.catalogs}}/{{item.image|stem}}.ldac.fits"
CATALOG_TYPE = "FITS_LDAC"
PARAMETERS_NAME = "{{paths.config}}/default.param"
FILTER = false
"""


DASK_LOCAL_2 = (
    '\n[executor]\nkind = "dask"\ncluster = "local"\nworkers = 2\nthreads_per_worker = 1\n'
)
"""An ``[executor]`` table: a LocalCluster of two one-thread workers."""


def batch_project(tmp_path: Path, sky, executor: str = "") -> Path:
    images = tmp_path / "images"
    images.mkdir()
    for exposure in sky.exposures:
        for path in exposure.values():
            shutil.copy(path, images)
    project = tmp_path / "project.toml"
    project.write_text(PROJECT.format(config=CONFIG, executor=executor))
    return project


def run_batch_command(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aw_tui", *argv, "--batch"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.tools
def test_batch_jobs_lines_say_where_steps_ran(sky, tmp_path):
    require_tool("sextractor")
    project = batch_project(tmp_path, sky)
    proc = run_batch_command(str(project), "--jobs", "4")
    assert proc.returncode == 0, proc.stderr
    started = re.findall(r"^\[(\d+)/(\d+)\] detect started on (\S+)$", proc.stdout, re.M)
    assert sorted(int(i) for i, _, _ in started) == list(range(1, N_EXPOSURES + 1))
    workers = {w for _, _, w in started}
    assert all(
        re.fullmatch(rf"{re.escape(os.uname().nodename)}/aw-tui-step_[0-3]", w) for w in workers
    ), workers
    assert len(workers) > 1
    assert len(re.findall(r"^\[\d+/\d+\] detect ok ", proc.stdout, re.M)) == N_EXPOSURES


@pytest.mark.tools
def test_batch_with_a_dask_executor_table(sky, tmp_path):
    require_tool("sextractor")
    project = batch_project(tmp_path, sky, DASK_LOCAL_2)
    proc = run_batch_command(str(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    started = re.findall(
        r"^\[\d+/\d+\] detect started on (tls://127\.0\.0\.1:\S+) \((\d+)\)$", proc.stdout, re.M
    )
    assert len(started) == N_EXPOSURES, proc.stdout
    assert {name for _, name in started} <= {"0", "1"}
    events = read_events(str(tmp_path / "work" / "log"))
    (run,) = [e for e in events if e["event"] == "run_started"]
    assert run["executor"].startswith("dask LocalCluster tls://127.0.0.1:")
    assert all(e["host"] == HOST for e in starts(events))


@pytest.mark.tools
def test_verbose_batch_echoes_the_output_of_steps_run_on_dask_workers(sky, tmp_path):
    require_tool("sextractor")
    project = batch_project(tmp_path, sky, DASK_LOCAL_2)
    proc = run_batch_command(str(project), "--verbose")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # each worker's SExtractor output reaches the runner's stdout, as with serial steps
    assert proc.stdout.count("> All done") == N_EXPOSURES, proc.stdout
    assert proc.stdout.count("----- Source Extractor") == N_EXPOSURES


# -- the Slurm sample project --------------------------------------------------------------------------
def test_slurm_dask_sample_project_checks_and_renders_its_job(tmp_path):
    sample = REPO / "sample_configs" / "slurm-dask"
    assert (sample / "README.md").is_file()
    shutil.copy(sample / "project.toml", tmp_path)
    shutil.copytree(CONFIG, tmp_path / "config")
    images = tmp_path / "images"
    images.mkdir()
    for name in ("exp1", "exp2", "exp3"):
        for suffix in ("", ".wtmap", ".dqmask"):
            (images / f"{name}{suffix}.fits").write_bytes(b"")
    project = load_project(tmp_path / "project.toml", check_files=True)
    assert len(project.steps) == 3
    assert all(step.independent for step in project.steps)
    from aw_tui.cli.main import main

    assert main(["check", str(tmp_path / "project.toml")]) == 0

    config = project.executor_config
    assert config["kind"] == "dask" and config["cluster"] == "slurm"
    cluster, plan = build_cluster(config)  # makes the scheduler; submits no job
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert plan["adapt"] == {"minimum": 0, "maximum": 20} and plan["threads"] == 8
    for line in (
        "#SBATCH -A myproject",
        "#SBATCH -p normal",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH -t 04:00:00",
        "module load astromatic",
        "--nthreads 8",
    ):
        assert line in script, script

    (images / "exp2.dqmask.fits").unlink()
    with pytest.raises(ProjectError, match="dqmask"):
        load_project(tmp_path / "project.toml", check_files=True)
