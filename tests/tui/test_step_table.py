"""Tests of the virtualised step table widget."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from textual.app import App, ComposeResult

from aw_tui.tui.step_rows import (
    STATUS_SYMBOLS,
    STATUSES,
    StepRow,
    format_duration,
    row_search_text,
    status_symbol,
)
from aw_tui.tui.widgets.step_table import StepTable

FUNCS = ("run_sex", "run_scamp", "run_swarp", "run_psfex", "mymod:combine")


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with `asyncio.run` (no asyncio pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def make_rows(count: int) -> list[StepRow]:
    """Deterministic rows covering every status."""
    return [
        StepRow(
            index=None if i % 11 == 10 else i,
            step_id=i,
            tags=["sex", f"field{i % 13}"] if i % 5 else [],
            func=FUNCS[i % len(FUNCS)],
            status=STATUSES[i % len(STATUSES)],
            duration=None if i % 3 == 0 else i * 0.37,
            summary=f"{i * 3} detections, background 1000.4" if i % 2 else "",
            is_start=i == 3,
        )
        for i in range(count)
    ]


class TableApp(App[None]):
    """A minimal app holding only a step table."""

    def __init__(self, rows: list[StepRow]) -> None:
        super().__init__()
        self.rows = rows
        self.highlighted: list[int] = []
        self.selected: list[int] = []

    def compose(self) -> ComposeResult:
        yield StepTable(self.rows)

    def on_step_table_highlighted(self, message: StepTable.Highlighted) -> None:
        self.highlighted.append(message.step_id)

    def on_step_table_selected(self, message: StepTable.Selected) -> None:
        self.selected.append(message.step_id)


def screen_lines(table: StepTable) -> list[str]:
    """The text of the lines the table shows."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def test_status_symbols_are_distinct_and_complete() -> None:
    # Every status, plus "warn": a success whose verdict is warn (never a plain tick).
    assert set(STATUS_SYMBOLS) == {*STATUSES, "warn"}
    assert len(set(STATUS_SYMBOLS.values())) == len(STATUS_SYMBOLS)
    assert status_symbol("weird") == "?"


def test_format_duration() -> None:
    assert format_duration(None) == ""
    assert format_duration(0.4215) == "0.42s"
    assert format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s"
    assert format_duration(3720) == "1h02m"
    assert format_duration(273600) == "3d04h"
    assert all(len(format_duration(10.0**k)) <= 6 for k in range(-3, 9))


def test_row_search_text() -> None:
    row = StepRow(index=0, step_id=42, tags=["Sex"], func="run_sex", summary="12 Stars")
    text = row_search_text(row)
    assert "42" in text and "sex" in text and "12 stars" in text and "pending" in text


@sync
async def test_rows_render_with_header_and_symbols() -> None:
    app = TableApp(make_rows(40))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(StepTable)
        lines = screen_lines(table)
        assert "status" in lines[0] and "function" in lines[0] and "summary" in lines[0]
        assert "✔ success" in lines[3]
        assert lines[4].startswith("»")  # start marker on step 3
        assert all(len(line) == len(lines[0]) for line in lines)
        assert app.highlighted == [0]


@sync
async def test_keys_move_cursor_and_scroll() -> None:
    app = TableApp(make_rows(200))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(StepTable)
        table.focus()
        await pilot.press("down", "j", "j")
        assert table.cursor_step_id == 3
        await pilot.press("k")
        assert table.cursor_step_id == 2
        await pilot.press("G")
        assert table.cursor_step_id == 199
        await pilot.pause()
        assert table.scroll_y > 0
        assert "199" in screen_lines(table)[-1]
        await pilot.press("g")
        assert table.cursor_step_id == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 10
        await pilot.press("pageup")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_step_id == 199
        await pilot.press("home", "j", "enter")
        await pilot.pause()
        assert app.selected == [1]
        assert app.highlighted[-1] == 1


@sync
async def test_click_selects_row() -> None:
    app = TableApp(make_rows(20))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click(StepTable, offset=(10, 3))
        await pilot.pause()
        assert app.selected == [2]


@sync
async def test_update_row_repaints_one_row() -> None:
    rows = make_rows(50)
    app = TableApp(rows)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(StepTable)
        row = StepRow(index=5, step_id=5, func="run_sex", status="running", summary="busy")
        table.update_row(5, row)
        await pilot.pause()
        line = screen_lines(table)[6]
        assert "▶ running" in line and "busy" in line
        assert table.get_row(5) is row
        # A new step is appended.
        table.update_row(1000, StepRow(index=50, step_id=1000, func="extra", status="error"))
        assert table.row_count == 51
        assert table.get_row(1000) is not None


@sync
async def test_filter() -> None:
    app = TableApp(make_rows(300))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(StepTable)
        table.set_filter("error")
        await pilot.pause()
        assert table.row_count == len([r for r in make_rows(300) if r.status == "error"])
        assert all("error" in line for line in screen_lines(table)[1:])
        table.set_filter("ERROR field3")
        expected = [
            r.step_id
            for r in make_rows(300)
            if r.status == "error" and "field3" in ",".join(r.tags)
        ]
        assert table.row_count == len(expected)
        assert table.cursor_step_id == expected[0]
        table.set_filter("scamp")
        assert table.row_count == 60
        table.set_filter("")
        assert table.row_count == 300
        # An update that makes a row match (or stop matching) re-applies the filter.
        table.set_filter("interrupted")
        before = table.row_count
        table.update_row(0, StepRow(index=0, step_id=0, status="interrupted"))
        await pilot.pause()
        assert table.row_count == before + 1
        table.set_filter("zzz-no-match")
        assert table.row_count == 0
        assert table.cursor_step is None
        await pilot.pause()


@sync
async def test_cursor_keeps_step_across_set_rows_and_filter() -> None:
    app = TableApp(make_rows(100))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(StepTable)
        table.focus()
        assert table.move_cursor_to_step(42)
        table.set_rows(list(reversed(make_rows(100))))
        assert table.cursor_step_id == 42
        table.set_filter("run_sex")
        assert table.cursor_step_id == 40 or table.cursor_step.func == "run_sex"
        await pilot.pause()


@sync
async def test_empty_table() -> None:
    app = TableApp([])
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(StepTable)
        table.focus()
        await pilot.press("j", "G", "pagedown", "enter")
        assert table.cursor_step is None and table.row_count == 0
        assert "status" in screen_lines(table)[0]
        table.update_row(7, StepRow(index=0, step_id=7, func="run_sex"))
        await pilot.pause()
        assert table.cursor_step_id == 7
        assert "run_sex" in screen_lines(table)[1]
        assert app.selected == []


@pytest.mark.parametrize("width", [30, 50, 80, 120, 200])
@sync
async def test_columns_adapt_to_width(width: int) -> None:
    app = TableApp(make_rows(30))
    async with app.run_test(size=(width, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(StepTable)
        lines = screen_lines(table)
        region = table.scrollable_content_region.width
        assert all(len(line) == region for line in lines)
        assert "id" in lines[0]
        if width >= 80:
            assert "tags" in lines[0] and "summary" in lines[0] and "status" in lines[0]


@sync
async def test_first_paint_of_50000_rows_is_fast() -> None:
    rows = make_rows(50_000)
    start = time.perf_counter()
    app = TableApp(rows)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        elapsed = time.perf_counter() - start
        table = app.query_one(StepTable)
        assert table.row_count == 50_000
        start = time.perf_counter()
        table.set_filter("field7 error")
        filtering = time.perf_counter() - start
    assert elapsed < 2.0
    assert filtering < 0.5


def test_snapshot_step_table(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("j", "j")

    assert snap_compare(TableApp(make_rows(40)), terminal_size=(80, 24), run_before=run_before)


def test_positions_find_every_row_whether_its_id_is_its_place_or_not() -> None:
    """The table's step id -> place lookup keeps no dict entry for a row whose id is its
    place (100,000 of them), and finds every row after updates that change ids."""
    from aw_tui.tui.step_rows import StepRow
    from aw_tui.tui.widgets.step_table import _Positions

    rows = [StepRow(index=i, step_id=sid) for i, sid in enumerate([0, 1, 7, 3, 2])]
    positions = _Positions(rows)
    assert [positions.get(r.step_id) for r in rows] == [0, 1, 2, 3, 4]
    assert positions.get(4) is None and positions.get(99) is None and positions.get("x") is None
    assert len(positions._other) == 2  # 7 at 2 and 2 at 4 only
    rows[3] = StepRow(index=3, step_id=9)  # update_row: a row that changes its id
    del positions[3]
    positions[9] = 3
    assert positions.get(3) is None and positions.get(9) == 3
    rows.append(StepRow(index=5, step_id=5))
    positions[5] = 5
    assert positions.get(5) == 5 and 5 not in positions._other
