"""Fixtures of the project room's tests: the seed's Simple and Full Examples on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_helpers import FULL, RECORD_PY, SIMPLE, touch, write_project


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    touch(tmp_path, "my_img.fits", "my_img.dqmask.fits", "my_img.wt_map.fits",
          "config/default.sex")
    return write_project(tmp_path, SIMPLE)



@pytest.fixture
def full(tmp_path: Path) -> Path:
    for num in ("206401", "206402", "206403"):
        touch(tmp_path, f"images/{num}.fits", f"images/{num}.wtmap.fits",
              f"images/{num}.dqmask.fits")
    (tmp_path / "funcs.py").write_text(RECORD_PY.replace(
        "def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):",
        "def save_output(pipeline, old_stack, new_stack, old_cat, new_cat, catalogs_seen):"))
    return write_project(tmp_path, FULL)

