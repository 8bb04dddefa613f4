"""What a project file may hold: its tables, their keys and types, and the names it accepts.

The one place the loader, the error messages and ``docs/project-file.md`` take the vocabulary
of a project file from.
"""

from __future__ import annotations

import re

from aw_tui.astromatic.registry import BUILD_PATH_NAMES

#: Top-level tables of a project file.
TOP_KEYS = (
    "pipeline", "paths", "build_paths", "vars", "executor", "launcher", "inputs", "steps",
)
#: Keys of ``[pipeline]`` and their types.
PIPELINE_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "create_paths": bool,
    "run_name": str,
    "jobs": int,
}
#: Keys of an ``[inputs.NAME]`` table.
INPUT_KEYS = ("items", "glob", "exclude", "field", "fields", "required", "text_fields")
#: Keys of a ``[[steps]]`` table.
STEP_KEYS = (
    "name",
    "func",
    "tags",
    "ignore_errors",
    "ignore_exceptions",
    "foreach",
    "independent",
    "group",
    "kwargs",
    "outputs",
    "timeout",
    "checks",
    "check_severity",
    "items",
)
#: Keys of a member's override table (``[steps.items."KEY"]``) of a ``foreach`` step.
ITEM_OVERRIDE_KEYS = ("kwargs",)
#: Executor kinds accepted in ``[executor] kind``.
EXECUTOR_KINDS = ("serial", "local", "dask")

#: How a run's runner is started (``[launcher] kind``): a detached local process, or a Slurm
#: batch job (``aw-tui submit``; ``r``/``c`` in the TUI).
LAUNCHER_KINDS = ("local", "slurm")
#: ``[launcher.slurm]`` keys and their types (see aw_tui.launchers.slurm.SlurmOptions).
SLURM_KEYS: dict[str, tuple[type, ...]] = {
    "partition": (str,), "account": (str,), "time": (str,), "mem": (str,), "cpus": (int,),
    "signal": (str,), "sbatch_args": (list,), "setup": (list,), "job_name": (str,),
    "requeue": (int,),
}
#: Names a reference can start with.
ROOTS = ("paths", "vars", "env", "inputs", "item", "steps", "outputs")
#: kwargs the pipeline itself passes to a step function.
RESERVED_KWARGS = ("pipeline", "step_id")
#: kwargs shown as a step's "key inputs" by ``Project.steps_table``, in this order.
KEY_INPUT_KWARGS = ("files", "filenames", "catalogs", "images", "image", "filename", "catalog")

# -- tools -----------------------------------------------------------------------------------
#: Tool names of ``[build_paths]`` (compared without case); close misspellings are errors.
#: They come from the one tool registry (every tool and its spellings, STIFF and the others).
KNOWN_TOOLS = BUILD_PATH_NAMES

#: Names of paths, vars, input sets, fields, outputs and steps (used in ``{...}`` references).
NAME_RE = re.compile(r"^[A-Za-z_][\w-]*$")
#: Where every key is documented (named in the fixes of error messages).
DOCS = "docs/project-file.md"
