"""The Dask clusters aw-tui starts are closed to other users (issue 11, item 4).

A local cluster binds 127.0.0.1 and speaks TLS with a certificate made for the run: a plain
client, or a TLS client with another certificate, cannot connect to its scheduler, and the
steps still run. Batch-job clusters get TLS too; ``tls = false`` turns it off with a
warning; the dashboard binds 127.0.0.1 and the printed link is where it listens.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_jobqueue")
pytest.importorskip("cryptography")

from distributed.security import Security  # noqa: E402

from aw_tui import testing_funcs as tf  # noqa: E402
from aw_tui.engine.dask_cluster import DaskExecutor, build_cluster  # noqa: E402
from aw_tui.engine.dask_security import dashboard_address, dashboard_link  # noqa: E402
from aw_tui.pipeline import Pipeline  # noqa: E402

LOCAL = {"kind": "dask", "cluster": "local", "workers": 1, "threads_per_worker": 1}


def _cannot_connect(address: str, **kwargs) -> str:
    """Why a client cannot connect to ``address`` (fails the test if it can)."""
    try:
        client = distributed.Client(address, timeout=3, **kwargs)
    except Exception as exc:  # refused: what the test wants
        return f"{type(exc).__name__}: {exc}"
    client.close()
    raise AssertionError(f"a client connected to {address} with {kwargs or 'no security'}")


def test_a_plain_client_cannot_use_the_scheduler_of_a_runs_local_cluster(tmp_path: Path):
    executor = DaskExecutor.from_config(dict(LOCAL))
    try:
        address = executor.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:"), address
        plain = address.replace("tls://", "tcp://")
        _cannot_connect(plain)
        _cannot_connect(address, security=Security.temporary())  # someone else's certificate
        # The workers also listen only on the loopback interface, with TLS.
        workers = list(executor.workers())
        assert workers and all(w.startswith("tls://127.0.0.1:") for w in workers)
        # ... and the steps still run on it.
        pipeline = Pipeline({"log": str(tmp_path / "log"), "temp": str(tmp_path / "t")},
                            create_paths=True)
        for i in range(3):
            pipeline.add_step(tf.touch, ["g"], independent=True, path=str(tmp_path / f"{i}"))
        assert pipeline.run(executor=executor)["status"] == "success"
        assert all((tmp_path / f"{i}").is_file() for i in range(3))
    finally:
        executor.close()


def test_tls_false_is_plain_loopback_with_a_warning(capsys):
    executor = DaskExecutor.from_config({**LOCAL, "tls": False})
    try:
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
    finally:
        executor.close()
    err = capsys.readouterr().err
    assert "tls = false" in err and "run code as you" in err


def test_tls_must_be_a_boolean():
    with pytest.raises(ValueError, match=r"tls = 'no'"):
        build_cluster({**LOCAL, "tls": "no"})


@pytest.mark.parametrize(
    ("value", "address"),
    [
        (None, None),
        (False, None),
        (True, "127.0.0.1:8787"),
        (8790, "127.0.0.1:8790"),
        (":8787", "127.0.0.1:8787"),
        ("8787", "127.0.0.1:8787"),
        ("0.0.0.0:8787", "0.0.0.0:8787"),
    ],
)
def test_the_dashboard_binds_loopback_unless_a_host_is_given(value, address):
    assert dashboard_address(value) == address


def test_a_bad_dashboard_value_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[executor\] dashboard"):
        dashboard_address("here")


def test_the_dashboard_link_has_the_port_the_scheduler_really_serves():
    class FakeClient:
        def scheduler_info(self):
            return {"services": {"dashboard": 41234}}

    assert dashboard_link(FakeClient(), "127.0.0.1:0") == "http://127.0.0.1:41234/status"
    assert dashboard_link(FakeClient(), "10.1.2.3:8787") == "http://10.1.2.3:41234/status"


def test_a_local_cluster_with_a_dashboard_binds_it_to_loopback(capsys):
    pytest.importorskip("bokeh")
    executor = DaskExecutor.from_config({**LOCAL, "dashboard": ":0"})
    try:
        link = executor.dashboard_link
        assert link and link.startswith("http://127.0.0.1:")
        assert f"Dask dashboard at {link}" in capsys.readouterr().err
    finally:
        executor.close()


def test_a_batch_job_cluster_gets_tls_and_private_certificate_files(tmp_path: Path):
    config = {
        "kind": "dask",
        "cluster": "slurm",
        "jobs": 1,
        "cluster_options": {"cores": 2, "memory": "4GB",
                            "shared_temp_directory": str(tmp_path)},
    }
    cluster, _plan = build_cluster(config)  # makes the scheduler; submits no job
    try:
        assert cluster.scheduler_address.startswith("tls://")
        script = cluster.job_script()
        _cannot_connect(cluster.scheduler_address.replace("tls://", "tcp://"))
        files = sorted(tmp_path.glob(".dask-jobqueue.worker.*"))
        assert files, "no certificate files for the workers"
        for path in files:
            assert str(path) in script
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "--protocol tls://" in script or "tls://" in script
    finally:
        cluster.close()
