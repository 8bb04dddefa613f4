"""Fixtures shared by the whole suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from tooling import require_tool


class DemoRun(NamedTuple):
    """A finished ``aw-tui demo DIR --size 512 --batch``: its folder and what it printed."""

    folder: Path
    stdout: str


@pytest.fixture(scope="session")
def demo_512_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo at 512 px run to its end with the real tools, once for the session.

    For tests that only read the run (its journal, run directory, products, printed
    lines): none may write into the folder. A test that changes or reruns a demo makes its
    own.
    """
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    folder = tmp_path_factory.mktemp("demo512") / "demo"
    proc = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(folder), "--size", "512",
                           "--batch"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return DemoRun(folder, proc.stdout)
