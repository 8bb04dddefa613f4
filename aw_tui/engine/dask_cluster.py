"""Run groups of independent steps on a Dask cluster: ``[executor] kind = "dask"``.

The only module of aw-tui that imports Dask (``pip install 'aw-tui[dask]'``). A
:class:`DaskExecutor` implements :class:`aw_tui.engine.executors.Executor`; the
engine keeps the seed's semantics on top of it. Three ways to get workers, from the
``[executor]`` table of a project (see :meth:`DaskExecutor.from_config`)::

    [executor]                      # 1. a scheduler that is already running
    kind = "dask"
    address = "tcp://10.0.0.5:8786"   # or scheduler_file = "/scratch/me/scheduler.json"

    [executor]                      # 2. worker processes on this machine
    kind = "dask"
    cluster = "local"
    workers = 4
    threads_per_worker = 1

    [executor]                      # 3. batch jobs: slurm, pbs, sge, lsf, htcondor
    kind = "dask"
    cluster = "slurm"
    jobs = 10                         # or adapt = { minimum = 0, maximum = 20 }  (jobs)
    [executor.cluster_options]        # dask-jobqueue's arguments
    cores = 8
    memory = "16GB"
    walltime = "02:00:00"
    queue = "normal"
    account = "astro"

What travels to the workers
---------------------------
Each step is sent as a :class:`~aw_tui.engine.call.StepCall` pickled with cloudpickle (a few
hundred bytes to a few kB: the step's function, usually a :class:`~aw_tui.project.funcref.FuncRef`
or a module function, and its kwargs, without its old results). The pipeline the step
function receives is a light copy (see :func:`light_pipeline`): its ``paths``,
``build_paths``, name and other attributes, and in ``steps`` only the steps that already
have ``results`` (a SWarp step finds SCAMP's headers there); ``run_steps`` is empty and
there is no run store. It is written once per group to the run directory
(``steps/.dask-context-<hex>.tmp``, removed when the group's executor moves on or closes)
and each worker process reads it once; tasks have no Dask dependencies, so the scheduler
hands each step to the next free worker thread.

The step's raw tool output is appended to ``<log>/steps/<id>.out`` by the worker itself, and
the worker writes ``<log>/steps/<id>.started`` (host, pid, worker, time, attempt): the run
directory must be on a file system the workers share with the runner.

Workers that die
----------------
When a worker dies while running a step (killed, out of memory, its batch job reached its
walltime), Dask runs the step again on another worker, up to ``allowed_failures`` times
(Dask's default: 3); the journal shows each new start (``attempt``) with a warning, and the
new attempt starts a fresh ``steps/<id>.out``. Past that, or when the scheduler itself is
lost, the outcome is marked lost: the engine journals the step as interrupted (``worker
lost``), keeps every other step's result and the checkpoint, and ``resume`` runs it again.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import sys
import threading
import time
import uuid
from concurrent.futures import CancelledError
from typing import Any

import cloudpickle
import dask
import distributed
from distributed.client import FutureCancelledError

from aw_tui.base import process
from aw_tui.base.atomic import atomic_write_bytes
from aw_tui.engine.call import WORKER_LOST, StepCall, StepOutcome
from aw_tui.engine.dask_security import (
    LOOPBACK,
    cluster_security,
    dashboard_address,
    dashboard_link,
)
from aw_tui.engine.errors import format_exception
from aw_tui.engine.output_echo import OutputEcho
from aw_tui.engine.steps import StepList
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.trust import load_trusted

__all__ = ["JOBQUEUE_CLUSTERS", "DaskExecutor", "build_cluster", "light_pipeline"]

#: ``cluster = ...`` names of the dask-jobqueue cluster classes.
JOBQUEUE_CLUSTERS = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}
#: Keys of ``[executor]`` that :meth:`DaskExecutor.from_config` reads.
CONFIG_KEYS = (
    "kind",
    "address",
    "scheduler_file",
    "cluster",
    "workers",
    "threads_per_worker",
    "jobs",
    "scale",
    "adapt",
    "cluster_options",
    "allowed_failures",
    "capacity",
    "dashboard",
    "wait_for_workers",
    "tls",
)

# Exceptions of ``future.result()`` that mean the step's worker or the scheduler was lost
# (a StepCall turns every exception of the step itself into an outcome).
_LOST_ERRORS: tuple[type[BaseException], ...] = (
    distributed.KilledWorker,
    FutureCancelledError,
    OSError,  # CommClosedError and friends
    TimeoutError,
    CancelledError,
)


def _fail(message: str, hint: str = "") -> ValueError:
    return ValueError(f"[executor] {message}" + (f"; {hint}" if hint else ""))


def _int(config: dict[str, Any], key: str, minimum: int = 0) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{key} = {value!r}: give a whole number of at least {minimum}")
    return value


def light_pipeline(pipeline: Any) -> Any:
    """A shallow copy of ``pipeline`` that is cheap to send to a worker.

    It keeps every attribute except: ``steps`` holds only the steps that have ``results``
    (what earlier steps produced, e.g. SCAMP headers for SWarp), ``run_steps`` is empty,
    ``completed_step_ids`` is empty and there is no run store. Nothing of ``pipeline`` changes.
    """
    light = copy.copy(pipeline)
    light.steps = StepList(step for step in pipeline.steps if step.results is not None)
    light.run_steps = []
    light.completed_step_ids = set()
    light.run_store = None
    return light


# Worker side: the light pipelines of the last groups, by context file.
_CONTEXTS: dict[str, Any] = {}
_CONTEXTS_LOCK = threading.Lock()


def _load_context(ref: tuple[str, Any]) -> Any:
    """The group's light pipeline: ``("file", path)`` read once per worker, or ``("bytes", b)``."""
    kind, value = ref
    if kind == "bytes":
        return cloudpickle.loads(value)
    with _CONTEXTS_LOCK:
        found = _CONTEXTS.get(value)
        if found is None:
            found = load_trusted(value, "Dask context")
            while len(_CONTEXTS) >= 2:
                _CONTEXTS.pop(next(iter(_CONTEXTS)))
            _CONTEXTS[value] = found
    return found


def _worker_label() -> tuple[str | None, str | None]:
    """(label, address) of the Dask worker running this task."""
    try:
        worker = distributed.get_worker()
    except ValueError:
        return None, None
    name, address = worker.name, worker.address
    if name is None or str(name) == address:
        return address, address
    return f"{address} ({name})", address


def _run_on_worker(payload: bytes, context: tuple[str, Any]) -> StepOutcome:
    """Run one pickled StepCall on a worker with the group's light pipeline."""
    call: StepCall = cloudpickle.loads(payload)
    call.pipeline = _load_context(context)
    call.worker, _ = _worker_label()
    outcome = call()
    if outcome.error is not None:
        try:
            cloudpickle.dumps(outcome.error)
        except Exception:
            # Send back what can travel; the traceback text is already there.
            outcome.error = RuntimeError(f"{type(outcome.error).__name__}: {outcome.error}")
    return outcome


def _unsendable(step_id: int, message: str) -> StepOutcome:
    return StepOutcome(step_id, error=RuntimeError(message), traceback=message)


def _terminate_tools() -> int:
    """End the tools this worker process runs (a run stopping now)."""
    return process.terminate_all()


def build_cluster(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Make (but do not scale) the cluster an ``[executor]`` table describes.

    Returns
    -------
    cluster, plan
        The Dask cluster object and ``plan``: ``kind`` (``local`` or the jobqueue name),
        ``jobs`` (scale to that many jobs / workers) or ``adapt`` (``minimum``,
        ``maximum``), and ``threads`` (worker threads of one job or worker).
    """
    name = config.get("cluster", "local")
    if not isinstance(name, str):
        raise _fail(
            f"cluster must be a name, got {type(name).__name__}",
            'write cluster = "slurm" (or "local", "pbs" ...) and put the settings of the '
            "cluster in [executor.cluster_options]",
        )
    options = config.get("cluster_options") or {}
    if not isinstance(options, dict):
        raise _fail("cluster_options must be a table", "write [executor.cluster_options]")
    options = dict(options)
    dashboard = dashboard_address(config.get("dashboard"))
    allowed_failures = _int(config, "allowed_failures")
    adapt = config.get("adapt")
    if adapt is not None and not isinstance(adapt, dict):
        raise _fail("adapt must be a table", "write adapt = { minimum = 0, maximum = 10 }")
    jobs = _int(config, "jobs", 1)
    scale = _int(config, "scale", 1)
    if jobs is not None and scale is not None and jobs != scale:
        raise _fail(f"jobs = {jobs} and scale = {scale} disagree", "give one of them")
    count = jobs if jobs is not None else scale
    if adapt is not None and count is not None:
        raise _fail("give either jobs/scale (a fixed number) or adapt, not both")
    plan: dict[str, Any] = {"kind": name, "jobs": count, "adapt": None, "dashboard": dashboard}
    if adapt is not None:
        unknown = sorted(set(adapt) - {"minimum", "maximum"})
        if unknown:
            raise _fail(f"adapt has unknown keys {unknown}", "use minimum and maximum")
        low = _int(adapt, "minimum", 0) or 0
        high = _int(adapt, "maximum", 1)
        if high is None or high < low:
            raise _fail("adapt needs maximum >= minimum (numbers of jobs or workers)")
        plan["adapt"] = {"minimum": low, "maximum": high}
    if name == "local":
        workers = _int(config, "workers", 1) or count or os.cpu_count() or 1
        threads = _int(config, "threads_per_worker", 1) or 1
        if adapt is None:
            plan["jobs"] = workers
        plan["threads"] = threads
        scheduler_kwargs = dict(options.pop("scheduler_kwargs", None) or {})
        if allowed_failures is not None:
            scheduler_kwargs["allowed_failures"] = allowed_failures
        # The scheduler always serves HTTP (health, metrics): on a free port unless asked.
        scheduler_kwargs.setdefault("dashboard_address", dashboard or f"{LOOPBACK}:0")
        # Closed to everybody but this run (engine/dask_security.py): loopback and TLS.
        options.setdefault("host", LOOPBACK)
        if "security" not in options:
            security = cluster_security(config, "local Dask cluster")
            if security is not None:
                options["security"] = security
                options.setdefault("protocol", "tls://")
        try:
            cluster = distributed.LocalCluster(
                n_workers=0 if adapt is not None else workers,
                threads_per_worker=threads,
                processes=options.pop("processes", True),
                dashboard_address=dashboard,
                scheduler_kwargs=scheduler_kwargs or None,
                **options,
            )
        except TypeError as exc:
            raise _fail(f"cluster_options: {exc}", "see LocalCluster's documentation") from None
        except (RuntimeError, OSError) as exc:
            raise _fail(f"cannot start a Dask LocalCluster: {exc}") from None
        return cluster, plan
    if name not in JOBQUEUE_CLUSTERS:
        raise _fail(
            f"cluster = {name!r} is not known",
            "use 'local' or one of "
            + ", ".join(repr(n) for n in JOBQUEUE_CLUSTERS)
            + ' (or address = "tcp://host:8786" for a running scheduler)',
        )
    misplaced = [key for key in ("workers", "threads_per_worker") if key in config]
    if misplaced:
        raise _fail(
            f"{', '.join(misplaced)} only apply to cluster = 'local'",
            "a batch-job cluster has jobs = N (or adapt) and cluster_options.cores threads per job",
        )
    if adapt is None and count is None:
        raise _fail(
            f"cluster = {name!r} needs jobs = N (batch jobs to submit) or "
            "adapt = { minimum = 0, maximum = N }",
            "without them no job is ever submitted and no step would run",
        )
    cores = options.get("cores")
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise _fail(f"cluster_options.cores = {cores!r}", "give the cores of one job, e.g. 8")
    if not options.get("memory"):
        raise _fail("cluster_options.memory is missing", 'give the memory of one job, "16GB"')
    try:
        import dask_jobqueue  # lazy: only jobqueue clusters need it
    except ImportError as exc:
        raise ImportError(
            f"[executor] cluster = {name!r} needs dask-jobqueue: pip install 'aw-tui[dask]' ({exc})"
        ) from None
    cls = getattr(dask_jobqueue, JOBQUEUE_CLUSTERS[name])
    scheduler_options = dict(options.pop("scheduler_options", None) or {})
    if allowed_failures is not None:
        scheduler_options["allowed_failures"] = allowed_failures
    plan["threads"] = cores
    if "security" not in options:
        # TLS with this run's certificate; the workers' copy goes to files (mode 0600) in
        # shared_temp_directory, which the compute nodes must see (engine/dask_security.py).
        security = cluster_security(config, f"{cls.__name__} (batch jobs)")
        if security is not None:
            options["security"] = security
            options.setdefault("shared_temp_directory", dask.config.get(
                f"jobqueue.{name}.shared_temp_directory", None) or "~")
    try:
        scheduler_options.setdefault("dashboard_address", dashboard or f"{LOOPBACK}:0")
        cluster = cls(scheduler_options=scheduler_options, **options)
    except TypeError as exc:
        raise _fail(f"cluster_options: {exc}", f"see the {cls.__name__} documentation") from None
    except (RuntimeError, OSError) as exc:
        raise _fail(f"cannot start the Dask scheduler of {cls.__name__}: {exc}") from None
    return cluster, plan


class DaskExecutor:
    """Run independent steps on the workers of a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
        Connected to the scheduler.
    cluster : optional
        The cluster this executor started; closed by :meth:`close`.
    capacity : int, optional
        How many steps the engine keeps in flight; default: the workers' threads now
        (at least 1).
    label : str, optional
        Shown in the journal and the TUI (default ``dask <scheduler address>``).
    owns_client : bool
        Close ``client`` in :meth:`close`.
    """

    def __init__(
        self,
        client: Any,
        cluster: Any = None,
        capacity: int | None = None,
        label: str | None = None,
        owns_client: bool = True,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self._capacity = capacity
        self.label = label or f"dask {client.scheduler.address}"
        self.owns_client = owns_client
        self.last_payload_size = 0
        self.last_context_size = 0
        self._context: tuple[str, Any] | None = None
        self._context_for: tuple[Any, Any, int] | None = None
        self._last_terminate = 0.0
        self._echo: OutputEcho | None = None
        #: The URL of the dashboard of the cluster this executor started, when asked for.
        self.dashboard_link: str | None = None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DaskExecutor:
        """An executor from a project's ``[executor]`` table (``kind = "dask"``).

        Keys: ``address`` (``tcp://host:8786``) or ``scheduler_file`` for a running
        scheduler; or ``cluster`` = ``local`` (``workers``, ``threads_per_worker``, worker
        processes) or a dask-jobqueue kind (``slurm``, ``pbs``, ``sge``, ``lsf``,
        ``htcondor``) with ``[executor.cluster_options]`` (the cluster class's arguments:
        ``cores``, ``memory``, ``walltime``, ``queue``, ``account``,
        ``job_extra_directives``, ``job_script_prologue`` ...) and ``jobs`` (or ``scale``)
        to submit that many jobs, or ``adapt = {minimum, maximum}`` (jobs). Also
        ``allowed_failures`` (worker deaths a step survives before it is lost, set on the
        scheduler this executor starts), ``capacity`` (steps in flight), ``dashboard``
        (``true``, a port or ``"host:port"``; binds 127.0.0.1 unless a host is given; off by
        default), ``tls`` (default true: the cluster this executor starts uses TLS with a
        temporary certificate, see :mod:`aw_tui.engine.dask_security`) and
        ``wait_for_workers`` (seconds to wait for the first worker, default 0).

        Raises
        ------
        ValueError
            For unknown keys or bad values, with a hint.
        """
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise _fail(
                f"unknown key(s) {', '.join(unknown)} for kind = 'dask'",
                "known: " + ", ".join(CONFIG_KEYS[1:]),
            )
        capacity = _int(config, "capacity", 1)
        wait = config.get("wait_for_workers", 0)
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
            raise _fail(f"wait_for_workers = {wait!r}: give seconds (0: do not wait)")
        address = config.get("address")
        scheduler_file = config.get("scheduler_file")
        if address is not None or scheduler_file is not None:
            clash = [
                k
                for k in (
                    "cluster",
                    "workers",
                    "jobs",
                    "scale",
                    "adapt",
                    "cluster_options",
                    "allowed_failures",
                )
                if k in config
            ]
            if clash:
                raise _fail(
                    f"{', '.join(clash)} cannot go with address/scheduler_file",
                    "the running scheduler has its own workers and settings "
                    "(allowed_failures: dask config distributed.scheduler.allowed-failures "
                    "where the scheduler starts)",
                )
            if address is not None and scheduler_file is not None:
                raise _fail("give address or scheduler_file, not both")
            if address is not None and not isinstance(address, str):
                raise _fail(f"address = {address!r}", 'write address = "tcp://host:8786"')
            try:
                if address is not None:
                    client = distributed.Client(address)
                else:
                    client = distributed.Client(
                        scheduler_file=os.path.expanduser(str(scheduler_file))
                    )
            except (OSError, TimeoutError) as exc:
                where = address or scheduler_file
                raise _fail(
                    f"cannot reach the Dask scheduler {where}: {exc}",
                    "is it running, and reachable from this host?",
                ) from None
            executor = cls(client, capacity=capacity, label=f"dask {client.scheduler.address}")
        else:
            cluster, plan = build_cluster(config)
            try:
                if plan["adapt"] is not None:
                    if plan["kind"] == "local":
                        cluster.adapt(**plan["adapt"])
                    else:
                        cluster.adapt(
                            minimum_jobs=plan["adapt"]["minimum"],
                            maximum_jobs=plan["adapt"]["maximum"],
                        )
                    planned = plan["adapt"]["maximum"] * plan["threads"]
                elif plan["kind"] == "local":
                    planned = plan["jobs"] * plan["threads"]
                else:
                    cluster.scale(jobs=plan["jobs"])
                    planned = plan["jobs"] * plan["threads"]
                client = distributed.Client(cluster)
            except BaseException:
                with contextlib.suppress(Exception):
                    cluster.close()
                raise
            kind = type(cluster).__name__
            executor = cls(
                client,
                cluster=cluster,
                capacity=capacity or planned,
                label=f"dask {kind} {client.scheduler.address}",
            )
            if plan["dashboard"]:
                link = dashboard_link(client, plan["dashboard"])
                executor.dashboard_link = link
                print(f"aw-tui: Dask dashboard at {link}", file=sys.stderr)
        if wait:
            try:
                executor.client.wait_for_workers(1, timeout=float(wait))
            except (TimeoutError, OSError) as exc:
                executor.close()
                raise _fail(f"no Dask worker joined within {wait} s ({exc})") from None
        return executor

    # -- the executor interface -------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """How many steps to keep in flight: as set, else the worker threads now (>= 1)."""
        if self._capacity:
            return self._capacity
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def workers(self) -> dict[str, int]:
        """Address -> threads of the workers connected now."""
        return dict(self.client.nthreads())

    def _group_context(self, pipeline: Any, log_dir: str | None) -> tuple[str, Any]:
        """How tasks of the current group get the light pipeline (made once per group).

        With a run directory, a file there that each worker process reads once
        (``steps/.dask-context-<hex>.tmp``: a runner taking the lock later removes any left
        by a killed one); without, the pickled bytes go with every task.
        """
        stamp = (pipeline, pipeline.run_steps, pipeline.run_step_idx)
        known = self._context_for
        if (
            self._context is not None
            and known is not None
            and known[0] is stamp[0]
            and known[1] is stamp[1]
            and known[2] == stamp[2]
        ):
            return self._context
        self._drop_context()
        payload = cloudpickle.dumps(light_pipeline(pipeline))
        if log_dir:
            path = RunLayout(log_dir).new_dask_context()
            atomic_write_bytes(path, payload, fsync=False)
            self._context = ("file", path)
        else:
            self._context = ("bytes", payload)
        self.last_context_size = len(payload)
        self._context_for = stamp
        return self._context

    def _drop_context(self) -> None:
        if self._context is not None and self._context[0] == "file":
            with contextlib.suppress(OSError):
                os.unlink(self._context[1])
        self._context = None
        self._context_for = None

    def submit(self, call: StepCall) -> Any:
        """Send ``call`` to the cluster; return its Dask future."""
        step = copy.copy(call.step)
        step.results = None
        remote = dataclasses.replace(call, pipeline=None, step=step, listeners=[], worker=None)
        key = f"aw-tui-step-{step.step_id}-{uuid.uuid4().hex[:12]}"
        try:
            payload = cloudpickle.dumps(remote)
        except Exception as exc:
            message = (
                f"step {step.step_id} cannot be sent to a Dask worker: its function or "
                f"kwargs cannot be pickled ({type(exc).__name__}: {exc})"
            )
            return self.client.submit(_unsendable, step.step_id, message, key=key, pure=False)
        self.last_payload_size = len(payload)
        context = self._group_context(call.pipeline, call.log_dir)
        future = self.client.submit(_run_on_worker, payload, context, key=key, pure=False)
        if call.listeners and call.output_path:
            if self._echo is None:
                self._echo = OutputEcho()
                self._echo.start()
            self._echo.follow(future, call.output_path, call.listeners)
        return future

    def wait_any(self, futures: list[Any], timeout: float) -> list[Any]:
        """The futures that finished within ``timeout`` seconds (maybe none)."""
        done = [f for f in futures if f.done()]
        if done or not futures:
            return done
        try:
            finished, _ = distributed.wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(finished)

    def outcome(self, future: Any, step: Any) -> StepOutcome:
        """The outcome of a finished future; ``lost`` set when its worker was lost."""
        try:
            result = future.result()
        except _LOST_ERRORS as exc:
            return StepOutcome(
                step.step_id,
                error=exc,
                traceback=format_exception(exc),
                lost=WORKER_LOST,
            )
        except Exception as exc:
            return StepOutcome(step.step_id, error=exc, traceback=format_exception(exc))
        if not isinstance(result, StepOutcome):
            return _unsendable(step.step_id, f"unexpected result from Dask: {result!r}")
        return result

    def cancel(self, future: Any) -> None:
        """Cancel a step; on a cluster this executor started, also end the running tools."""
        with contextlib.suppress(Exception):
            future.cancel()
        if self.cluster is None:
            # Workers of a shared scheduler may run other clients' tools: leave them.
            return
        now = time.monotonic()
        if now - self._last_terminate > 2.0:
            self._last_terminate = now
            with contextlib.suppress(Exception):
                self.client.run(_terminate_tools, on_error="ignore")

    def close(self) -> None:
        """Release the futures; close the client and the cluster this executor started."""
        if self._echo is not None:
            self._echo.stop()
            self._echo = None
        self._drop_context()
        if self.owns_client:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
            self.cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
