"""The key bar: the keys of the screen on one line; a click presses the key."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from aw_tui.tui.widgets.key_bar import KeyBar


class BarApp(App[None]):
    BINDINGS = [
        Binding("r", "record('run')", "Run"),
        Binding("c", "record('continue')", "Continue"),
        Binding("j", "record('down')", "Down", show=False),
        Binding("x", "record('stop')", "Stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.done: list[str] = []
        self.allow_stop = True

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeyBar()

    def action_record(self, what: str) -> None:
        self.done.append(what)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if parameters == ("stop",) and not self.allow_stop:
            return None  # shown dimmed
        return True


def bar_text(app: BarApp) -> str:
    return app.query_one(KeyBar).render().plain


def test_shows_the_shown_keys_and_the_palette_at_the_right_edge() -> None:
    async def run() -> None:
        app = BarApp()
        async with app.run_test(size=(60, 5)) as pilot:
            await pilot.pause()
            text = bar_text(app)
            assert text.startswith(" r Run  c Continue  x Stop ")
            assert "Down" not in text
            assert text.endswith("▏^p palette ") and len(text) == 60
        app = BarApp()
        async with app.run_test(size=(28, 5)) as pilot:  # too narrow: keys are cut
            await pilot.pause()
            text = bar_text(app)
            assert text.endswith("▏^p palette ") and len(text) == 28
            assert text.startswith(" r Run  c Con")

    asyncio.run(run())


def test_a_click_presses_the_key_and_the_bar_follows_the_bindings() -> None:
    async def run() -> None:
        app = BarApp()
        async with app.run_test(size=(60, 5)) as pilot:
            bar = app.query_one(KeyBar)
            await pilot.pause()
            x = bar_text(app).index("Continue")
            await pilot.click(KeyBar, offset=(x, 0))
            await pilot.click(KeyBar, offset=(1, 0))
            assert app.done == ["continue", "run"]
            app.allow_stop = False
            app.refresh_bindings()
            await pilot.pause()
            await pilot.pause()
            disabled = [key for key in bar._keys if not key.enabled]
            assert [key.key for key in disabled] == ["x"]

    asyncio.run(run())


class ManyKeysApp(App[None]):
    """The main screen's keys: more than 80 columns hold."""

    BINDINGS = [Binding(key, f"record('{action}')", text) for key, action, text in (
        ("r", "run", "Run"), ("c", "continue", "Continue"), ("s", "start", "Start here"),
        ("t", "tags", "Tags"), ("e", "edit", "Edit"), ("x", "stop", "Stop"),
        ("f", "follow", "Follow"), ("d", "details", "Details"), ("slash", "filter", "Filter"),
        ("question_mark", "help", "Help"), ("q", "quit", "Quit"))]

    def compose(self) -> ComposeResult:
        yield KeyBar(tuple(f"record('{a}')" for a in ("quit", "help", "run", "stop")))

    def action_record(self, what: str) -> None:
        pass


def test_with_priorities_the_least_important_keys_drop_whole() -> None:
    """Fix 5 of issue 14: ? and q stay visible at 80 columns; unlisted keys drop first, the
    rightmost first, then the listed ones from the least important."""

    async def run() -> None:
        for width, expected in (
            (80, " r Run  c Continue  s Start here  t Tags  x Stop  ? Help  q Quit "),
            (40, " r Run  ? Help  q Quit "),
            (30, " ? Help  q Quit "),
        ):
            app = ManyKeysApp()
            async with app.run_test(size=(width, 5)) as pilot:
                await pilot.pause()
                text = bar_text(app)
                assert len(text) == width
                assert text.rstrip().removesuffix("▏^p palette").rstrip() == expected.rstrip()
        app = ManyKeysApp()
        async with app.run_test(size=(160, 5)) as pilot:  # room for all: all, in order
            await pilot.pause()
            assert bar_text(app).startswith(" r Run  c Continue  s Start here  t Tags  e Edit ")
            assert "? Help  q Quit " in bar_text(app)

    asyncio.run(run())
