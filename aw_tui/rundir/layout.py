"""Every file name of a run directory, in one place (``docs/run-directory.md``).

:class:`RunLayout` is the one owner of the run directory's names: the runner, the engine,
the Dask executor, the viewers and the launcher ask it for a path instead of spelling
``steps/<id>.started`` themselves.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = [
    "CHECKPOINT_FILE",
    "CONTROL_DIR",
    "EVENTS_FILE",
    "LOCK_FILE",
    "REJECTED_DIR",
    "RUNNER_LOG",
    "STEPS_DIR",
    "RunLayout",
]

#: The checkpoint of an unnamed run (``pipeline-<run_name>.p`` for a named one).
CHECKPOINT_FILE = "pipeline.p"
#: The append-only journal.
EVENTS_FILE = "events.jsonl"
#: Per-step files: output, results, edited kwargs, start markers, Dask contexts.
STEPS_DIR = "steps"
#: The live runner's lock (a JSON record for humans; the kernel lock is on this file).
LOCK_FILE = "lock"
#: Requests from viewers to the live runner.
CONTROL_DIR = "control"
#: Requests the runner could not apply, with the reason (inside ``control/``).
REJECTED_DIR = "rejected"
#: stdout and stderr of a runner a viewer started.
RUNNER_LOG = "runner.log"

_CHECKPOINT_PREFIX = "pipeline-"
_CHECKPOINT_SUFFIX = ".p"


class RunLayout:
    """The names of one run directory's files.

    Parameters
    ----------
    log_dir : str
        The run directory (a pipeline's ``paths['log']``); kept as an absolute path.
    """

    def __init__(self, log_dir: str) -> None:
        self.root = os.path.abspath(log_dir)

    def __repr__(self) -> str:
        return f"RunLayout({self.root!r})"

    # -- the run directory's own files ---------------------------------------------------
    def checkpoint(self, run_name: str | None = None) -> str:
        """``pipeline.p``, or ``pipeline-<run_name>.p`` for a named run."""
        if not run_name:
            return os.path.join(self.root, CHECKPOINT_FILE)
        return os.path.join(self.root, f"{_CHECKPOINT_PREFIX}{run_name}{_CHECKPOINT_SUFFIX}")

    @staticmethod
    def is_checkpoint_name(name: str) -> bool:
        """Whether a file name is a checkpoint's (``pipeline.p`` or ``pipeline-*.p``)."""
        return name == CHECKPOINT_FILE or (
            name.startswith(_CHECKPOINT_PREFIX) and name.endswith(_CHECKPOINT_SUFFIX)
        )

    def named_checkpoints(self) -> list[str]:
        """The ``pipeline-<run_name>.p`` files present (empty when the folder is unreadable)."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return [
            os.path.join(self.root, name) for name in names
            if name.startswith(_CHECKPOINT_PREFIX) and name.endswith(_CHECKPOINT_SUFFIX)
        ]

    @property
    def journal(self) -> str:
        """``events.jsonl``."""
        return os.path.join(self.root, EVENTS_FILE)

    @property
    def lock(self) -> str:
        """``lock``."""
        return os.path.join(self.root, LOCK_FILE)

    @property
    def runner_log(self) -> str:
        """``runner.log``."""
        return os.path.join(self.root, RUNNER_LOG)

    # -- steps/ ---------------------------------------------------------------------------
    @property
    def steps(self) -> str:
        """``steps/``."""
        return os.path.join(self.root, STEPS_DIR)

    def step_output(self, step_id: int) -> str:
        """``steps/<step_id>.out``: the raw bytes the step's tools printed."""
        return os.path.join(self.steps, f"{step_id}.out")

    def step_result(self, step_id: int) -> str:
        """``steps/<step_id>.result.p``: the step's results dict, when its ``step_finished``
        line says ``"results": "file"`` (or has no ``results``: an older journal)."""
        return os.path.join(self.steps, f"{step_id}.result.p")

    def step_kwargs(self, step_id: int) -> str:
        """``steps/<step_id>.kwargs.p``: a step's edited kwargs."""
        return os.path.join(self.steps, f"{step_id}.kwargs.p")

    def step_provenance(self, step_id: int) -> str:
        """``steps/<step_id>.provenance.json``: what the step's last run ran with, read and
        wrote (:mod:`aw_tui.rundir.provenance`)."""
        return os.path.join(self.steps, f"{step_id}.provenance.json")

    def step_marker(self, step_id: int) -> str:
        """``steps/<step_id>.started``: where a member of a parallel group started."""
        return os.path.join(self.steps, f"{step_id}.started")

    def new_dask_context(self) -> str:
        """A fresh ``steps/.dask-context-<hex>.tmp`` (removed as a leftover by the next runner)."""
        return os.path.join(self.steps, f".dask-context-{uuid.uuid4().hex}.tmp")

    def leftovers(self) -> list[str]:
        """Temporary files of writes a killed runner never finished (``.pipeline*.tmp`` here,
        ``.*.tmp`` in ``steps/``): garbage once the lock is held."""
        found = []
        for folder, prefix in ((self.root, ".pipeline"), (self.steps, ".")):
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found += [
                os.path.join(folder, name) for name in names
                if name.startswith(prefix) and name.endswith(".tmp")
            ]
        return found

    # -- control/ -------------------------------------------------------------------------
    @property
    def control(self) -> str:
        """``control/``."""
        return os.path.join(self.root, CONTROL_DIR)

    @property
    def rejected(self) -> str:
        """``control/rejected/``."""
        return os.path.join(self.control, REJECTED_DIR)

    def new_control_request(self) -> str:
        """A fresh ``control/<time>-<random>.json`` (sorting by name is sorting by time)."""
        return os.path.join(self.control, f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.json")

    def control_requests(self) -> list[str]:
        """The ``control/*.json`` waiting, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.control) if n.endswith(".json"))
        except OSError:
            return []
        return [os.path.join(self.control, name) for name in names]
