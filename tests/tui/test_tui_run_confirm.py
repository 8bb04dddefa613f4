"""Issue 14, fix 4 and fix 10: what ``r`` asks counts what the run will really run (run tags,
start index: the run's own selection), and ``c`` on a finished, current run says there is
nothing to do instead of starting an empty run."""

from __future__ import annotations

from test_output_view import sync
from test_tui_app import (  # noqa: F401
    SLEEP,
    events_of,
    kinds,
    opened,
    runners,
    screen_text,
    step,
    type_text,
    wait_header,
    wait_until,
    write_project,
)

from aw_tui.tui.screens import ConfirmScreen, TagsScreen


@sync
async def test_r_with_run_tags_counts_the_tagged_steps_only(tmp_path, runners):  # noqa: F811
    project = write_project(tmp_path, "".join(step(SLEEP, [f"step{i}"], seconds=0)
                                              for i in range(9)))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TagsScreen), 10, "tags dialog")
        await type_text(pilot, "step5")
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, TagsScreen), 5, "closed")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "confirm")
        assert "1 finished step(s) will run again" in screen_text(app)  # was: 9
        await pilot.press("y")
        await wait_until(pilot, lambda: kinds(project).count("run_finished") == 2, 30, "rerun")
    started = [e["step_id"] for e in events_of(project) if e["event"] == "step_started"]
    assert started == [*range(9), 5]
    assert app.session.would_overwrite(1) == 0  # the tagged selection has one step


@sync
async def test_c_on_a_finished_current_run_says_there_is_nothing_to_do(tmp_path, runners):  # noqa: F811
    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0)
                            + step(SLEEP, ["b"], seconds=0))
    async with opened(project) as (app, pilot):
        await pilot.press("r")
        await wait_header(pilot, "finished")
        await pilot.press("c")
        await wait_until(pilot, lambda: "nothing to do" in screen_text(app), 10, "message")
        await pilot.pause(0.5)
        assert kinds(project).count("run_started") == 1  # no empty run
        assert len(runners) == 1
        await pilot.press("j", "s", "c")  # from a start index c runs from there
        await wait_until(pilot, lambda: kinds(project).count("run_finished") == 2, 30, "run")
    assert [e["step_id"] for e in events_of(project) if e["event"] == "step_started"] == [0, 1, 1]


def test_resume_todo_counts_what_resume_would_run_and_never_raises(tmp_path):
    """runplan.resume_todo: 0 after a finished run, 1 with a step added to the file, None
    (c then does as it always did) with a start index."""
    import subprocess
    import sys

    from aw_tui.target import resolve_target
    from aw_tui.tui.runplan import resume_todo
    from aw_tui.tui.session import Session

    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0))
    subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"], check=True,
                   capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    session = Session(resolve_target(str(project)))
    session.load()
    assert resume_todo(session) == 0
    project.write_text(project.read_text() + "[[steps]]\nfunc = \"aw_tui.testing_funcs:sleep\"\n")
    assert resume_todo(Session(resolve_target(str(project)))) == 1  # a new step
    session.start_idx = 0
    assert resume_todo(session) is None


def test_resume_todo_is_none_when_the_plan_cannot_be_made(tmp_path, monkeypatch):
    from aw_tui.project.loader import ProjectError
    from aw_tui.target import resolve_target
    from aw_tui.tui import runplan
    from aw_tui.tui.session import Session

    def broken(*args, **kwargs):
        raise ProjectError("project.toml: line 1: broken")

    project = write_project(tmp_path, step(SLEEP, ["a"], seconds=0))
    session = Session(resolve_target(str(project)))
    monkeypatch.setattr(runplan, "resume_verdict", broken)
    assert runplan.resume_todo(session) is None
