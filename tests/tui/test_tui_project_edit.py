"""``e`` on a TOML project writes to the project file (issue 12): the template of a foreach
step or one member's override, asked with t / m; comments and layout kept; references only
replaced after a y; a file changed meanwhile is never overwritten; a live run and a
checkpoint get the new kwargs too."""

from __future__ import annotations

import difflib
import textwrap
from pathlib import Path
from typing import Any

from test_output_view import sync
from test_tui_app import (  # noqa: F401
    events_of,
    log_dir,
    opened,
    runners,
    screen_text,
    statuses,
    type_text,
    wait_header,
    wait_until,
)
from textual.widgets import TextArea

from aw_tui import load_pipeline
from aw_tui.launch import RunRequest, start_runner
from aw_tui.project import load_project
from aw_tui.tui.screens import ConfirmScreen, EditScreen, ScopeScreen
from aw_tui.tui.widgets.step_table import StepTable

KEYS = ("206401", "206402", "206403")
PROJECT = """\
    # A foreach project for the e tests
    [pipeline]
    name = "t"
    create_paths = true

    [paths]
    temp = "work/temp"
    log = "work/log"

    [inputs.exposures]
    glob = "images/*.fits"

    # detect: one step per exposure
    [[steps]]
    name = "detect"
    func = "aw_tui.testing_funcs:{func}"
    foreach = "exposures"

    [steps.kwargs]
    label = "{{item.stem}}"   # each member's own
    seconds = {seconds}

    [steps.kwargs.config]
    THRESH = 3   # the detection threshold
    FILTER = false

    # the last step
    [[steps]]
    name = "after"
    func = "aw_tui.testing_funcs:succeed"
    [steps.kwargs]
    n = 1
"""


def write(folder: Path, func: str = "succeed", seconds: float = 0.0) -> Path:
    for key in KEYS:
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "images" / f"{key}.fits").write_bytes(b"")
    path = folder / "project.toml"
    path.write_text(textwrap.dedent(PROJECT).format(func=func, seconds=seconds))
    return path


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.splitlines()[i1:i2]
            added += new.splitlines()[j1:j2]
    return removed, added


def thresholds(project: Path) -> list[Any]:
    return [s.kwargs["config"]["THRESH"] for s in load_project(project).steps[:3]]


def kwargs_text(label: str, seconds: float, thresh: int) -> str:
    return f'label = "{label}"\nseconds = {seconds}\n\n[config]\nTHRESH = {thresh}\nFILTER = false'


async def edit(pilot: Any, step_id: int, scope: str | None, text: str | None) -> None:
    """``e`` on ``step_id``: answer the scope question (t / m / escape), type ``text`` in
    the editor and save it (None: no editor expected)."""
    app = pilot.app
    app.query_one(StepTable).move_cursor_to_step(step_id)
    await pilot.press("e")
    if scope is not None:
        await wait_until(pilot, lambda: isinstance(app.screen, ScopeScreen), 10, "t / m")
        await pilot.press(scope)
    if text is None:
        return
    await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 10, "editor")
    await replace_text(pilot, text)
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), 10, "saved")


async def replace_text(pilot: Any, text: str) -> None:
    """Put ``text`` in the editor (as typing it would, quicker)."""
    pilot.app.screen.query_one(TextArea).load_text(text)
    await pilot.pause()


@sync
async def test_e_on_a_member_asks_template_or_member_and_writes_the_file(tmp_path: Path,
                                                                         runners: Any) -> None:  # noqa: F811
    project = write(tmp_path)
    original = project.read_text()
    async with opened(project) as (app, pilot):
        # t: the template, every member
        app.query_one(StepTable).move_cursor_to_step(1)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ScopeScreen), 10, "t / m")
        text = screen_text(app)
        assert "detect[206402]" in text and "3 members" in text
        assert "[steps.kwargs]" in text and '[steps.items."206402".kwargs]' in text
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 10, "editor")
        assert "template: all 3 members" in screen_text(app)
        assert 'label = "206402"' in screen_text(app)  # the evaluated kwargs
        await pilot.press("f7")
        await type_text(pilot, kwargs_text("206402", 0.0, 7))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "step 1 saved to project.toml (3 steps)"
                         in screen_text(app), 10, "saved")
        after_template = project.read_text()
        assert changed_lines(original, after_template) == (
            ["THRESH = 3   # the detection threshold"], ["THRESH = 7   # the detection threshold"])
        assert thresholds(project) == [7, 7, 7]
        assert app.session.pipeline.get_step(0).func_kwargs["config"]["THRESH"] == 7
        # m: only this member
        await edit(pilot, 2, "m", None)
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 10, "editor")
        assert "only detect[206403]" in screen_text(app)
        await replace_text(pilot, kwargs_text("206403", 0.0, 9))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "(only detect[206403])" in screen_text(app), 10,
                         "saved")
        removed, added = changed_lines(after_template, project.read_text())
        assert removed == []
        assert added == ['[steps.items."206403".kwargs.config]', "THRESH = 9", ""]
        assert 'FILTER = false\n\n[steps.items."206403".kwargs.config]\nTHRESH = 9\n\n' \
               "# the last step\n[[steps]]" in project.read_text()
        assert thresholds(project) == [7, 7, 9]
        # escape at the question: nothing opens, nothing is written
        before = project.read_text()
        await edit(pilot, 0, "escape", None)
        await pilot.pause(0.3)
        assert not isinstance(app.screen, (ScopeScreen, EditScreen))
        assert project.read_text() == before
        # a step without foreach: no question
        await edit(pilot, 3, None, "n = 2")
        await wait_until(pilot, lambda: "step 3 saved to project.toml: n 1 -> 2"
                         in screen_text(app), 10, "saved")
        assert load_project(project).steps[3].kwargs == {"n": 2}


@sync
async def test_a_reference_is_replaced_only_after_y(tmp_path: Path, runners: Any) -> None:  # noqa: F811
    project = write(tmp_path)
    original = project.read_text()
    async with opened(project) as (app, pilot):
        await edit(pilot, 0, "m", kwargs_text("custom", 0.0, 3))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "confirm")
        text = screen_text(app)
        assert "is a reference in the project file" in text and "{item.stem}" in text
        await pilot.press("n")
        await wait_until(pilot, lambda: "references of the project file are kept"
                         in screen_text(app), 10, "kept")
        assert project.read_text() == original
        await edit(pilot, 0, "m", kwargs_text("custom", 0.0, 3))
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: "(only detect[206401])" in screen_text(app), 10,
                         "saved")
    assert '[steps.items."206401".kwargs]\nlabel = "custom"\n' in project.read_text()
    assert [s.kwargs["label"] for s in load_project(project).steps[:3]] == [
        "custom", "206402", "206403"]


@sync
async def test_a_file_changed_since_the_editor_opened_is_not_overwritten(
        tmp_path: Path, runners: Any) -> None:  # noqa: F811
    project = write(tmp_path)
    async with opened(project) as (app, pilot):
        await edit(pilot, 3, None, None)
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 10, "editor")
        project.write_text(project.read_text() + "# written by another editor\n")
        changed = project.read_text()
        await replace_text(pilot, "n = 5")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "changed on disk since it was read" in screen_text(app),
                         10, "refused")
        assert "edit not saved" in screen_text(app)
    assert project.read_text() == changed


@sync
async def test_after_a_run_the_checkpoint_follows_the_file(tmp_path: Path,
                                                           runners: Any) -> None:  # noqa: F811
    project = write(tmp_path)
    runner = start_runner(str(project), str(log_dir(project)), RunRequest())
    runners.append(runner)
    assert runner.wait(timeout=60) == 0
    async with opened(project) as (app, pilot):
        await edit(pilot, 1, "t", kwargs_text("206402", 0.0, 5))
        await wait_until(pilot, lambda: "(3 steps) and the checkpoint" in screen_text(app), 10,
                         "saved")
    assert thresholds(project) == [5, 5, 5]
    pipeline = load_pipeline(str(log_dir(project)))
    assert [pipeline.get_step(i).func_kwargs["config"]["THRESH"] for i in range(3)] == [5, 5, 5]
    edits = [e for e in events_of(project) if e["event"] == "edit_applied"]
    assert [(e["step_id"], e["source"]) for e in edits] == [(0, "tui"), (1, "tui"), (2, "tui")]


@sync
async def test_during_a_live_run_the_edit_goes_to_the_file_and_to_the_runner(
        tmp_path: Path, runners: Any) -> None:  # noqa: F811
    project = write(tmp_path, func="sleep", seconds=3.0)
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_until(pilot, lambda: statuses(app).get(0) == "running", 20, "step 0 runs")
        # the template would change detect[206401], which has started: refused
        before = project.read_text()
        await edit(pilot, 2, "t", kwargs_text("206403", 3.0, 8))
        await wait_until(pilot, lambda: "detect[206401] has started in the live run: not written"
                         in screen_text(app),
                         10, "refused")
        assert project.read_text() == before
        # only the last member, which has not started: the file and the runner
        await edit(pilot, 2, "m", kwargs_text("206403", 0.2, 3))
        await wait_until(pilot, lambda: "sent to the live run" in screen_text(app), 10, "sent")
        assert statuses(app)[2] == "pending"
        await wait_header(pilot, "finished", 30)
    assert '[steps.items."206403".kwargs]\nseconds = 0.2\n' in project.read_text()
    assert [s.kwargs["seconds"] for s in load_project(project).steps[:3]] == [3.0, 3.0, 0.2]
    edits = [e for e in events_of(project) if e["event"] == "edit_applied"]
    assert [(e["step_id"], e["source"], e["func_kwargs"]["seconds"]) for e in edits] == [
        (2, "control", 0.2)]
    assert load_pipeline(str(log_dir(project))).get_step(2).func_kwargs["seconds"] == 0.2
