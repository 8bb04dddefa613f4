"""The results screen (``R``): a group's rows, outliers marked, sorting, sparklines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_output_view import sync
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Sparkline, Static

from aw_tui.report.results import results
from aw_tui.tui.results_screen import ResultsScreen, group_results

FWHM = [3.1, 3.0, 3.2, 9.5, 3.1, 3.05]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Six SExtractor steps of one foreach group (step 3 an outlier) and one SWarp step."""
    log = tmp_path / "log"
    log.mkdir()
    events = [{"seq": 1, "time": 1.0, "event": "run_started", "run_steps": list(range(7)),
               "start_idx": 0, "total": 7}]
    for i in range(7):
        sex = i < 6
        events.append({"seq": len(events) + 1, "time": 2.0 + i, "event": "step_started",
                       "step_id": i, "index": i, "func": "SExtractor" if sex else "SWarp",
                       "tags": ["detect"] if sex else ["stack"]})
        summary = ({"fwhm_mean": FWHM[i], "detections": 100 + i} if sex
                   else {"ninputs": 6})
        events.append({"seq": len(events) + 1, "time": 2.5 + i, "event": "step_finished",
                       "step_id": i, "index": i, "status": "success", "duration": 0.5,
                       "summary": summary, "verdict": "ok"})
    (log / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return log


def test_group_results_keeps_the_groups_rows_and_flags_its_outlier(run_dir: Path) -> None:
    table = results(str(run_dir))
    group = group_results(table, "detect SExtractor")
    assert len(group.rows) == 6
    assert "fwhm_mean" in group.columns and "ninputs" not in group.columns
    assert [bool(flags) for flags in group.outliers] == [False, False, False, True, False, False]
    assert group.outliers[3] == {"fwhm_mean"}
    assert {"fwhm_mean", "detections", "duration"} <= set(group.numeric)
    assert len(group_results(table, None).rows) == 7


class HostApp(App[None]):
    def __init__(self, log: Path) -> None:
        super().__init__()
        self.run_log = log

    def compose(self) -> ComposeResult:
        yield Static("main")

    def on_mount(self) -> None:
        table = results(str(self.run_log))
        self.push_screen(ResultsScreen(group_results(table, "detect SExtractor"),
                                       group_results(table, None)))


def column_values(table: DataTable, name: str) -> list[str]:
    return [str(table.get_cell(row, name)) for row in table.rows]


@sync
async def test_rows_sort_by_any_column_and_sparklines_show_numbers(run_dir: Path) -> None:
    app = HostApp(run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        table = screen.query_one("#results", DataTable)
        assert table.row_count == 6
        assert "9.5 !" in column_values(table, "fwhm_mean")  # the outlier is marked
        table.move_cursor(column=screen.shown_group.columns.index("fwhm_mean"))
        await pilot.press("s")
        assert column_values(table, "fwhm_mean")[0] == "3"
        assert column_values(table, "fwhm_mean")[-1] == "9.5 !"
        await pilot.press("s")  # again: the other way
        assert column_values(table, "fwhm_mean")[0] == "9.5 !"
        sparks = {str(s.parent.children[0].render()): s for s in screen.query(Sparkline)}
        assert "fwhm_mean" in sparks and sparks["fwhm_mean"].data[0] == 9.5
        await pilot.press("a")
        assert table.row_count == 7
        await pilot.press("escape")
        assert not isinstance(app.screen, ResultsScreen)


def test_snapshot_results_screen(run_dir: Path, snap_compare) -> None:
    assert snap_compare(HostApp(run_dir), terminal_size=(80, 24))


def test_snapshot_results_screen_120x35(run_dir: Path, snap_compare) -> None:
    assert snap_compare(HostApp(run_dir), terminal_size=(120, 35))
