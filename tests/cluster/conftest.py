"""The cluster tests' fixture: a Slurm that answers, or a skip (a failure under CI=true)."""

from __future__ import annotations

import pytest
from slurmjobs import slurm_answers
from tooling import on_ci


@pytest.fixture(scope="module")
def slurm() -> None:
    """Skip (fail under CI=true) unless a Slurm cluster runs jobs here."""
    reason = slurm_answers()
    if reason is None:
        return
    message = (f"no Slurm cluster answers here ({reason}); start one with "
               "`bash scripts/start-slurm.sh` (as root)")
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)
