"""The TUI app under Pilot, against real runs of small pipelines (issue 5, "Must show").

Every test opens a project written to ``tmp_path`` (steps from ``aw_tui.testing_funcs``),
drives the app with keys at 80x24 and checks what the screen shows: the header line, the
step table's status column, dialogs, the output and detail panes. The runs are real: ``r``
and ``c`` start the detached ``python -m aw_tui PROJECT --batch`` runner, and side-effect
files written by ``touch`` steps tell which steps really ran. Every runner a test starts is
waited for (or killed) in teardown.

The snapshot tests at the end paint a finished demo-like run whose journal, checkpoint and
output are written here with fixed times and fixed paths, so the pictures never change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.command import CommandPalette

from aw_tui import load_pipeline
from aw_tui.launch import RunRequest, start_runner
from aw_tui.project import load_project
from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import RunStore, read_lock
from aw_tui.target import resolve_target
from aw_tui.tui import session as session_module
from aw_tui.tui.app import AwTuiApp, run_app
from aw_tui.tui.screens import ConfirmScreen, EditScreen, HelpScreen, StopScreen, TagsScreen
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.output_view import OutputView
from aw_tui.tui.widgets.step_table import StepTable

SLEEP = "aw_tui.testing_funcs:sleep"
TOUCH = "aw_tui.testing_funcs:touch"
PRINT = "aw_tui.testing_funcs:print_lines"
SUCCEED = "aw_tui.testing_funcs:succeed"

SIZE = (80, 24)
ROW = re.compile(
    r"(?P<mark>[» ])\s*(?P<index>\d*) +(?P<id>\d+) (?P<symbol>\S) "
    r"(?P<status>pending|running|success|error|unknown|skipped|interrupted|stale|unchecked)\b"
)


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with ``asyncio.run`` (no asyncio plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


# -- projects --------------------------------------------------------------------------
def step(func: str, tags: list[str], **kwargs: Any) -> str:
    """One ``[[steps]]`` table."""
    text = f'[[steps]]\nfunc = "{func}"\ntags = {json.dumps(tags)}\n'
    if kwargs:
        text += "[steps.kwargs]\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in kwargs.items()
        )
    return text


def write_project(folder: Path, steps: str, create_paths: bool = True) -> Path:
    """A project whose run directory is ``folder/work/log``."""
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text(
        f'[pipeline]\nname = "t"\ncreate_paths = {str(create_paths).lower()}\n'
        '[paths]\ntemp = "work/temp"\nlog = "work/log"\n' + steps
    )
    return project


def log_dir(project: Path) -> Path:
    return project.parent / "work" / "log"


def five_sleeps(seconds: float = 0.3, lines: int = 5) -> str:
    """Five ``sleep`` steps and a ``print_lines`` step (tags s0..s4, out)."""
    return "".join(step(SLEEP, [f"s{i}"], seconds=seconds) for i in range(5)) + step(
        PRINT, ["out"], lines=lines
    )


def events_of(project: Path) -> list[dict[str, Any]]:
    return read_events(str(log_dir(project)))


def kinds(project: Path) -> list[str]:
    return [e["event"] for e in events_of(project)]


# -- what the user sees ----------------------------------------------------------------
def screen_text(app: AwTuiApp) -> str:
    """The whole terminal as plain text (dialogs included), as the user sees it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens
    ))
    return console.export_text()


def header(app: AwTuiApp) -> str:
    return screen_text(app).splitlines()[0]


def table_rows(app: AwTuiApp) -> dict[int, dict[str, str]]:
    """The step table's rows on screen: step id -> mark, index, symbol, status, line."""
    rows: dict[int, dict[str, str]] = {}
    for line in screen_text(app).splitlines()[1:]:
        match = ROW.match(line)
        if match:
            rows[int(match["id"])] = {**match.groupdict(), "line": line}
    return rows


def statuses(app: AwTuiApp) -> dict[int, str]:
    return {step_id: row["status"] for step_id, row in table_rows(app).items()}


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 20.0,
                     what: str = "condition") -> Any:
    """Let the app run until ``predicate()`` is true; fail with the screen otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s; the screen:\n"
                                 + screen_text(pilot.app))
        await pilot.pause(0.05)


async def wait_statuses(pilot: Any, expected: dict[int, str], timeout: float = 30.0) -> None:
    await wait_until(
        pilot, lambda: all(statuses(pilot.app).get(k) == v for k, v in expected.items()),
        timeout, f"statuses {expected}",
    )


async def wait_header(pilot: Any, text: str, timeout: float = 30.0) -> None:
    await wait_until(pilot, lambda: text in header(pilot.app), timeout, f"header {text!r}")


async def type_text(pilot: Any, text: str) -> None:
    """Type text key by key (newlines as enter)."""
    await pilot.press(*("enter" if ch == "\n" else ch for ch in text))


# -- runners ---------------------------------------------------------------------------
def _end(proc: subprocess.Popen, grace: float) -> None:
    """Wait for a runner; kill its process group when it does not end in ``grace`` s."""
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def runners(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Record every runner the app starts; end them all in teardown (no leaked processes)."""
    started: list[subprocess.Popen] = []
    real = session_module.start_runner

    def recording(*args: Any, **kwargs: Any) -> subprocess.Popen:
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(session_module, "start_runner", recording)
    yield started
    for proc in started:
        _end(proc, grace=0.0 if proc.poll() is None else 5.0)


@contextlib.asynccontextmanager
async def opened(project: Path, wait_loaded: bool = True) -> AsyncIterator[tuple[AwTuiApp, Any]]:
    """The app on ``project`` at 80x24, its steps loaded."""
    app = AwTuiApp(Session(resolve_target(str(project))), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        if wait_loaded:
            await wait_until(pilot, lambda: app._loaded, 20, "steps loaded")
            unfold_groups(app)
            await wait_until(pilot, lambda: table_rows(app), 20, "rows shown")
        yield app, pilot


def unfold_groups(app: AwTuiApp) -> None:
    """Show every step's own row: these tests read the rows of a ``foreach`` step's members
    (folded into one row at first: see test_tui_groups.py)."""
    app.query_one(StepTable).action_unfold_all()


# -- r: run ----------------------------------------------------------------------------
@sync
async def test_r_runs_to_success_and_asks_before_overwriting_finished_results(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.2))
    async with opened(project) as (app, pilot):
        assert statuses(app) == dict.fromkeys(range(6), "pending")
        assert "idle" in header(app)
        await pilot.press("r")
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to overwrite yet
        await wait_until(pilot, lambda: "running on" in header(app), 10, "running header")
        await wait_until(pilot, lambda: "running" in statuses(app).values(), 20, "a step runs")
        await wait_statuses(pilot, dict.fromkeys(range(6), "success"))
        await wait_header(pilot, "finished")
        assert "✔6 ✘0 ·0" in header(app)
        assert all(row["symbol"] == "✔" for row in table_rows(app).values())
        assert "run finished" in screen_text(app)
        # r again: the finished results would be replaced -> confirm; n keeps them.
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
        assert "6 finished step(s) will run again" in screen_text(app)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ConfirmScreen)
        assert kinds(project).count("run_started") == 1
        # ... and y runs them again.
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: kinds(project).count("run_finished") == 2, 30, "rerun")
        await wait_header(pilot, "finished")
        assert statuses(app) == dict.fromkeys(range(6), "success")
    assert len(runners) == 2


@sync
async def test_a_run_shorter_than_the_lock_check_still_ends_in_the_header(tmp_path, runners):
    """A runner that finishes before the app ever sees its lock must not stay 'running'."""
    project = write_project(tmp_path, "".join(step(SUCCEED, ["a"], n=i) for i in range(3)))
    async with opened(project) as (app, pilot):
        app.query_one(StepTable)  # loaded
        await pilot.press("r")
        await wait_statuses(pilot, dict.fromkeys(range(3), "success"))
        await wait_header(pilot, "finished", 15)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5,
                         "r is accepted again")


# -- c: continue after a failure, fixed with e ----------------------------------------
@sync
async def test_c_continues_after_a_failure_fixed_with_e_without_rerunning(tmp_path, runners):
    side = tmp_path / "side.txt"
    bad = tmp_path / "no-such-folder" / "b.txt"
    good = tmp_path / "b.txt"
    project = write_project(
        tmp_path,
        step(TOUCH, ["a"], path=str(side))
        + step(TOUCH, ["b"], path=str(bad))  # raises: the folder does not exist
        + step(TOUCH, ["c"], path=str(side)),
    )
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "failed at step 1")
        assert statuses(app) == {0: "success", 1: "error", 2: "pending"}
        assert "✘1" in header(app)
        assert side.read_text().count("\n") == 1
        # e on the failed step (the table follows the run, so the cursor is on it)
        assert app.query_one(StepTable).cursor_step_id == 1
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 5, "editor")
        assert "no-such-folder" in screen_text(app)
        await pilot.press("f7")  # select all
        await type_text(pilot, f'path = "{good}"')
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), 5, "saved")
        await wait_until(pilot, lambda: "step 1 saved" in screen_text(app), 5, "message")
        # c: resume; step 0 is not run again, steps 1 and 2 run.
        await pilot.press("c")
        await wait_header(pilot, "finished")
        assert statuses(app) == dict.fromkeys(range(3), "success")
    assert side.read_text().count("\n") == 2  # step 0 once + step 2 once
    assert good.read_text().count("\n") == 1
    assert load_project(project).steps[1].kwargs == {"path": str(good)}  # the file too
    started = [e for e in events_of(project) if e["event"] == "run_started"]
    assert started[-1]["resume"] is True
    ran = [e["step_id"] for e in events_of(project) if e["event"] == "step_started"]
    assert ran == [0, 1, 1, 2]


# -- s: start index ----------------------------------------------------------------------
@sync
async def test_s_sets_the_start_marker_and_r_starts_there(tmp_path, runners):
    sides = [tmp_path / f"side{i}.txt" for i in range(5)]
    project = write_project(tmp_path, "".join(step(TOUCH, [f"t{i}"], path=str(p))
                                              for i, p in enumerate(sides)))
    async with opened(project) as (app, pilot):
        await pilot.press("j", "j", "s")
        await wait_until(pilot, lambda: table_rows(app)[2]["mark"] == "»", 5, "marker")
        assert [r["mark"] for r in table_rows(app).values()] == [" ", " ", "»", " ", " "]
        assert "start 2" in header(app)
        assert "start index 2" in screen_text(app)
        # s on the same step clears it; s again sets it.
        await pilot.press("s")
        await wait_until(pilot, lambda: table_rows(app)[2]["mark"] == " ", 5, "cleared")
        assert "start" not in header(app).split("·")[-1]
        await pilot.press("s")
        await pilot.press("r")
        await wait_header(pilot, "finished")
        # Steps 2-4 ran (the journal says success), but a step that reads no file depends
        # on every step before it (the seed's order) and steps 0-1 never ran: their
        # results are not current, as `aw-tui check` says (issue 12).
        await wait_statuses(pilot, {0: "skipped", 1: "skipped", 2: "stale", 3: "stale",
                                    4: "stale"}, 5)
        assert "steps[0] has not run yet" in table_rows(app)[2]["line"]
        assert [app.session.state.step(i).status for i in range(5)] == [
            "skipped", "skipped", "success", "success", "success"]
    assert [p.exists() for p in sides] == [False, False, True, True, True]


@sync
async def test_c_with_a_start_index_continues_from_there(tmp_path, runners):
    """After a finished run, s on step 3 then c: steps 3 and 4 run again (resume=True,
    start_idx=3), steps 0-2 keep their results and are not run."""
    sides = [tmp_path / f"side{i}.txt" for i in range(5)]
    project = write_project(tmp_path, "".join(step(TOUCH, [f"t{i}"], path=str(p))
                                              for i, p in enumerate(sides)))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("g", "j", "j", "j", "s")
        await wait_until(pilot, lambda: table_rows(app)[3]["mark"] == "»", 5, "marker")
        await pilot.press("c")
        await wait_until(pilot, lambda: kinds(project).count("run_finished") == 2, 30,
                         "second run")
        await wait_header(pilot, "finished")
        assert statuses(app) == dict.fromkeys(range(5), "success")
    assert [p.read_text().count("\n") for p in sides] == [1, 1, 1, 2, 2]
    started = [e for e in events_of(project) if e["event"] == "run_started"]
    assert (started[-1]["resume"], started[-1]["start_idx"]) == (True, 3)


async def from_palette(pilot: Any, query: str, offered: str) -> None:
    """Open the command palette, type ``query``, check ``offered`` is listed, pick it."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette), 5, "palette")
    await type_text(pilot, query)
    await wait_until(pilot, lambda: offered in screen_text(pilot.app), 5, f"{offered!r} offered")
    await pilot.press("enter")


@sync
async def test_the_command_palette_runs_the_actions(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05, lines=3))
    async with opened(project) as (app, pilot):
        await from_palette(pilot, "Set start", "Start at the selected step")
        await wait_until(pilot, lambda: table_rows(app)[0]["mark"] == "»", 5, "marker")
        await from_palette(pilot, "Run tags", "Choose run / ignore tags")
        await wait_until(pilot, lambda: isinstance(app.screen, TagsScreen), 5, "tags dialog")
        await pilot.press("escape")
        await from_palette(pilot, "Run", "Run from the start index")
        await wait_header(pilot, "finished")
        assert statuses(app) == dict.fromkeys(range(6), "success")


# -- t: tags -----------------------------------------------------------------------------
@sync
async def test_t_tags_dialog_runs_only_tagged_steps(tmp_path, runners):
    sides = [tmp_path / f"side{i}.txt" for i in range(4)]
    tags = [["a"], ["b"], ["a", "x"], ["b"]]
    project = write_project(tmp_path, "".join(step(TOUCH, t, path=str(p))
                                              for t, p in zip(tags, sides, strict=True)))
    async with opened(project) as (app, pilot):
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagsScreen), 5, "tags dialog")
        text = screen_text(app)
        assert "Run only steps with one of these tags" in text
        assert "Tags in this pipeline: a, b, x" in text
        await type_text(pilot, "a")
        await pilot.press("tab")
        await type_text(pilot, "x")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, TagsScreen), 5, "closed")
        assert "tags a -x" in header(app)
        await pilot.press("r")
        await wait_header(pilot, "finished")
        rows = table_rows(app)
        assert rows[0]["status"] == "success" and rows[0]["index"] == "0"
        for step_id in (1, 2, 3):  # not selected: no run index, skipped
            assert rows[step_id]["status"] == "skipped" and rows[step_id]["index"] == ""
        # escape cancels the dialog and keeps the tags
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagsScreen), 5, "tags dialog")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TagsScreen), 5, "closed")
        assert "tags a -x" in header(app)
    assert [p.exists() for p in sides] == [True, False, False, False]


# -- e: edit -----------------------------------------------------------------------------
@sync
async def test_e_invalid_toml_shows_line_and_column_and_valid_toml_saves(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.1))
    log = log_dir(project)
    async with opened(project) as (app, pilot):
        await pilot.press("j", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 5, "editor")
        text = screen_text(app)
        assert "Edit step 1" in text and "seconds = 0.1" in text
        await pilot.press("f7")
        await type_text(pilot, "seconds = 0.05\nlabel = \nx = 1")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "not saved" in screen_text(app), 5, "error shown")
        assert "Invalid value at line 2, column 9" in screen_text(app)
        assert isinstance(app.screen, EditScreen)  # still open, nothing written
        assert not (log / "pipeline.p").exists()
        # an error at the very end has a line and column too (tomllib says "end of document")
        await pilot.press("f7")
        await type_text(pilot, "seconds = 0.05\nlabel = ")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "line 2, column 9" in screen_text(app), 5, "at end")
        assert isinstance(app.screen, EditScreen)
        assert not (log / "pipeline.p").exists()
        await type_text(pilot, '"fixed"')
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), 5, "saved")
        await wait_until(pilot, lambda: "step 1 saved" in screen_text(app), 5, "message")
        # d shows the new kwargs
        await pilot.press("d")
        await wait_until(pilot, lambda: 'label = "fixed"' in screen_text(app), 5, "detail")
        # escape in the editor cancels
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 5, "editor")
        await pilot.press("f7")
        await type_text(pilot, "seconds = 9")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), 5, "cancel")
    # a project: the edit is in the project file (no run yet, so no checkpoint)
    steps = load_project(project).steps
    assert steps[1].kwargs == {"seconds": 0.05, "label": "fixed"}
    assert steps[0].kwargs == {"seconds": 0.1}
    assert 'seconds = 0.05\nlabel = "fixed"\n' in project.read_text()
    assert not (log / "pipeline.p").exists()


@sync
async def test_e_during_a_live_run_is_sent_to_the_runner_and_applies_when_the_step_starts(
    tmp_path, runners
):
    project = write_project(
        tmp_path,
        # 2.5 s steps: the run must still be live when the test edits a step that ran (a
        # few key presses and dialogs after step 1 starts: slow on a loaded machine).
        "".join(step(SLEEP, [f"s{i}"], seconds=2.5) for i in range(3)) + step(SUCCEED, ["z"],
                                                                             n=1),
    )
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        await pilot.press("G")  # the pending last step; the table stops following
        assert app.query_one(StepTable).cursor_step_id == 3
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 5, "editor")
        assert "the run is live" in screen_text(app)
        await pilot.press("f7")
        await type_text(pilot, "n = 42")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "sent to the live run" in screen_text(app), 5, "sent")
        assert statuses(app)[3] == "pending"
        # the cursor stays where the user put it while later steps start
        await wait_until(pilot, lambda: statuses(app).get(1) == "running", 10, "step 1 runs")
        assert app.query_one(StepTable).cursor_step_id == 3
        # a step that already ran is refused
        await pilot.press("g", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 5, "editor")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "has already run" in screen_text(app), 5, "refused")
        await wait_header(pilot, "finished")
        # The project file is the one definition of the steps: the edit sent to the live
        # run made the step run with n = 42; unless the project file says so too, that
        # result is not current (issue 12), and the row says why.
        if "n = 42" in project.read_text():
            await wait_until(pilot, lambda: "n=42" in table_rows(app)[3]["line"], 5, "n=42")
        else:
            await wait_statuses(pilot, {3: "stale"}, 5)
            assert "n 42 -> 1" in table_rows(app)[3]["line"]
    edits = [e for e in events_of(project) if e["event"] == "edit_applied"]
    assert [(e["step_id"], e["source"], e["func_kwargs"]) for e in edits] == [
        (3, "control", {"n": 42})
    ]
    assert load_pipeline(str(log_dir(project))).get_step(3).func_kwargs == {"n": 42}


# -- x: stop -----------------------------------------------------------------------------
@sync
async def test_x_stop_now_interrupts_the_running_step(tmp_path, runners):
    """A Python step is interrupted as soon as its blocking call returns."""
    project = write_project(tmp_path, step(SLEEP, ["long"], seconds=2.0)
                            + step(SLEEP, ["b"], seconds=0.1))
    async with opened(project) as (app, pilot):
        await pilot.press("x")
        assert "no live run to stop" in screen_text(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        await wait_until(pilot, lambda: "running on" in header(app), 5, "live")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        text = screen_text(app)
        assert "now: kill the running tool" in text
        assert "after the current step ends" in text
        await pilot.press("n")
        # "stopping now", until the journal says the run stopped ("run stopped (stop)")
        await wait_until(pilot, lambda: "stopping now" in screen_text(app)
                         or "run stopped (stop)" in screen_text(app), 5, "message")
        await wait_statuses(pilot, {0: "interrupted", 1: "pending"}, 15)
        await wait_header(pilot, "interrupted (stop)", 15)
        assert table_rows(app)[0]["symbol"] == "‖"
    interrupted = [e for e in events_of(project) if e["event"] == "run_interrupted"]
    assert interrupted and interrupted[-1]["reason"] == "stop"
    assert runners[0].wait(timeout=10) == 130
    assert [e["step_id"] for e in events_of(project) if e["event"] == "step_started"] == [0]


@sync
async def test_x_stop_now_kills_the_running_tool(tmp_path, runners):
    """A step running a tool (a child process printing for 30 s): the tool is killed."""
    project = write_project(tmp_path, step(PRINT, ["long"], lines=300, delay=0.1)
                            + step(SLEEP, ["b"], seconds=0.1))
    out = log_dir(project) / "steps" / "0.out"
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: "> line 3" in screen_text(app), 20, "tool output")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        started = time.monotonic()
        await pilot.press("n")
        await wait_until(pilot, lambda: runners[0].poll() is not None, 15, "runner ends")
        assert time.monotonic() - started < 10  # not the 30 s of the tool
        await wait_until(pilot, lambda: "running on" not in header(app), 5, "not live")
        lines = out.read_bytes().count(b"\n")
        assert 0 < lines < 300
        await pilot.pause(0.5)
        assert out.read_bytes().count(b"\n") == lines  # the tool is gone
        assert statuses(app)[1] == "pending"  # nothing ran after the stop
        assert statuses(app)[0] == "interrupted"
        await wait_header(pilot, "interrupted (stop)", 5)


@sync
async def test_x_stop_after_step_lets_the_current_step_finish(tmp_path, runners):
    # Step 0 must still be running when "a" is pressed (a few dialogs after it started):
    # with 1 s it sometimes ended first on a loaded machine, and the stop came after step 1.
    project = write_project(tmp_path, step(SLEEP, ["s0"], seconds=3.0)
                            + "".join(step(SLEEP, [f"s{i}"], seconds=1.0) for i in (1, 2)))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        await pilot.press("a")
        await wait_until(pilot, lambda: "stopping after step 0 (s0)" in screen_text(app),
                         5, "message")
        await wait_header(pilot, "interrupted", 15)
        assert statuses(app) == {0: "success", 1: "pending", 2: "pending"}
        # escape in the stop dialog keeps a run going; here nothing is live any more
        await pilot.press("x")
        assert "no live run to stop" in screen_text(app)
    assert [e["step_id"] for e in events_of(project) if e["event"] == "step_started"] == [0]


# -- enter, f: output ---------------------------------------------------------------------
@sync
async def test_enter_focuses_the_output_of_the_selected_step(tmp_path, runners):
    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0.05) + step(PRINT, ["out"],
                                                                             lines=12))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("g")
        assert "> line" not in screen_text(app)
        await pilot.press("j", "enter")
        assert isinstance(app.focused, OutputView)
        await wait_until(pilot, lambda: "> line 11" in screen_text(app), 5, "output shown")
        # escape goes back to the table
        await pilot.press("escape")
        assert isinstance(app.focused, StepTable)


@sync
async def test_f_follows_the_running_step(tmp_path, runners):
    project = write_project(
        tmp_path, step(SLEEP, ["a"], seconds=0.2) + step(PRINT, ["out"], lines=60, delay=0.05)
        + step(SLEEP, ["c"], seconds=0.1),
    )
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        await pilot.press("G")  # look elsewhere: the table no longer follows
        await wait_until(pilot, lambda: statuses(app).get(1) == "running", 10, "step 1 runs")
        assert app.query_one(StepTable).cursor_step_id == 2
        assert "> line" not in screen_text(app)
        await pilot.press("f")
        assert app.query_one(StepTable).cursor_step_id == 1
        await wait_until(pilot, lambda: "> line" in screen_text(app), 10, "live output")
        await wait_header(pilot, "finished")
        # following again: the next step that started took the cursor
        assert app.query_one(StepTable).cursor_step_id == 2


TOOLISH = """
def tool(name="a b"):
    return {"status": "success", "argv": [["sex", name, "-c", "x;y.sex"], ["echo", "done"]]}
"""


@sync
async def test_y_copies_the_command_line_of_the_selected_step(tmp_path, runners):
    (tmp_path / "toolish.py").write_text(TOOLISH)
    project = write_project(tmp_path, step(SUCCEED, ["a"], n=1) + step("toolish.py:tool",
                                                                       ["b"]))
    async with opened(project) as (app, pilot):
        await pilot.press("y")
        assert "step 0 has no command line" in screen_text(app)
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("G", "y")
        assert app.clipboard == "sex 'a b' -c 'x;y.sex'\necho done"
        assert "copied step 1's command line" in screen_text(app)
        await pilot.press("d")
        await wait_until(pilot, lambda: "$ sex 'a b' -c 'x;y.sex'" in screen_text(app), 5,
                         "the command line in the details")


# -- d, /, ?, movement ----------------------------------------------------------------------
@sync
async def test_d_details_and_jkgG_movement(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05))
    async with opened(project) as (app, pilot):
        assert "kwargs:" not in screen_text(app)
        await pilot.press("d")
        await wait_until(pilot, lambda: "step 0" in screen_text(app), 5, "detail")
        text = screen_text(app)
        assert "step 0  sleep  tags: s0" in text
        assert "kwargs:" in text and "seconds = 0.05" in text

        async def detail_of(step_id: int) -> None:
            await wait_until(pilot, lambda: f"step {step_id} " in screen_text(app), 5,
                             f"detail of step {step_id}")

        await pilot.press("j", "j")
        await detail_of(2)
        await pilot.press("k")
        await detail_of(1)
        await pilot.press("G")
        await detail_of(5)
        assert "lines = 5" in screen_text(app)
        await pilot.press("g")
        await detail_of(0)
        await pilot.press("k")  # stays on the first
        await detail_of(0)
        await pilot.press("down", "down", "up")
        await detail_of(1)
        await pilot.press("d")
        await wait_until(pilot, lambda: "kwargs:" not in screen_text(app), 5, "hidden")
        # after a run the details show status and summary
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("d")
        await wait_until(pilot, lambda: "status: success" in screen_text(app), 5, "status")


@sync
async def test_slash_filters_the_table(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05))
    async with opened(project) as (app, pilot):
        await pilot.press("slash")
        assert "filter: tag or text" in screen_text(app)
        await type_text(pilot, "print")
        await wait_until(pilot, lambda: list(table_rows(app)) == [5], 5, "filtered")
        await pilot.press("enter")  # applies, back to the table
        assert isinstance(app.focused, StepTable)
        assert list(table_rows(app)) == [5]
        await pilot.press("slash")
        await pilot.press("backspace", *["backspace"] * 4)
        await type_text(pilot, "s3")
        await wait_until(pilot, lambda: list(table_rows(app)) == [3], 5, "by tag")
        await pilot.press("escape")  # clears
        await wait_until(pilot, lambda: list(table_rows(app)) == list(range(6)), 5, "cleared")
        assert "filter: tag or text" not in screen_text(app)


@sync
async def test_question_mark_shows_help(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05))
    async with opened(project) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "help")
        text = screen_text(app)
        assert "aw-tui keys" in text
        for words in ("run from the start index", "continue", "start index", "edit", "stop"):
            assert words in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), 5, "closed")


# -- q: quit with a live run ------------------------------------------------------------------
def test_q_with_a_live_run_leaves_it_going_and_says_how_to_come_back(
    tmp_path, runners, monkeypatch, capsys
):
    project = write_project(tmp_path, "".join(step(SLEEP, [f"s{i}"], seconds=0.6)
                                              for i in range(4)))

    async def user(pilot: Any) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app._loaded and table_rows(app), 20, "loaded")
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "running")
        await pilot.press("q")

    real_run = AwTuiApp.run
    monkeypatch.setattr(AwTuiApp, "run", lambda self, **kw: real_run(
        self, headless=True, size=SIZE, auto_pilot=user))
    target = resolve_target(str(project))
    assert run_app(target, None) == 0
    out = capsys.readouterr().out
    (proc,) = runners
    assert f"the run goes on (pid {proc.pid}" in out
    assert f"aw-tui {target.path}" in out
    assert proc.poll() is None  # the runner outlives the app
    lock = read_lock(str(log_dir(project)))
    assert lock is not None and lock.pid == proc.pid
    assert proc.wait(timeout=30) == 0
    assert kinds(project)[-1] == "run_finished"


def test_q_without_a_live_run_says_nothing(tmp_path, runners, monkeypatch, capsys):
    project = write_project(tmp_path, five_sleeps(0.05))

    async def user(pilot: Any) -> None:
        await wait_until(pilot, lambda: pilot.app._loaded, 20, "loaded")
        await pilot.press("q")

    real_run = AwTuiApp.run
    monkeypatch.setattr(AwTuiApp, "run", lambda self, **kw: real_run(
        self, headless=True, size=SIZE, auto_pilot=user))
    assert run_app(resolve_target(str(project)), None) == 0
    assert capsys.readouterr().out == ""


# -- attach to a live run ----------------------------------------------------------------------
@sync
async def test_opening_a_project_whose_run_is_live_attaches_to_it(tmp_path, runners):
    project = write_project(tmp_path, "".join(step(SLEEP, [f"s{i}"], seconds=0.4)
                                              for i in range(5)))
    log = log_dir(project)
    proc = start_runner(str(project), str(log), RunRequest(start_idx=0))
    runners.append(proc)
    deadline = time.monotonic() + 20
    while not any(e["event"] == "step_started" for e in read_events(str(log))):
        assert time.monotonic() < deadline and proc.poll() is None, "the runner did not start"
        await asyncio.sleep(0.05)
    async with opened(project) as (app, pilot):
        await wait_header(pilot, f"pid {proc.pid}", 10)
        assert "running on" in header(app)
        await wait_until(pilot, lambda: "running" in statuses(app).values(), 10, "running row")
        # r is refused while that run is live
        await pilot.press("r")
        assert f"a run is live (pid {proc.pid})" in screen_text(app)
        await wait_statuses(pilot, dict.fromkeys(range(5), "success"))
        await wait_header(pilot, "finished")
    assert proc.wait(timeout=10) == 0
    assert len(runners) == 1  # the app started none


# -- create missing paths? -----------------------------------------------------------------------
@sync
async def test_missing_folders_are_created_after_the_dialog(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05), create_paths=False)
    async with opened(project, wait_loaded=False) as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "dialog")
        text = screen_text(app)
        assert "These folders of the project do not exist" in text
        assert "Create them?" in text
        assert "work/temp" in text and "work/log" in text
        await pilot.press("y")
        await wait_until(pilot, lambda: len(table_rows(app)) == 6, 10, "loaded")
        assert (tmp_path / "work" / "temp").is_dir() and log_dir(project).is_dir()
        await pilot.press("r")
        await wait_header(pilot, "finished")


@sync
async def test_missing_folders_refused_loads_nothing_and_says_why(tmp_path, runners):
    project = write_project(tmp_path, five_sleeps(0.05), create_paths=False)
    async with opened(project, wait_loaded=False) as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "dialog")
        await pilot.press("n")
        await wait_until(pilot, lambda: "Folders missing" in screen_text(app), 5, "message")
        assert table_rows(app) == {}
        await pilot.press("r")
        assert "still loading" in screen_text(app) or "nothing loaded" in screen_text(app)
    assert not (tmp_path / "work").exists()
    assert runners == []


# -- snapshots ------------------------------------------------------------------------------
# A finished run of the demo project, written here rather than run: fixed times and
# durations in the journal, kwargs and summaries with their paths under /data/aw-demo instead
# of tmp_path, a fixed SExtractor output for step 0. The app reads it like any run directory.
FAKE_ROOT = "/data/aw-demo"
T0 = 1_700_000_000.0
DEMO_SUMMARIES: list[tuple[float, dict[str, Any]]] = [
    (0.38, {"image": "{root}/images/206401.fits", "ndetect": 120, "detections": 109,
            "extensions": [{"extension": 1, "ndetect": 120, "nsextracted": 109,
                            "background_mean": 1004.62, "background_stdev": 35.64}]}),
    (0.35, {"image": "{root}/images/206402.fits", "ndetect": 120, "detections": 103,
            "extensions": [{"extension": 1, "ndetect": 120, "nsextracted": 103,
                            "background_mean": 1002.96, "background_stdev": 35.23}]}),
    (0.35, {"image": "{root}/images/206403.fits", "ndetect": 123, "detections": 118,
            "extensions": [{"extension": 1, "ndetect": 123, "nsextracted": 118,
                            "background_mean": 1003.95, "background_stdev": 35.42}]}),
    (0.66, {"nfields": 3, "ndetect": 156, "astrom_sigma_internal_total": 1.193,
            "astrom_sigma_reference_total": 1.667, "xy_contrast": 1.03444}),
    (2.37, {"image": "{root}/work/temp/test_stack.fits", "ninputs": 3, "ninputs_done": 3,
            "image_size": [557, 316]}),
    (0.85, {"image": "{root}/work/temp/test_stack.fits", "ndetect": 319, "detections": 277,
            "extensions": [{"extension": 1, "ndetect": 319, "nsextracted": 277,
                            "background_mean": 0.59, "background_stdev": 29.92}]}),
    (13.75, {"nfields": 1, "nstars_loaded": 31, "nstars_accepted": 28, "fwhm_mean": 4.0938}),
    (1.05, {"image": "{root}/work/temp/test_stack.fits", "ndetect": 319, "detections": 277,
            "extensions": [{"extension": 1, "ndetect": 319, "nsextracted": 277,
                            "background_mean": 0.59, "background_stdev": 29.92}]}),
    (0.01, {"stack": "test_stack.fits"}),
]
SEX_OUTPUT = (
    "\x1b[1M> \n\x1b[1A----- Source Extractor 2.25.0 started on 2023-11-14 at 22:13:20 with 1 "
    "thread\n\n\x1b[1M> Setting catalog parameters\n\x1b[1A\x1b[1M> Initializing catalog\n"
    "\x1b[1A\x1b[1M> Looking for 206401.fits\n\x1b[1A----- Measuring from: 206401.fits\n"
    '      "aw-tui synthetic fie" / no ext. header / 256x256 / 32 bits (floats)\n'
    "Detection+Measurement image: \x1b[1M> Setting up background maps\n\x1b[1A"
    "\x1b[1M> Computing background-noise d-map\n\x1b[1A(M+D) Background: 1004.62    RMS: "
    "35.6388    / Threshold: 53.4582    \n"
    + "".join(f"\x1b[1M> Line: {y:4d}  Objects: {y // 2:8d} detected /        0 sextracted\n"
              "\x1b[1A" for y in range(25, 257, 25))
    + "      Objects: detected 120      / sextracted 109             \n\n"
    "\x1b[1M> Closing files\n\x1b[1A\x1b[1M> \n\x1b[1A> All done (in 0.4 s: 673.2 lines/s , "
    "287.1 detections/s)\n"
)
SCAMP_OUTPUT = (
    "----- SCAMP 2.10.0 started on 2023-11-14 at 22:13:24 with 1 thread\n\n"
    "----- 3 input catalogs:\n"
    "\x1b[1M> Loading reference catalog\n\x1b[1A"
    "Astrometric matching...\n"
    "> All done (in 0.6 s)\n"
)


def _scrub(value: Any, real: str) -> Any:
    """``value`` with the demo folder's path replaced by :data:`FAKE_ROOT`."""
    if isinstance(value, str):
        return value.replace(real, FAKE_ROOT).replace("{root}", FAKE_ROOT)
    if isinstance(value, dict):
        return {k: _scrub(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, real) for v in value]
    return value


@pytest.fixture(scope="module")
def finished_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with a finished run written by hand (fixed times and paths)."""
    import dill

    from aw_tui.base.atomic import atomic_dump
    from aw_tui.demo.writer import write_demo
    from aw_tui.target import build_from_project

    folder = tmp_path_factory.mktemp("snapshot-demo")
    project = Path(write_demo(str(folder / "demo"), size=128))
    real = str(project.parent)
    target = resolve_target(str(project))
    pipeline = build_from_project(target)
    log = Path(target.log_dir or "")
    (log / "steps").mkdir(parents=True, exist_ok=True)
    steps = list(pipeline.steps)
    assert len(steps) == len(DEMO_SUMMARIES)
    events: list[dict[str, Any]] = [{
        "seq": 1, "time": T0, "event": "run_started", "run_name": None, "host": "node1",
        "pid": 4242, "run_steps": [s.step_id for s in steps], "start_idx": 0, "resume": False,
        "total": len(steps), "pipeline_name": "demo", "checkpoint": "pipeline.p",
        "completed": [],
    }]
    now = T0
    for index, (stp, (duration, summary)) in enumerate(zip(steps, DEMO_SUMMARIES,
                                                           strict=True)):
        stp.func_kwargs = _scrub(stp.func_kwargs, real)
        summary = _scrub(summary, real)
        events.append({"seq": len(events) + 1, "time": now + 0.01, "event": "step_started",
                       "step_id": stp.step_id, "index": index, "func": stp.func_name,
                       "tags": list(stp.tags), "host": "node1", "pid": 4242, "worker": None})
        now += 0.01 + duration
        events.append({"seq": len(events) + 1, "time": now, "event": "step_finished",
                       "step_id": stp.step_id, "index": index, "status": "success",
                       "duration": duration, "summary": summary, "error_msg": None,
                       "ignored": False, "host": "node1", "worker": None})
        stp.results = {"status": "success", "summary": summary, "duration": duration}
    events.append({"seq": len(events) + 1, "time": now + 0.02, "event": "run_finished",
                   "status": "success", "duration": now + 0.02 - T0})
    (log / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (log / "steps" / f"{steps[0].step_id}.out").write_bytes(SEX_OUTPUT.encode())
    # (the edit dialog's snapshot has step 3 selected: its pane must not show a temp path)
    (log / "steps" / f"{steps[3].step_id}.out").write_bytes(SCAMP_OUTPUT.encode())
    pipeline.run_steps = steps
    pipeline.run_step_idx = len(steps)
    pipeline.completed_step_ids = {s.step_id for s in steps}
    pipeline.journal_seq = len(events)
    atomic_dump(str(target.checkpoint), lambda handle: dill.dump(pipeline, handle))
    os.chmod(str(target.checkpoint), 0o600)
    return project


def snapshot_app(project: Path) -> AwTuiApp:
    return AwTuiApp(Session(resolve_target(str(project))), poll_interval=0.05)


async def _until(pilot: Any, predicate: Callable[[], Any], what: str) -> None:
    await wait_until(pilot, predicate, 20, what)


async def _main_screen_ready(pilot: Any) -> None:
    app = pilot.app
    await _until(pilot, lambda: len(table_rows(app)) >= 6, "rows")  # detect x3: one row
    await _until(pilot, lambda: "finished" in header(app), "header")
    await _until(pilot, lambda: "All done" in screen_text(app), "step 0 output")


def test_snapshot_main_screen_of_a_finished_demo_run(finished_demo, snap_compare):
    """Header (finished, counts, elapsed), the nine demo steps with durations and
    summaries, SExtractor's collapsed output of step 0, the footer keys."""
    assert snap_compare(snapshot_app(finished_demo), terminal_size=SIZE,
                        run_before=_main_screen_ready)


def test_snapshot_edit_dialog(finished_demo, snap_compare, monkeypatch):
    """The SCAMP step's kwargs as TOML in the editor, line numbers, the key hint."""
    import aw_tui.tui.app_edit as app_module

    # The table shows the project file's steps (issue 12): their kwargs hold the demo
    # folder's real path, shown here as FAKE_ROOT like the rest of the picture.
    real_dumps, real_root = app_module.dumps, str(finished_demo.parent)
    monkeypatch.setattr(app_module, "dumps",
                        lambda kwargs: real_dumps(_scrub(kwargs, real_root)))

    async def open_editor(pilot: Any) -> None:
        await _main_screen_ready(pilot)
        await pilot.press("j")  # from detect's row (its three members folded) to SCAMP's
        await _until(pilot, lambda: "SCAMP 2.10.0" in screen_text(pilot.app), "step 3 output")
        await pilot.press("e")
        await _until(pilot, lambda: isinstance(pilot.app.screen, EditScreen), "editor")
        from textual.widgets import TextArea

        pilot.app.screen.query_one(TextArea).cursor_blink = False

    assert snap_compare(snapshot_app(finished_demo), terminal_size=SIZE,
                        run_before=open_editor)


def test_snapshot_help_screen(finished_demo, snap_compare):
    """Every key on one screen at 80x24."""

    async def open_help(pilot: Any) -> None:
        await _main_screen_ready(pilot)
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")

    assert snap_compare(snapshot_app(finished_demo), terminal_size=SIZE,
                        run_before=open_help)


# -- loading a run directory ------------------------------------------------------------------
def test_session_load_skips_the_replay_only_when_the_checkpoint_is_current(tmp_path, runners,
                                                                           monkeypatch):
    """Session.load reads just the journal's tail when the checkpoint includes it all, and
    replays it (as load_pipeline does) after a kill -9 left newer events."""
    import aw_tui.rundir.checkpoint

    project = write_project(tmp_path, "".join(step(SLEEP, [f"s{i}"], seconds=0.3)
                                              for i in range(6)))
    log = log_dir(project)
    proc = start_runner(str(project), str(log), RunRequest(start_idx=0))
    runners.append(proc)
    deadline = time.monotonic() + 30
    while sum(e["event"] == "step_finished" for e in read_events(str(log))) < 2:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the checkpoint is the one of the run's start
    proc.wait(timeout=10)
    replays: list[str] = []
    real_replay = aw_tui.rundir.checkpoint.replay_journal

    def counting(pipeline: Any, folder: str) -> int:
        replays.append(folder)
        return real_replay(pipeline, folder)

    monkeypatch.setattr(aw_tui.rundir.checkpoint, "replay_journal", counting)
    session = Session(resolve_target(str(project)))
    session.load()
    assert replays, "newer events than the checkpoint were not replayed"
    expected = load_pipeline(str(log))
    assert session.pipeline.completed_step_ids == expected.completed_step_ids
    assert len(session.pipeline.completed_step_ids) >= 2
    assert session.pipeline.run_step_idx == expected.run_step_idx
    # resume to the end: the final checkpoint includes the whole journal
    resumed = start_runner(str(project), str(log), RunRequest(resume=True,
                                                              use_checkpoint=True))
    runners.append(resumed)
    assert resumed.wait(timeout=30) == 0
    replays.clear()
    session = Session(resolve_target(str(project)))
    session.load()
    assert session.state.state == "finished"  # the header, from the end of the journal
    assert {row.status for row in session.rows()} == {"success"}  # from the checkpoint
    session.catch_up()
    assert replays == []
    assert session.pipeline.completed_step_ids == set(range(6))
    assert session.state.state == "finished"
    assert {row.status for row in session.rows()} == {"success"}


def test_an_edit_during_a_live_run_waits_until_the_journal_is_folded(tmp_path):
    """Until the watcher has read the journal, which steps started is unknown: an edit is
    refused rather than sent for a step that may be running already."""
    project = write_project(tmp_path, step(SUCCEED, ["a"], n=1) + step(SUCCEED, ["b"], n=2))
    session = Session(resolve_target(str(project)))
    session.load()
    store = RunStore(str(log_dir(project)), None)
    store.acquire_lock()  # a live run (this process)
    try:
        outcome = session.edit(1, {"n": 5})
        assert (outcome.how, outcome.message) == (
            "refused", "still reading the run's journal: try again in a moment")
        session.catch_up()
        assert session.edit(1, {"n": 5}).how == "requested"
    finally:
        store.close()


@sync
async def test_a_run_whose_project_file_broke_since_opens_and_says_what_is_wrong(tmp_path,
                                                                                runners):
    """With a checkpoint the project opens without expanding its steps (the table shows the
    checkpoint's); the whole file is read after the first paint and its errors shown."""
    from aw_tui.project.loader import ProjectError

    project = write_project(tmp_path, step(SUCCEED, ["a"], n=1) + step(SUCCEED, ["b"], n=2))
    fresh = resolve_target(str(project), expand=False)
    assert fresh.project.complete  # no checkpoint yet: the whole file is read
    runner = start_runner(str(project), str(log_dir(project)), RunRequest())
    runners.append(runner)
    assert runner.wait(timeout=30) == 0
    project.write_text(project.read_text() + step("aw_tui.testing_funcs:no_such_function",
                                                  ["c"]))
    with pytest.raises(ProjectError):
        resolve_target(str(project))
    target = resolve_target(str(project), expand=False)
    assert not target.project.complete and target.project.steps == []
    app = AwTuiApp(Session(target), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        # The checkpoint's steps, their successes unchecked: a file that does not load gives
        # nothing to check them against (never a success that is not known to be one).
        await wait_until(pilot, lambda: statuses(app) == {0: "unchecked", 1: "unchecked"}, 20,
                         "the checkpoint's steps")
        assert "◌2 unchecked" in header(app)
        await wait_until(pilot, lambda: "project.toml has errors" in header(app), 20,
                         "the project file's errors in the header")
        await wait_until(pilot, lambda: "the steps shown are the checkpoint's"
                         in screen_text(app), 20, "the project file's errors")
        notes = [n.message for n in app._notifications]
        assert any("no_such_function" in note for note in notes), notes



@sync
async def test_details_show_control_characters_from_a_tool_error_instead_of_obeying_them(
        tmp_path, runners):
    osc52 = "\x1b]52;c;cm0gLXJmIH4=\x1b\\"
    project = write_project(
        tmp_path, step("aw_tui.testing_funcs:fail", ["bad"], message=f"no {osc52}\x1b[2J file"))
    batch = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                           capture_output=True, text=True, timeout=120)
    assert batch.returncode == 1
    async with opened(project) as (app, pilot):
        # a failed run opens with the failed step's details shown (issue 14, fix 3)
        await wait_until(pilot, lambda: "status: error" in screen_text(app), 5, "detail")
        detail = app.detail_text(0)
        assert "\x1b" not in detail
        assert "error: no ^[]52;c;cm0gLXJmIH4=^[\\^[[2J file" in detail
        assert "no ^[]52;c;cm0gLXJmIH4=^[\\^[[2J file" in screen_text(app)
