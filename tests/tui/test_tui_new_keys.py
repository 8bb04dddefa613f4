"""The app's new keys on a finished demo run: p (products), R (results), L (runner.log),
/ n ] in the output pane, and --notify when a run ends."""

from __future__ import annotations

import time
from pathlib import Path

from test_output_view import sync
from test_tui_app import (  # noqa: F401
    TOUCH,
    _main_screen_ready,
    finished_demo,
    header,
    opened,
    runners,
    screen_text,
    snapshot_app,
    step,
    wait_header,
    wait_until,
    write_project,
)

from aw_tui.rundir.layout import RunLayout
from aw_tui.tui.messages import JournalUpdate
from aw_tui.tui.notify import notification, wants_notifications
from aw_tui.tui.products_screen import ProductsScreen
from aw_tui.tui.results_screen import ResultsScreen
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable


@sync
async def test_p_and_R_open_the_products_and_results_of_the_selected_step(
        finished_demo: Path) -> None:  # noqa: F811
    app = snapshot_app(finished_demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await _main_screen_ready(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, ProductsScreen)
        step = app.query_one(StepTable).cursor_step_id
        assert app.screen.title_text.startswith(f"products of step {step}")
        assert any(p.path.endswith(f"{step}.sex.log.xml") or p.kind == "image"
                   for p in app.screen.products)
        await pilot.press("escape")
        await pilot.press("R")
        assert isinstance(app.screen, ResultsScreen)
        assert app.screen.group.rows  # the SExtractor group of the demo
        assert all("SExtractor" in str(r) for r in app.screen.group.rows)
        await pilot.press("escape")
        assert not isinstance(app.screen, (ProductsScreen, ResultsScreen))


@sync
async def test_L_shows_runner_log_and_slash_searches_it(finished_demo: Path) -> None:  # noqa: F811
    app = snapshot_app(finished_demo)
    log = RunLayout(app.session.log_dir)
    Path(log.runner_log).write_text("started\nWARNING: something odd\nfinished\n")
    async with app.run_test(size=(80, 24)) as pilot:
        await _main_screen_ready(pilot)
        await pilot.press("L")
        view = app.query_one(OutputView)
        assert view.path == Path(log.runner_log)
        assert view.has_focus
        for _ in range(100):
            if view.line_count >= 3:
                break
            await pilot.pause(0.02)
        await pilot.press("right_square_bracket")
        assert view.current_line == 1
        await pilot.press("slash", *"finished", "enter")
        assert view.current_line == 2
        assert "1 line(s) match 'finished'" in app.message_line


@sync
async def test_notify_rings_and_sends_osc_9_and_777_when_a_watched_run_fails(
        finished_demo: Path) -> None:  # noqa: F811
    app = snapshot_app(finished_demo)
    app.notify_run_end = True
    sent: list[str] = []
    app.notify_writer = sent.append
    async with app.run_test(size=(80, 24)) as pilot:
        await _main_screen_ready(pilot)
        old = {"event": "run_finished", "time": time.time() - 3600}
        app.post_message(JournalUpdate([old], None))  # an old run's end: no notification
        await pilot.pause()
        assert sent == []
        failed = {"event": "run_failed", "time": time.time(), "error_msg": "SCAMP failed"}
        app.post_message(JournalUpdate([failed], None))
        await pilot.pause()
        assert len(sent) == 1
        assert sent[0].startswith("\a") and "\x1b]9;" in sent[0] and "\x1b]777;notify;" in sent[0]
        assert "run FAILED: SCAMP failed" in sent[0]


def test_notification_escapes_and_tmux_passthrough() -> None:
    plain = notification("aw-tui demo", "run finished", tmux=False)
    assert plain == ("\a\x1b]9;aw-tui demo: run finished\a"
                     "\x1b]777;notify;aw-tui demo;run finished\a")
    wrapped = notification("aw-tui demo", "run finished", tmux=True)
    assert wrapped.startswith("\a\x1bPtmux;\x1b\x1b]9;aw-tui demo: run finished\a\x1b\\")
    assert "\x1bPtmux;\x1b\x1b]777;notify;" in wrapped
    hostile = notification("t", "x\x1b]52;c;evil\a;y", tmux=False)
    assert hostile.count("\x1b") == 2 and ";evil" not in hostile  # inert, no field breaks


def test_wants_notifications_from_the_flag_or_the_environment() -> None:
    assert wants_notifications(True, {})
    assert wants_notifications(False, {"AW_TUI_NOTIFY": "1"})
    assert not wants_notifications(False, {"AW_TUI_NOTIFY": "0"})
    assert not wants_notifications(False, {})


@sync
async def test_a_failed_run_opens_on_its_failed_step_with_its_whole_error(
        tmp_path: Path, runners) -> None:  # noqa: F811
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "that-does-not-exist" / "b.txt"
    project = write_project(
        tmp_path,
        step(TOUCH, ["a"], path=str(tmp_path / "a.txt"))
        + step(TOUCH, ["b"], path=str(deep))  # raises, naming the whole path
        + step(TOUCH, ["c"], path=str(tmp_path / "c.txt")),
    )
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "failed at step 1")
    async with opened(project) as (app, pilot):  # opened again, later
        await wait_until(pilot, lambda: "failed at step 1" in header(app), 20, "header")
        assert app.query_one(StepTable).cursor_step_id == 1
        detail = app.query_one("#detail")
        assert detail.display
        await wait_until(  # wrapped over several lines: joined to compare
            pilot, lambda: "that-does-not-exist/b.txt" in "".join(screen_text(app).split()),
            10, "the whole error on screen")


def test_notify_flag_reaches_the_app(finished_demo: Path, monkeypatch) -> None:  # noqa: F811
    from aw_tui.cli.main import main
    from aw_tui.tui import app as app_module

    seen: list[bool] = []
    monkeypatch.setattr(app_module, "run_app",
                        lambda target, options, notify=False: seen.append(notify) or 0)
    assert main([str(finished_demo), "--notify"]) == 0
    assert main([str(finished_demo)]) == 0
    assert seen == [True, False]
