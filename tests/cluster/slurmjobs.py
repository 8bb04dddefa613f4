"""What the cluster tests share: this venv's bin folder and whether Slurm answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

#: This venv's bin folder: batch jobs put it first on PATH to find aw-tui and Python.
VENV_BIN = str(Path(sys.executable).parent)


def slurm_answers() -> str | None:
    """None when a Slurm cluster runs jobs here, else why not."""
    for command in ("sbatch", "squeue", "scontrol", "srun"):
        if shutil.which(command) is None:
            return f"{command} is not installed"
    try:
        probe = subprocess.run(["srun", "-N1", "-n1", "--quiet", "true"], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "srun did not answer within 30 s"
    if probe.returncode != 0:
        return f"srun failed: {probe.stderr.strip()[:200]}"
    return None
