"""Searching the output pane: ``/``, ``n``/``N``, ``]``/``[`` and the whole-file count."""

from __future__ import annotations

import re
from pathlib import Path

from test_output_view import sync, visible, wait_for
from textual.app import App, ComposeResult
from textual.widgets import Static

from aw_tui.tui.widgets.output_view import PROBLEM_PATTERN, OutputView, count_in_file


class SearchApp(App[None]):
    """An output view and the line its search reports go to."""

    def __init__(self, path: Path, **kwargs: object) -> None:
        super().__init__()
        self.path = path
        self.kwargs = kwargs
        self.reports: list[str] = []

    def compose(self) -> ComposeResult:
        yield OutputView(self.path, poll_interval=0.02, **self.kwargs)
        yield Static("", id="msg")

    def on_output_view_search_status(self, message: OutputView.SearchStatus) -> None:
        self.reports.append(message.text)


def swarp_like(path: Path, lines: int = 200) -> None:
    """An output with progress lines, a warning and an error far apart."""
    out = []
    for i in range(lines):
        if i == 50:
            out.append("> WARNING: flux scale = 0: I will take 1 instead")
        elif i == 150:
            out.append("\x1b[31m*Error*: cannot open file.fits\x1b[0m")
        elif i % 40 == 10:
            out.append(f"> Resampling line: {i} / 8887")
        else:
            out.append(f"plain line {i}")
    path.write_text("\n".join(out) + "\n")


@sync
async def test_slash_searches_n_and_N_move_and_matches_are_highlighted(tmp_path: Path) -> None:
    path = tmp_path / "5.out"
    swarp_like(path)
    app = SearchApp(path)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 200)
        view.focus()
        await pilot.press("home", "slash")
        await pilot.press(*"resampling", "enter")
        await pilot.pause()
        assert view.search_text == "resampling"
        assert view.current_line == 10
        assert any("4 line(s) match 'resampling'" in r for r in app.reports)
        assert any("Resampling line: 10 /" in line for line in visible(view))
        # the match is highlighted: its characters carry the match style
        row = [line for line in visible(view)].index("> Resampling line: 10 / 8887")
        strip = view.render_line(row)
        styled = [seg for seg in strip if "Resampling" in seg.text]
        assert styled and styled[0].style.bgcolor is not None
        await pilot.press("n")
        assert view.current_line == 90  # line 50 is the warning: matches 10, 90, 130, 170
        await pilot.press("n", "n", "n")
        assert view.current_line == 10  # 130, 170, then wrapped around
        await pilot.press("N")
        assert view.current_line == 170
        assert not view.following


@sync
async def test_brackets_jump_between_errors_and_warnings(tmp_path: Path) -> None:
    path = tmp_path / "5.out"
    swarp_like(path)
    app = SearchApp(path)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 200)
        view.focus()
        await pilot.press("home", "right_square_bracket")
        assert view.current_line == 50
        assert any("WARNING: flux scale" in line for line in visible(view))
        await pilot.press("right_square_bracket")
        assert view.current_line == 150
        assert any("*Error*: cannot open" in line for line in visible(view))
        await pilot.press("left_square_bracket")
        assert view.current_line == 50


@sync
async def test_a_search_without_a_match_says_so(tmp_path: Path) -> None:
    path = tmp_path / "5.out"
    swarp_like(path, 20)
    app = SearchApp(path)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 20)
        assert view.search("no such text") == 0
        await pilot.pause()
        assert app.reports[-1] == "no line matches 'no such text'"
        assert view.current_line is None


@sync
async def test_a_big_file_is_searched_whole_not_only_its_shown_end(tmp_path: Path) -> None:
    path = tmp_path / "5.out"
    early = "".join(f"> Resampling line: {i} / 9999\n" for i in range(3000))
    late = "".join(f"filler {i} " + "x" * 60 + "\n" for i in range(3000))
    path.write_text(early + late + "> Resampling line: last\n")
    app = SearchApp(path, max_initial_bytes=64 * 1024)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.omitted and view.line_count > 100)
        assert view.search("resampling line") == 1  # only the last one is held
        await wait_for(pilot, lambda: any("of the whole file" in r for r in app.reports))
        assert any(r.startswith("3001 line(s) of the whole file match 'resampling line', "
                                "1 of them shown here") for r in app.reports)


def test_count_in_file_counts_lines_not_bytes_and_ignores_colours(tmp_path: Path) -> None:
    path = tmp_path / "a.out"
    path.write_bytes(b"\x1b[1M> Line: 1\r> Line: 2\n*Er\x1b[31mror*: x\nplain\n")
    assert count_in_file(path, re.compile("line:", re.I), path.stat().st_size) == 2
    assert count_in_file(path, PROBLEM_PATTERN, path.stat().st_size) == 1


@sync
async def test_progress_lines_rewritten_in_place_are_counted_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "4.out"
    progress = "".join(f"\x1b[1A\x1b[1M> Resampling line: {i} / 515\n" for i in range(5))
    path.write_text("> Looking for a.fits\n\n" + progress + "\x1b[1A\x1b[1M> All done\n")
    app = SearchApp(path)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: any("All done" in line for line in view.lines))
        assert view.search("Resampling") == 0  # erased by the tool: not on screen
        await wait_for(pilot, lambda: any("whole file" in r for r in app.reports))
        assert "5 line(s) of the whole file match 'Resampling', 0 of them shown" in \
            app.reports[-1]
