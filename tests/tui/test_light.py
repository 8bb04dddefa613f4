"""A big run's steps held light (issue 16, :mod:`aw_tui.tui.light`): a child process reads the
checkpoint and computes the states, the TUI holds compact steps. What the TUI shows must be
exactly what it shows when it reads the checkpoint itself: the rows before and after the
states, the details, the results, the edits, a broken project file, a failing child.

The threshold is lowered so that these small runs go the light way (``light`` fixture)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_fold_memory import _project
from test_tui_app import screen_text, sync, wait_until
from test_tui_stale import batch, named_steps, opened, quick_project, wait_words

from aw_tui.rundir import checkpoint
from aw_tui.target import resolve_target
from aw_tui.tui import details, light, runplan
from aw_tui.tui import session as session_module
from aw_tui.tui.light import LightPipeline
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.step_table import StepTable


@pytest.fixture
def light_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(light, "LIGHT_CHECKPOINT_BYTES", -1)


def _shown(session: Session) -> dict[str, Any]:
    """Everything the TUI shows of the steps (rows, details, results, counts, plans)."""
    ids = [s.step_id for s in session.steps()]
    return {
        "rows": session.rows(),
        "details": {i: details.detail_text(session, i) for i in ids},
        "results": {i: session.result(i) for i in ids},
        "commands": {i: session.command_lines(i) for i in ids},
        "counts": session.counts(),
        "order": session.run_order(),
        "redone": [runplan.redone_steps(session, k) for k in (0, 2)],
        "states": {i: (s.state, list(s.reasons)) for i, s in session.freshness.items()},
        "removed": [(s.identity, s.state, s.step_id) for s in session.removed],
        "seq": session.fresh_seq,
        "kwargs": {i: session.pipeline.get_step(i).func_kwargs for i in ids},
    }


def _both(path: str) -> tuple[Session, Session]:
    return (Session(resolve_target(path, expand=False), light=False),
            Session(resolve_target(path, expand=False)))


def _edit_project(project: Path) -> None:
    """b's result stale, a step new, c removed, the `each` group unchanged."""
    text = project.read_text().replace("n = 1", "n = 5")
    text = text.replace('name = "c"', 'name = "d"')
    project.write_text(text)


def test_a_light_session_shows_exactly_what_a_full_one_shows(
        tmp_path: Path, light_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "INLINE_STEPS", 0)  # the first paint of a big run
    project = _project(tmp_path)
    _edit_project(project)
    full, lite = _both(str(project))
    for session in (full, lite):
        session.run_tags, session.start_idx = ["each"], 1
        session.load()
    assert isinstance(lite.pipeline, LightPipeline) and not isinstance(full.pipeline,
                                                                        LightPipeline)
    assert lite.checkpoint is None  # nothing of the checkpoint unpickled in this process
    before = _shown(full)
    assert _shown(lite) == before
    assert {r.status for r in before["rows"]} == {"unchecked", "error"}  # the checkpoint's
    for session in (full, lite):
        session.catch_up()
        session.refresh()
    after, shown = _shown(full), _shown(lite)
    assert shown == after
    assert {r.status for r in after["rows"]} == {"stale", "pending"}  # a changed: all after
    assert "on purpose" in after["details"][1]  # b's error, as its previous run
    assert after["removed"] and after["seq"]


def test_the_checkpoint_is_never_unpickled_in_the_tui_process(tmp_path: Path, light_on: None,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    project = _project(tmp_path)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the TUI's process unpickled the checkpoint")

    monkeypatch.setattr(checkpoint, "load_checkpoint", refused)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    session.catch_up()
    session.refresh()
    assert [r.status for r in session.rows()][:2] == ["success", "error"]
    assert details.detail_text(session, 0).count("n = 1") == 1


def test_an_edit_of_a_light_step_goes_to_the_file_and_its_row_turns_stale(
        tmp_path: Path, light_on: None) -> None:
    project = _project(tmp_path)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    session.catch_up()
    session.refresh()
    outcome = session.edit(0, {"n": 7})
    assert outcome.how == "applied", outcome.message
    assert "n = 7" in project.read_text()
    assert session.pipeline.get_step(0).func_kwargs == {"n": 7}
    session.refresh()
    assert isinstance(session.pipeline, LightPipeline)
    row = session.rows()[0]
    assert (row.status, row.summary) == ("stale", "n 1 -> 7")


def test_a_python_pipeline_whose_kwargs_json_cannot_hold(tmp_path: Path, light_on: None) -> None:
    """Tuples and sets as kwargs, a result with a tuple: read from the checkpoint exactly."""
    script = tmp_path / "pipe.py"
    script.write_text(textwrap.dedent(f"""
        from aw_tui import Pipeline
        def both(pair, names, **kw):
            return {{"status": "success", "pair": pair, "summary": {{"n": len(names)}}}}
        p = Pipeline({{"log": {str(tmp_path / 'log')!r}, "temp": {str(tmp_path / 'tmp')!r}}},
                     create_paths=True)
        p.add_step(both, ["t"], pair=(1, 2), names={{"a"}})
        p.add_step(both, ["u"], pair=[3], names=["c"])
        p.run()
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    full, lite = _both(str(tmp_path / "log"))
    for session in (full, lite):
        session.load()
    assert _shown(lite) == _shown(full)  # before the journal: the checkpoint's results
    for session in (full, lite):
        session.catch_up()
        session.refresh()
    assert isinstance(lite.pipeline, LightPipeline)
    # (One name: a set's repr follows its insertion order on a hash collision, which the
    # child's pickle may give in another order than the runner's: the same set, shown so.)
    assert lite.pipeline.get_step(0).func_kwargs == {"pair": (1, 2), "names": {"a"}}
    assert lite.pipeline.get_step(0).results["pair"] == (1, 2)  # not a list
    assert _shown(lite) == _shown(full)


def test_a_failing_child_falls_back_to_reading_in_process(tmp_path: Path, light_on: None,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    project = _project(tmp_path)
    monkeypatch.setattr(light.sys, "executable", str(tmp_path / "no-python"))
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert not session.light and session.checkpoint is not None
    assert [r.status for r in session.rows()][:2] == ["success", "error"]


def test_a_damaged_checkpoint_says_what_a_full_load_says(tmp_path: Path, light_on: None) -> None:
    project = _project(tmp_path)
    found = checkpoint.find_checkpoint(str(tmp_path / "work" / "log"))
    Path(found).write_bytes(b"\x80\x04garbage")
    errors = []
    for session in _both(str(project)):
        with pytest.raises(Exception) as caught:
            session.load()
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]


def test_a_project_broken_after_good_states_keeps_them(tmp_path: Path, light_on: None) -> None:
    project = _project(tmp_path)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    session.catch_up()
    session.refresh()
    shown = [r.status for r in session.rows()]
    project.write_text(project.read_text() + "[[steps]\n")
    assert session.project_changed()
    session.refresh()  # after a run: the last good states stay
    assert session.project_error and "project.toml" in session.project_error
    assert [r.status for r in session.rows()] == shown
    assert not session.project_changed()  # said once, not read again every second
    with pytest.raises(Exception, match="problem"):
        session.refresh(reload_project=True)


def test_the_child_folder_is_private_and_goes_with_its_steps(tmp_path: Path,
                                                             light_on: None) -> None:
    project = _project(tmp_path)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    folder = session.pipeline.data.folder
    assert os.stat(folder).st_mode & 0o077 == 0  # the user's own: no one else writes there
    session.pipeline.get_step(0).func_kwargs  # noqa: B018 - waits for the child's data
    session.catch_up()
    session.refresh()
    assert session.pipeline.data.folder != folder
    gc.collect()
    assert not os.path.exists(folder)


def test_a_big_checkpoint_is_read_light_and_a_small_one_in_process(tmp_path: Path) -> None:
    project = _project(tmp_path)
    found = checkpoint.find_checkpoint(str(tmp_path / "work" / "log"))
    assert os.path.getsize(found) < light.LIGHT_CHECKPOINT_BYTES
    assert not light.wants_light(found) and light.wants_light.__doc__
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert not session.light


@sync
async def test_the_app_on_a_light_run_shows_its_rows_states_and_edits(
        tmp_path: Path, light_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app opens a big run light (its first paint before the states), folds the states
    in from a child, and follows the project file."""
    monkeypatch.setattr(session_module, "INLINE_STEPS", 0)
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2), ("c", 3)))
    assert batch(project).returncode == 0
    async with opened(project) as (app, pilot):
        assert isinstance(app.session.pipeline, LightPipeline)
        await wait_words(pilot, {0: "success", 1: "success", 2: "success"}, 20)
        project.write_text(project.read_text().replace("n = 2", "n = 4"))
        await wait_words(pilot, {0: "success", 1: "stale", 2: "stale"}, 20)
        assert isinstance(app.session.pipeline, LightPipeline)
        app.query_one(StepTable).move_cursor_to_step(1)
        await wait_until(pilot, lambda: "n 2 -> 4" in screen_text(app), 10, "the reason")


def test_a_package_planted_in_the_current_folder_is_not_run_by_the_child(
        tmp_path: Path, light_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m`` puts the current folder first on sys.path: the child must not."""
    project = _project(tmp_path / "p")
    shared = tmp_path / "shared"
    marker = tmp_path / "planted-ran"
    (shared / "aw_tui" / "tui").mkdir(parents=True)
    for init in (shared / "aw_tui" / "__init__.py", shared / "aw_tui" / "tui" / "__init__.py"):
        init.write_text(f"open({str(marker)!r}, 'w').close()\n")
    (shared / "aw_tui" / "tui" / "light.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef child(): return 0\n")
    monkeypatch.chdir(shared)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert session.light and not marker.exists()
    assert [r.status for r in session.rows()][:2] == ["success", "error"]


def test_a_refresh_keeps_the_objects_of_unchanged_steps_and_rows(tmp_path: Path,
                                                                  light_on: None) -> None:
    """A refresh of a big run makes no second set of its steps or rows: those that did not
    change are the same objects, now read from the new child's folder, with the new
    states; a changed step's row is a new one."""
    project = _project(tmp_path)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    session.catch_up()
    session.refresh()
    steps, rows = session.steps(), session.rows()
    data = session.pipeline.data
    project.write_text(project.read_text().replace("n = 3", "n = 4"))  # only c: stale
    session.refresh()
    assert session.pipeline.data is not data
    assert all(new is old for new, old in zip(session.steps(), steps, strict=True))
    assert all(s._owner is session.pipeline.data for s in session.steps())
    again = session.rows()
    assert [r.status for r in again][-1] == "stale"
    assert [new is old for new, old in zip(again, rows, strict=True)] == [True] * 5 + [False]


def test_a_refresh_whose_child_fails_is_done_in_process(tmp_path: Path, light_on: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    full = Session(resolve_target(str(project), expand=False), light=False)
    session = Session(resolve_target(str(project), expand=False))
    for s in (full, session):
        s.load()
        s.catch_up()
    assert session.light
    project.write_text(project.read_text().replace("n = 3", "n = 4"))
    monkeypatch.setattr(light.sys, "executable", str(tmp_path / "no-python"))
    for s in (full, session):
        s.refresh()
    assert not session.light and session.checkpoint is not None
    assert _shown(session) == _shown(full)
    assert session.rows()[-1].status == "stale"


def test_folders_left_by_killed_tuis_are_removed_and_no_other(
        tmp_path: Path, light_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TUI killed (SIGKILL, a hang-up) leaves its folder: the next one removes the folders
    of this user whose TUI's process is gone, and nothing else."""
    monkeypatch.setattr(light.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(light, "_swept", [])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = tmp_path / f"aw-tui-light-{gone.pid}-abc"
    alive = tmp_path / f"aw-tui-light-{os.getpid()}-def"
    other = tmp_path / f"aw-tui-lightweight-{gone.pid}"
    link = tmp_path / f"aw-tui-light-{gone.pid}-link"
    for folder in (left, alive, other):
        folder.mkdir()
        (folder / "data.jsonl").write_text("{}\n")
    link.symlink_to(other)
    project = _project(tmp_path / "p")
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert session.light and os.path.dirname(session.pipeline.data.folder) == str(tmp_path)
    assert not left.exists()
    assert alive.exists() and other.exists() and link.is_symlink()


def test_light_data_is_unpickled_only_from_a_file_that_is_provably_the_users(
        tmp_path: Path, light_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's data file goes through the trusted loader's checks: made writable by the
    group (as a same-group attacker would need), it is not read; the kwargs then come from
    the checkpoint itself."""
    from aw_tui.rundir import trust

    script = tmp_path / "pipe.py"
    script.write_text(textwrap.dedent(f"""
        from aw_tui import Pipeline
        def both(pair):
            return {{"status": "success"}}
        p = Pipeline({{"log": {str(tmp_path / 'log')!r}, "temp": {str(tmp_path / 'tmp')!r}}},
                     create_paths=True)
        p.add_step(both, ["t"], pair=(1, 2))
        p.run()
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    session = Session(resolve_target(str(tmp_path / "log")))
    session.load()
    data = session.pipeline.data
    data._child.wait()
    path = Path(data.folder) / "data.jsonl"
    assert path.stat().st_mode & 0o077 == 0  # the child's file: the user's alone
    path.chmod(0o664)

    unpickled: list[bytes] = []
    monkeypatch.setattr(light, "load_trusted_bytes",
                        lambda data: unpickled.append(data) or trust.load_trusted_bytes(data))
    assert session.pipeline.get_step(0).func_kwargs == {"pair": (1, 2)}
    assert not unpickled  # from the checkpoint, through its own trusted load
