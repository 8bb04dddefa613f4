"""The demo's SWarp warnings (flux scale = 0) are shown wherever a status is: --batch, status
(table and --json), the TUI's table and header, and the results table."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

import aw_tui
from aw_tui.rundir.journal import read_events
from aw_tui.target import resolve_target
from aw_tui.tui.app import AwTuiApp
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.step_table import StepTable


@pytest.fixture(scope="module")
def demo(demo_512_run) -> tuple[Path, str]:
    """The session's finished 512 px demo (read only): its folder and the batch's lines."""
    return demo_512_run.folder, demo_512_run.stdout


def test_batch_marks_the_swarp_step_warn_with_its_first_warning(demo) -> None:
    _, out = demo
    line = next(line for line in out.splitlines() if "step3 SWarp" in line and "started" not in line)
    assert " warn " in line and " ok " not in line
    assert "⚠ 3: SWarp:" in line and "flux scale = 0" in line


def test_status_json_and_table_carry_the_verdict_and_warnings(demo) -> None:
    folder, _ = demo
    status = json.loads(subprocess.run(
        [sys.executable, "-m", "aw_tui", "status", str(folder), "--json"],
        capture_output=True, text=True, timeout=120, check=True).stdout)
    swarp = next(s for s in status["steps"] if s["func"] == "SWarp")
    assert swarp["verdict"] == "warn" and len(swarp["warnings"]) == 3
    assert all("flux scale = 0" in w for w in swarp["warnings"])
    quiet = [s for s in status["steps"] if s["func"] == "SExtractor"]
    assert all(s["verdict"] == "ok" and s["warnings"] == [] for s in quiet)
    table = subprocess.run([sys.executable, "-m", "aw_tui", "status", str(folder)],
                           capture_output=True, text=True, timeout=120, check=True).stdout
    assert "⚠ 3: SWarp:" in table
    events = [e for e in read_events(str(folder / "work" / "log"))
              if e["event"] == "step_finished"]
    assert sum(bool(e.get("warnings")) for e in events) == 1


def test_the_results_table_has_the_verdict(demo) -> None:
    folder, _ = demo
    table = aw_tui.results(str(folder / "work" / "log"))
    row = table[table["tool"] == "SWarp"][0]
    assert row["verdict"] == "warn" and row["n_warnings"] == 3


def test_the_tui_shows_warn_not_a_plain_tick(demo) -> None:
    asyncio.run(_tui_shows_warn(demo[0]))


async def _tui_shows_warn(folder: Path) -> None:
    app = AwTuiApp(Session(resolve_target(str(folder), expand=False)))
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause(0.5)
        rows = app.query_one(StepTable).rows
        swarp = next(r for r in rows if r.func == "SWarp")
        assert swarp.warnings == 3 and swarp.verdict == "warn"
        header = str(app.query_one("#header").render())
        assert "⚠1" in header
        screen = app.export_screenshot()
        assert "⚠" in screen
