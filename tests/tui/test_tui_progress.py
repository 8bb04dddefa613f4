"""Issue 14, fix 7: progress inside a running step, read from the tool's output, in the
running step's row and in the header (and fix 8: a step's output pane before it starts)."""

from __future__ import annotations

import re

from test_output_view import sync
from test_tui_app import (  # noqa: F401
    SLEEP,
    header,
    opened,
    runners,
    screen_text,
    statuses,
    step,
    table_rows,
    wait_header,
    wait_statuses,
    wait_until,
    write_project,
)

from aw_tui.tui.screens import StopScreen

PROGRESS = "aw_tui.testing_funcs:tool_progress"


@sync
async def test_the_running_step_shows_its_tools_progress_in_its_row_and_the_header(
        tmp_path, runners):  # noqa: F811
    """A step printing SWarp's ``Resampling line: 5720 / 8887`` shows 64 % with a bar;
    when it ends its row shows its summary again and the header no progress."""
    project = write_project(tmp_path, step(PROGRESS, ["stack"], lines=8887, upto=5720,
                                           every=1000, hold=30)
                            + step(SLEEP, ["after"], seconds=0.1))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: "64% Resampling (file 1)" in table_rows(app)
                         .get(0, {}).get("line", ""), 20, "progress in the row")
        row = table_rows(app)[0]["line"]
        assert re.search(r"█+[▏▎▍▌▋▊▉]?░+ 64% Resampling \(file 1\)", row), row
        top = header(app)
        assert re.search(r"pid \d+ ▶ (step 0 )?█+[▏▎▍▌▋▊▉]?░+ 64%  ✔0", top), top  # as fits
        assert "since" not in top  # the progress takes the place of the start time
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        await pilot.press("n")
        await wait_statuses(pilot, {0: "interrupted"}, 20)
        # the journal line that ends the step takes its progress away (not the next look)
        assert "%" not in table_rows(app)[0]["line"] and "▶" not in header(app)


@sync
async def test_a_step_that_has_not_started_says_so_and_a_python_steps_output_shows(
        tmp_path, runners):  # noqa: F811
    """Fix 8: the output pane of a pending step says "not started" (not "waiting for
    output"); a Python step's own output (captured to steps/<id>.out) shows like a tool's."""
    project = write_project(tmp_path, step(SLEEP, ["first"], seconds=0.1)
                            + step(PROGRESS, ["py"], lines=10, every=5))
    async with opened(project) as (app, pilot):
        await pilot.press("j")
        await wait_until(pilot, lambda: "step 1 has not started" in screen_text(app), 5,
                         "not started")
        assert "waiting for output" not in screen_text(app)
        await pilot.press("r")
        await wait_header(pilot, "finished", 30)
        await pilot.press("j")
        await wait_until(pilot, lambda: "All done" in screen_text(app), 10, "python output")
        assert "----- SWarp 2.41.5 started" in screen_text(app)
        assert statuses(app) == {0: "success", 1: "success"}


@sync
async def test_journal_lines_that_arrive_while_the_app_closes_are_dropped(tmp_path):
    """Seen in bench_tui (on main too): a JournalUpdate handled after the screen's widgets
    are gone raised NoMatches and ended the app with a traceback."""
    from aw_tui.tui.messages import JournalUpdate
    from aw_tui.tui.widgets.step_table import StepTable

    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0))
    async with opened(project) as (app, pilot):
        await app.query_one(StepTable).remove()
        app.post_message(JournalUpdate([{"event": "step_started", "step_id": 0}]))
        await pilot.pause(0.2)
        assert app.return_code is None and app.is_running
