"""Issue 14, fix 10 (the small ones): the stop dialog names the step it stops and its
message goes once the run stopped; the palette has Filter and matches descriptions; its
screenshot is saved into the run directory and the app says where."""

from __future__ import annotations

from pathlib import Path

from test_output_view import sync
from test_tui_app import (  # noqa: F401
    SLEEP,
    log_dir,
    opened,
    runners,
    screen_text,
    statuses,
    step,
    type_text,
    wait_header,
    wait_until,
    write_project,
)
from textual.command import CommandPalette
from textual.widgets import Input

from aw_tui.tui.screens import StopScreen


@sync
async def test_the_stop_dialog_names_the_step_and_its_message_goes_after_the_stop(
        tmp_path, runners):  # noqa: F811
    # Step 0 lasts long enough for the dialog and the message on a loaded machine.
    project = write_project(tmp_path, step(SLEEP, ["step1", "SExtractor"], seconds=2.5)
                            + step(SLEEP, ["b"], seconds=0.1))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        await wait_until(pilot, lambda: "running on" in screen_text(app), 5, "live")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        assert "It is running step 0 (step1 SExtractor)." in screen_text(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: "stopping after step 0 (step1 SExtractor)"
                         in screen_text(app), 5, "message")
        await wait_header(pilot, "interrupted", 15)
        await wait_until(pilot, lambda: "run stopped (stop): c continues" in screen_text(app),
                         5, "the stop is over")
        assert "stopping after" not in screen_text(app)


async def palette_search(pilot, query: str) -> str:
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), 5, "palette")
    await type_text(pilot, query)
    await pilot.pause(0.5)
    return screen_text(pilot.app)


@sync
async def test_the_palette_matches_descriptions_and_has_filter(tmp_path, runners):  # noqa: F811
    project = write_project(tmp_path, step(SLEEP, ["alpha"], seconds=0)
                            + step(SLEEP, ["beta"], seconds=0))
    async with opened(project) as (app, pilot):
        text = await palette_search(pilot, "resu")
        assert "Continue" in text and "Resume from the checkpoint" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), 5, "closed")
        text = await palette_search(pilot, "Filter")
        assert "Filter the steps by tag or text" in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query_one("#filter", Input).has_focus, 5, "filter")
        await type_text(pilot, "beta")
        await wait_until(pilot, lambda: "alpha" not in screen_text(app), 5, "filtered")


@sync
async def test_the_screenshot_goes_into_the_run_directory_and_the_app_says_where(
        tmp_path, runners, monkeypatch):  # noqa: F811
    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0))
    monkeypatch.setenv("HOME", str(tmp_path / "no-such-home"))  # no ~/Downloads
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await palette_search(pilot, "Screenshot")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "screenshot saved:" in screen_text(app), 5, "saved")
        saved = list(Path(log_dir(project)).glob("*.svg"))
        assert len(saved) == 1
        assert saved[0].name[:20] in screen_text(app)
