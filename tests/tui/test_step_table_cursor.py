"""The step table's cursor row stays readable and visible when another widget has the focus.

Issue 14, item 2: with the output pane focused, the cursor row was drawn in the text's own
colour on a background of that same colour (a partial component style drops the alpha of
``$foreground 15%``). Checked in every built-in theme, and with ``NO_COLOR``.
"""

from __future__ import annotations

import asyncio

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color
from textual.filter import Monochrome, monochrome_style

from aw_tui.tui.step_rows import StepRow
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable

ROWS = [StepRow(index=i, step_id=i, tags=["sex"], func="run_sex", status="finished",
                duration=1.5, summary="412 detections") for i in range(5)]
#: Cells whose colour is the table's text colour (the status cell has its own colour).
TEXT_CELLS = ("run_sex", "412 detections", "sex")


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(style: Style) -> float:
    """WCAG contrast ratio of a style's text against its background."""
    assert style.color is not None and style.bgcolor is not None
    fg = _luminance(tuple(style.color.get_truecolor()))
    bg = _luminance(tuple(style.bgcolor.get_truecolor()))
    return (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)


class _Monochrome(Monochrome):
    """Textual's NO_COLOR filter accepting unstyled segments (as the aw-tui app installs it)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return super().apply([Segment(text, style or Style.null(), control)
                              for text, style, control in segments], background)


class TableAndOutput(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self._filters = [_Monochrome() if type(f) is Monochrome else f for f in self._filters]

    def compose(self) -> ComposeResult:
        yield StepTable(ROWS)
        yield OutputView(None)


def text_segments(table: StepTable, row: int) -> list[Style]:
    """The styles of the text cells of one row (0 = first row under the header)."""
    return [segment.style for segment in table.render_line(1 + row)
            if segment.text.strip() in TEXT_CELLS and segment.style is not None]


def run_themes() -> dict[str, tuple[list[Style], list[Style]]]:
    """For each theme: styles of the cursor row's and of another row's text, output focused."""
    found: dict[str, tuple[list[Style], list[Style]]] = {}

    async def run() -> None:
        app = TableAndOutput()
        async with app.run_test(size=(100, 12)) as pilot:
            table = app.query_one(StepTable)
            app.query_one(OutputView).focus()
            await pilot.pause()
            assert not table.has_focus
            for theme in sorted(app.available_themes):
                app.theme = theme
                await pilot.pause()
                found[theme] = (text_segments(table, 0), text_segments(table, 2))

    asyncio.run(run())
    return found


def test_cursor_row_is_readable_and_visible_with_the_output_focused() -> None:
    themes = run_themes()
    assert len(themes) > 10
    for theme, (cursor, other) in themes.items():
        assert len(cursor) == len(TEXT_CELLS), theme
        if theme.startswith("ansi"):
            # Terminal colours cannot be blended: the row is underlined, in its own colours.
            assert all(style.underline for style in cursor), theme
            assert cursor[0].color == other[0].color, theme
            continue
        for style in cursor:
            assert contrast(style) >= 3.0, (theme, style)
        # The cursor row stands out from the other rows.
        assert cursor[0].bgcolor != other[0].bgcolor, theme


def test_cursor_row_is_readable_and_visible_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    themes = run_themes()
    for theme, (cursor, other) in themes.items():
        # NO_COLOR turns colours grey (or drops them in ANSI themes): the row is underlined.
        assert all(style.underline for style in cursor), theme
        assert not any(style.underline for style in other), theme
        if not theme.startswith("ansi"):
            for style in cursor:
                assert contrast(monochrome_style(style)) >= 3.0, (theme, style)
