"""Start a run's runner as a Slurm batch job, watch the job, and cancel it.

The runner is the same ``aw-tui PROJECT --batch`` process a local launch starts; here it is
the body of a batch script given to ``sbatch``. What was submitted is kept in the run directory
as ``launcher.json`` (job id, submit time, the script, the options), so any viewer on the
shared file system can tell which job runs the run. Every command is an argv list; nothing goes
through a shell except the batch script itself, whose arguments are quoted with
:func:`shlex.quote`.

Job states come from ``scontrol show job`` while Slurm still knows the job and from ``sacct``
afterwards (where accounting is on). They are polled at most once every
:data:`POLL_INTERVAL` seconds per job in a process, whoever asks (the TUI's header, a
dashboard, ``aw-tui status``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.errors import AwTuiError

__all__ = [
    "LAUNCHER_FILE",
    "POLL_INTERVAL",
    "SlurmError",
    "SlurmJob",
    "SlurmOptions",
    "allocation_end",
    "cancel_job",
    "job_status",
    "options_from_config",
    "read_launcher",
    "resubmit",
    "sbatch_argv",
    "sbatch_script",
    "submit",
]

#: The file in the run directory that records the job running the run.
LAUNCHER_FILE = "launcher.json"
#: Seconds between two polls of one job's state in a process.
POLL_INTERVAL = 10.0
#: Job states after which the job is over.
ENDED_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "TIMEOUT", "SPECIAL_EXIT", "REVOKED",
})
_SAFE_JOB_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class SlurmError(AwTuiError):
    """sbatch, scontrol or scancel failed or is missing."""


@dataclass
class SlurmOptions:
    """The ``[launcher.slurm]`` table: what the runner's batch job asks for.

    Parameters
    ----------
    partition, account : str, optional
        ``sbatch --partition`` and ``--account``.
    time : str, optional
        Walltime (``--time``), e.g. ``"12:00:00"``.
    mem : str, optional
        Memory (``--mem``), e.g. ``"8G"``.
    cpus : int
        ``--cpus-per-task``.
    signal : str, optional
        ``--signal``: notice before the walltime ends (default ``TERM@120``: two minutes).
    sbatch_args : list of str
        More ``sbatch`` arguments, each one argument (``["--qos=long"]``).
    setup : list of str
        Shell lines the job runs before the runner (``module load``, activating a venv).
    job_name : str
        ``--job-name`` (default ``aw-tui``).
    requeue : int
        How many times a run that its allocation ended (walltime, ``--signal``) submits
        itself again to go on (:func:`resubmit`); 0: never.
    """

    partition: str | None = None
    account: str | None = None
    time: str | None = None
    mem: str | None = None
    cpus: int = 1
    signal: str | None = "TERM@120"
    sbatch_args: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    job_name: str = "aw-tui"
    requeue: int = 0

    def directives(self) -> list[str]:
        """The ``sbatch`` arguments these options give."""
        args = [f"--job-name={_SAFE_JOB_NAME.sub('_', self.job_name) or 'aw-tui'}",
                f"--cpus-per-task={int(self.cpus)}"]
        for flag, value in (("--partition", self.partition), ("--account", self.account),
                            ("--time", self.time), ("--mem", self.mem),
                            ("--signal", self.signal)):
            if value:
                args.append(f"{flag}={value}")
        return args + [str(arg) for arg in self.sbatch_args]


@dataclass
class SlurmJob:
    """A runner submitted to Slurm, as ``launcher.json`` records it."""

    kind: str
    job_id: str
    submitted: float
    script: str
    argv: list[str]
    options: dict[str, Any]
    previous_jobs: list[str] = field(default_factory=list)


@dataclass
class JobStatus:
    """What Slurm says about a job now.

    ``state`` is Slurm's word (``PENDING``, ``RUNNING``, ``COMPLETED``, ``TIMEOUT``, ...) or
    ``UNKNOWN`` when Slurm no longer knows the job (purged, no accounting); ``reason`` is why
    a pending job waits (``JobHeldUser``, ``Resources``, ...); ``time_left`` is in seconds.
    """

    job_id: str
    state: str
    reason: str | None = None
    node: str | None = None
    time_left: float | None = None
    exit_code: str | None = None
    checked: float = 0.0

    @property
    def ended(self) -> bool:
        """Whether the job is over."""
        return self.state in ENDED_STATES

    def to_json(self) -> dict[str, Any]:
        """The ``job`` object of ``aw-tui status --json``."""
        return {"id": self.job_id, "state": self.state, "reason": self.reason,
                "node": self.node, "time_left": self.time_left, "exit_code": self.exit_code}


def options_from_config(config: dict[str, Any] | None) -> SlurmOptions:
    """The job's options from a project's ``[launcher]`` table (defaults when it has none)."""
    table = dict((config or {}).get("slurm") or {})
    return SlurmOptions(**{k: v for k, v in table.items()
                           if k in SlurmOptions.__dataclass_fields__})


def _require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise SlurmError(f"{command} is not on PATH: this host cannot talk to Slurm",
                         "run aw-tui on a host of the cluster (a login node), or use the "
                         "local launcher")
    return path


def sbatch_script(runner_argv: Sequence[str], options: SlurmOptions) -> str:
    """The batch script: the setup lines, then the runner (one argv, each argument quoted).

    The job's options are not ``#SBATCH`` lines (``sbatch`` parses those with rules of its
    own) but arguments of the ``sbatch`` command (:func:`sbatch_argv`); the script names
    them in a comment for a human reading it.
    """
    lines = ["#!/bin/bash", "# Written by aw-tui: the runner of one run, as a Slurm job.",
             "# sbatch arguments: " + " ".join(shlex.quote(a) for a in options.directives()),
             "set -eo pipefail", *options.setup]
    # exec: SIGTERM from Slurm (walltime notice, scancel) reaches the runner itself.
    lines.append("exec " + " ".join(shlex.quote(str(arg)) for arg in runner_argv))
    return "\n".join(lines) + "\n"


def sbatch_argv(options: SlurmOptions, log_dir: str, script_path: str, *, hold: bool = False,
                cwd: str | None = None) -> list[str]:
    """The ``sbatch`` command line that submits ``script_path`` with ``options``."""
    argv = ["sbatch", "--parsable", *options.directives(),
            f"--output={os.path.join(log_dir, 'slurm-%j.out')}"]
    if hold:
        argv.append("--hold")
    if cwd:
        argv.append(f"--chdir={cwd}")
    return [*argv, script_path]


def submit(runner_argv: Sequence[str], options: SlurmOptions, log_dir: str, *,
           hold: bool = False, cwd: str | None = None, after: str | None = None,
           previous_jobs: Sequence[str] = ()) -> SlurmJob:
    """Submit the runner as a batch job; record it in ``<log_dir>/launcher.json``.

    Parameters
    ----------
    runner_argv : sequence of str
        The runner's command line (``aw-tui PROJECT --batch ...``).
    options : SlurmOptions
        What the job asks for.
    log_dir : str
        The run directory (it holds the script, the job's output and ``launcher.json``).
    hold : bool
        Submit held (``--hold``): the job waits as PENDING until ``scontrol release``.
    cwd : str, optional
        The job's working directory (default: the run directory's project folder).
    after : str, optional
        A job this one waits for (``--dependency=afterany:JOB``): a resubmitted runner starts
        once the one before it has ended and let go of the run directory.
    previous_jobs : sequence of str
        The jobs that ran the run before (kept in ``launcher.json``).

    Returns
    -------
    SlurmJob

    Raises
    ------
    SlurmError
        When ``sbatch`` is missing or refuses the job (its message included).
    """
    sbatch = _require("sbatch")
    os.makedirs(log_dir, exist_ok=True)
    script_path = os.path.join(log_dir, "launcher.sbatch")
    atomic_write_text(script_path, sbatch_script(runner_argv, options))
    argv = sbatch_argv(options, log_dir, script_path, hold=hold, cwd=cwd)
    argv[0] = sbatch
    if after:
        argv.insert(-1, f"--dependency=afterany:{after}")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SlurmError(f"sbatch refused the runner's job: {proc.stderr.strip()}",
                         "check [launcher.slurm] (partition, account, time, mem) against "
                         "`sinfo` and your site's limits")
    job_id = proc.stdout.strip().split(";")[0]
    job = SlurmJob(kind="slurm", job_id=job_id, submitted=time.time(), script=script_path,
                   argv=[str(a) for a in runner_argv], options=asdict(options),
                   previous_jobs=list(previous_jobs))
    atomic_write_text(os.path.join(log_dir, LAUNCHER_FILE),
                      json.dumps(asdict(job), indent=1) + "\n")
    return job


def read_launcher(log_dir: str) -> SlurmJob | None:
    """The job recorded in ``<log_dir>/launcher.json``, or None (none, or unreadable)."""
    try:
        with open(os.path.join(log_dir, LAUNCHER_FILE), encoding="utf-8") as handle:
            data = json.load(handle)
        return SlurmJob(kind=str(data["kind"]), job_id=str(data["job_id"]),
                        submitted=float(data["submitted"]), script=str(data["script"]),
                        argv=[str(a) for a in data.get("argv", [])],
                        options=dict(data.get("options") or {}),
                        previous_jobs=[str(j) for j in data.get("previous_jobs") or []])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _seconds(text: str | None) -> float | None:
    """Slurm's ``[days-]hours:minutes:seconds`` (or ``UNLIMITED``) in seconds."""
    if not text or text in ("UNLIMITED", "INVALID", "N/A", "Partition_Limit"):
        return None
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text)
    parts = [int(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts[-3:]
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _from_scontrol(job_id: str) -> JobStatus | None:
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return None
    proc = subprocess.run([scontrol, "show", "job", job_id, "--oneliner"], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or "JobState=" not in proc.stdout:
        return None
    fields = dict(re.findall(r"(\w+)=(\S*)", proc.stdout))
    state = fields.get("JobState", "UNKNOWN")
    reason = fields.get("Reason")
    node = fields.get("NodeList")
    return JobStatus(
        job_id=job_id, state=state,
        reason=None if reason in (None, "None", "(null)") else reason,
        node=None if node in (None, "(null)", "") else node,
        time_left=_time_left(fields) if state == "RUNNING" else None,
        exit_code=fields.get("ExitCode"), checked=time.time())


def _time_left(fields: dict[str, str]) -> float | None:
    limit = _seconds(fields.get("TimeLimit"))
    used = _seconds(fields.get("RunTime"))
    if limit is None or used is None:
        return None
    return max(0.0, limit - used)


def _from_sacct(job_id: str) -> JobStatus | None:
    sacct = shutil.which("sacct")
    if sacct is None:
        return None
    proc = subprocess.run([sacct, "-X", "-n", "-P", "-j", job_id, "-o",
                           "State,Reason,NodeList,ExitCode"], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    line = proc.stdout.strip().splitlines()[:1]
    if proc.returncode != 0 or not line:
        return None
    state, reason, node, exit_code = ([*line[0].split("|"), "", "", "", ""])[:4]
    return JobStatus(job_id=job_id, state=state.split()[0] if state else "UNKNOWN",
                     reason=reason or None, node=node or None, exit_code=exit_code or None,
                     checked=time.time())


_cache: dict[str, JobStatus] = {}
_cache_lock = threading.Lock()


def job_status(job_id: str, *, max_age: float = POLL_INTERVAL) -> JobStatus:
    """The job's state, asked from Slurm at most once every ``max_age`` seconds per process.

    A job that has ended is not asked again.
    """
    now = time.time()
    with _cache_lock:
        known = _cache.get(job_id)
        if known is not None and (known.ended or now - known.checked < max_age):
            return known
    status = _from_scontrol(job_id) or _from_sacct(job_id) or JobStatus(
        job_id=job_id, state="UNKNOWN", reason="Slurm no longer knows this job",
        checked=now)
    with _cache_lock:
        _cache[job_id] = status
    return status


def allocation_end(job_id: str | None = None) -> float | None:
    """When the allocation of the Slurm job running this process ends (``time.time()``),
    from ``scontrol`` (its time limit less its run time); None outside a job or unlimited."""
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    scontrol = shutil.which("scontrol")
    if not job_id or scontrol is None:
        return None
    try:
        proc = subprocess.run([scontrol, "show", "job", job_id, "--oneliner"],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    left = _time_left(dict(re.findall(r"(\w+)=(\S*)", proc.stdout)))
    return None if left is None else time.time() + left


def resubmit(log_dir: str, after: str) -> SlurmJob | None:
    """Submit the run's runner again, with ``--resume``, to start once job ``after`` ends.

    Only when ``launcher.json`` records the job and its ``requeue`` budget is not spent
    (each job that ran the run counts); a new job rather than ``scontrol requeue``, which
    holds a requeued job for minutes (its ``BeginTime``) before it may start again.

    Returns
    -------
    SlurmJob or None
        The new job, or None when there is nothing to resubmit or the budget is spent.
    """
    job = read_launcher(log_dir)
    if job is None or job.kind != "slurm":
        return None
    options = SlurmOptions(**{k: v for k, v in job.options.items()
                              if k in SlurmOptions.__dataclass_fields__})
    previous = [*job.previous_jobs, job.job_id]
    if len(previous) > options.requeue:
        return None
    argv = list(job.argv)
    if "--resume" not in argv:
        argv.append("--resume")
    return submit(argv, options, log_dir, after=after, previous_jobs=previous)


def cancel_job(job_id: str, signal: str = "TERM") -> None:
    """Send the job ``signal`` (default SIGTERM: the runner records the step as interrupted).

    A job that has not started yet is simply removed from the queue.

    Raises
    ------
    SlurmError
        When ``scancel`` is missing or fails.
    """
    scancel = _require("scancel")
    status = job_status(job_id, max_age=0)
    argv = [scancel, job_id] if status.state == "PENDING" else [
        scancel, f"--signal={signal}", "--full", job_id]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SlurmError(f"scancel {job_id} failed: {proc.stderr.strip()}",
                         "check the job with `squeue -j JOB` and cancel it by hand")
    with _cache_lock:
        _cache.pop(job_id, None)
