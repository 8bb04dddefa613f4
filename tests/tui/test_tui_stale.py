"""The TUI is never wrong about what is current (issue 12): it follows the project file, and
a step that is pending or stale never shows its old result as ``✔ success``.

The demo tests run the real tools at 512 px (``aw-tui demo``'s project, finished with
``--batch``), open the app as ``aw-tui PROJECT`` does (the project read without its steps,
the checkpoint's rows first) and change ``project.toml`` on disk while it is open:

- ``DETECT_THRESH`` changed: within ~2 s the three detect rows and everything downstream show
  ``stale``, the header counts them, the details give the reason and the previous run; ``c``
  runs them again with the new value (the journal's ``step_started`` events, SExtractor's XML
  log) and they are current again;
- SCAMP pointed at a catalog that does not exist, then ``c``: the run fails at SCAMP and
  SWarp, PSFEx and the photometry are ``stale`` (``astrometry failed``), not ``✔ success``.

``aw-tui status --json`` is asked each time: the TUI shows what it says. The other tests use
the quick steps of ``aw_tui.testing_funcs``.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from test_tui_app import (  # noqa: F401
    SIZE,
    header,
    runners,
    screen_text,
    statuses,
    sync,
    table_rows,
    unfold_groups,
    wait_header,
    wait_until,
)
from tooling import FinishedRun, require_tool

from aw_tui.rundir.journal import read_events
from aw_tui.target import resolve_target
from aw_tui.tui import session as session_module
from aw_tui.tui.app import AwTuiApp
from aw_tui.tui.session import Session
from aw_tui.tui.widgets.step_table import StepTable

DETECT_CONFIG = 'CATALOG_TYPE = "FITS_LDAC"\nFILTER = false\nWEIGHT_TYPE = "MAP_WEIGHT"\n'
REFERENCE = 'ASTREFCAT_NAME = "{paths.images}/reference.fits"'
DEMO_STEPS = range(9)  # detect x3, astrometry, stack, stack-detect, psf, psf-photometry, save


# -- helpers ----------------------------------------------------------------------------------
def batch(project: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch", *flags],
                          capture_output=True, text=True, timeout=600)


def status_json(project: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "aw_tui", "status", str(project), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def status_words(project: Path) -> dict[int, str]:
    """step id -> the status word ``aw-tui status`` gives (``stale`` for a stale step)."""
    return {s["step_id"]: s["status"] for s in status_json(project)["steps"]}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """:func:`finished_demo`, run once for the module."""
    return FinishedRun(finished_demo(tmp_path_factory.mktemp("stale")).parent)


@pytest.fixture
def finished(demo_run: FinishedRun) -> Path:
    """The finished demo's project file, as its run left it (same place, same files)."""
    return demo_run.restore() / "project.toml"


def finished_demo(folder: Path) -> Path:
    """The demo at 512 px with ``DETECT_THRESH = 3.0`` (default.sex's value) written in its
    detect step, run to the end with ``--batch``."""
    for tool in ("sextractor", "scamp", "swarp", "psfex"):
        require_tool(tool)
    from aw_tui.demo.writer import write_demo  # lazy: astropy, only for these tests

    project = Path(write_demo(str(folder / "demo"), size=512))
    text = project.read_text()
    assert text.index(DETECT_CONFIG) < text.index('name = "astrometry"') and REFERENCE in text
    project.write_text(text.replace(DETECT_CONFIG, DETECT_CONFIG + "DETECT_THRESH = 3.0\n", 1))
    proc = batch(project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project


def edit(project: Path, old: str, new: str) -> None:
    """Change the project file on disk, as an editor would."""
    text = project.read_text()
    assert old in text
    project.write_text(text.replace(old, new))


def runs(project: Path) -> list[list[dict[str, Any]]]:
    """The journal's events, one list per run."""
    out: list[list[dict[str, Any]]] = []
    for event in read_events(str(project.parent / "work" / "log")):
        if event["event"] == "run_started":
            out.append([])
        if out:
            out[-1].append(event)
    return out


def words(app: AwTuiApp) -> dict[int, str]:
    """step id -> status word of every row of the table (the screen shows only some)."""
    return {row.step_id: row.status for row in app.query_one(StepTable).rows}


async def wait_words(pilot: Any, expected: dict[int, str], timeout: float) -> None:
    await wait_until(pilot, lambda: words(pilot.app) == expected, timeout,
                     f"rows {expected}")


def cursor_identity(app: AwTuiApp) -> str | None:
    row = app.query_one(StepTable).cursor_step
    return row.identity if row is not None else None


@contextlib.asynccontextmanager
async def opened(project: Path) -> AsyncIterator[tuple[AwTuiApp, Any]]:
    """The app on ``project`` as ``aw-tui PROJECT`` opens it (with a checkpoint: the project
    read without its steps), its rows on screen."""
    app = AwTuiApp(Session(resolve_target(str(project), expand=False)), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app._loaded, 20, "steps loaded")
        unfold_groups(app)
        await wait_until(pilot, lambda: table_rows(app), 20, "rows shown")
        yield app, pilot


# -- the demo, real tools -----------------------------------------------------------------------
@sync
async def test_a_changed_detect_thresh_turns_detect_and_downstream_stale_and_c_reruns_them(
        finished, runners):  # noqa: F811
    project = finished
    log = project.parent / "work" / "log"
    async with opened(project) as (app, pilot):
        await wait_words(pilot, dict.fromkeys(DEMO_STEPS, "success"), 20)
        await wait_header(pilot, "finished")
        assert "stale" not in header(app)
        await pilot.press("j", "j")  # from detect's row (unfolded) past 206401
        assert cursor_identity(app) == "detect[206402]"

        edit(project, "DETECT_THRESH = 3.0", "DETECT_THRESH = 5.0")
        started = time.monotonic()
        await wait_words(pilot, dict.fromkeys(DEMO_STEPS, "stale"), 2.5)
        assert time.monotonic() - started < 2.5
        assert "◇9 stale" in header(app) and "✔0" in header(app)
        rows = table_rows(app)  # the rows on screen
        assert len(rows) >= 7 and all(row["symbol"] == "◇" for row in rows.values())
        assert "api_kwargs.config." in rows[0]["line"]  # the first reason, cut at 80 columns
        table = app.query_one(StepTable)
        assert table.get_row(0).summary == "api_kwargs.config.DETECT_THRESH 3.0 -> 5.0"
        assert table.get_row(3).summary == "detect[206401] is stale"  # astrometry
        assert cursor_identity(app) == "detect[206402]"  # the cursor stays on its step
        assert status_words(project) == dict.fromkeys(DEMO_STEPS, "stale")  # as status says

        await pilot.press("d")
        await wait_until(pilot, lambda: "previous run: success" in screen_text(app), 5,
                         "the details of detect[206402]")
        detail = Text.from_markup(app.detail_text(1)).plain
        assert "state: ◇ stale" in detail
        assert "\n  api_kwargs.config.DETECT_THRESH 3.0 -> 5.0\n" in detail
        assert "previous run: success" in detail and "status:" not in detail
        assert "api_kwargs.config.DETECT_THRESH 3.0 -> 5.0" in screen_text(app)

        # c runs the project's steps, with the value the file says now
        await pilot.press("c")
        await wait_until(pilot, lambda: len(runs(project)) == 2
                         and runs(project)[1][-1]["event"] == "run_finished", 180, "the resume")
        await wait_words(pilot, dict.fromkeys(DEMO_STEPS, "success"), 10)
        await wait_until(pilot, lambda: "stale" not in header(app), 5, "no stale count")
    second = runs(project)[1]
    assert second[0]["resume"] is True
    assert [e["step_id"] for e in second if e["event"] == "step_started"] == list(DEMO_STEPS)
    for step_id in (0, 1, 2):
        xml = (log / f"{step_id}.sex.log.xml").read_text()
        assert re.search(r'name="Detect_Thresh"[^>]*value="5"', xml), step_id
    assert set(status_words(project).values()) == {"success"}


@sync
async def test_scamp_failing_after_an_edit_leaves_swarp_psfex_and_photometry_stale(
        finished, runners):  # noqa: F811
    project = finished
    async with opened(project) as (app, pilot):
        await wait_words(pilot, dict.fromkeys(DEMO_STEPS, "success"), 20)
        edit(project, REFERENCE, REFERENCE.replace("reference.fits", "no_such_ref.fits"))
        await wait_words(pilot, {0: "success", 1: "success", 2: "success",
                                 **dict.fromkeys(range(3, 9), "stale")}, 2.5)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(runs(project)) == 2
                         and runs(project)[1][-1]["event"] == "run_failed", 180, "the resume")
        await wait_header(pilot, "failed at step 3", 10)
        # SWarp, PSFEx and the photometry ran with SCAMP's old solution: stale, never success
        expected = {0: "success", 1: "success", 2: "success", 3: "error",
                    **dict.fromkeys(range(4, 9), "stale")}
        await wait_words(pilot, expected, 10)
        # (until the states are computed again after the run, the reason is the edit's)
        await wait_until(pilot, lambda: app.query_one(StepTable).get_row(4).summary
                         == "astrometry failed", 10, "SWarp stale: astrometry failed")
        assert words(app) == expected
        assert "◇5 stale" in header(app) and "✘1" in header(app)
        detail = Text.from_markup(app.detail_text(4)).plain
        assert "\n  astrometry failed\n" in detail and "previous run: success" in detail
    assert status_words(project) == expected
    assert [e["step_id"] for e in runs(project)[1] if e["event"] == "step_started"] == [3]


# -- quick steps --------------------------------------------------------------------------------
def named_steps(*steps: tuple[str, int]) -> str:
    """``[[steps]]`` tables of ``testing_funcs.succeed`` named by ``name``, with ``n``."""
    return "".join(f'[[steps]]\nname = "{name}"\nfunc = "aw_tui.testing_funcs:succeed"\n'
                   f'tags = ["{name}"]\n[steps.kwargs]\nn = {n}\n' for name, n in steps)


def quick_project(folder: Path, steps: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text('[pipeline]\nname = "q"\ncreate_paths = true\n'
                       '[paths]\ntemp = "work/temp"\nlog = "work/log"\n' + steps)
    return project


@sync
async def test_a_project_file_that_stops_loading_keeps_the_table_and_says_why(tmp_path,
                                                                            runners):  # noqa: F811
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2), ("c", 3)))
    assert batch(project).returncode == 0
    async with opened(project) as (app, pilot):
        await wait_words(pilot, {0: "success", 1: "success", 2: "success"}, 10)
        await pilot.press("j", "j")
        assert cursor_identity(app) == "c"
        good = project.read_text()
        project.write_text(good + "[[steps]\nname = \n")  # an editor half-way through
        await wait_until(pilot, lambda: "project.toml has errors" in header(app), 2.5,
                         "the error in the header")
        await wait_until(pilot, lambda: "the table keeps its last good steps"
                         in screen_text(app), 5, "the message")
        assert any("project.toml" in n.message for n in app._notifications)
        assert statuses(app) == {0: "success", 1: "success", 2: "success"}
        assert cursor_identity(app) == "c"

        # fixed: b changed, a new step before c; the cursor stays on c
        project.write_text(good.replace("n = 2", "n = 5").replace(
            '[[steps]]\nname = "c"', named_steps(("b2", 7)) + '[[steps]]\nname = "c"'))
        await wait_until(pilot, lambda: "has errors" not in header(app), 2.5, "reloaded")
        await wait_until(pilot, lambda: len(table_rows(app)) == 4, 5, "four rows")
        rows = {row.identity: row for row in app.query_one(StepTable).rows}
        assert [r.identity for r in app.query_one(StepTable).rows] == ["a", "b", "b2", "c"]
        assert (rows["a"].status, rows["b"].status, rows["c"].status) == (
            "success", "stale", "stale")
        assert rows["b"].summary == "n 2 -> 5"
        assert (rows["b2"].status, rows["b2"].summary) == ("pending", "new")
        assert rows["b2"].step_id == 3 and rows["c"].step_id == 2  # ids kept by identity
        assert cursor_identity(app) == "c"
        assert "◇2 stale" in header(app)
        assert "project.toml changed: reloaded (2 stale, 1 new)" in screen_text(app)
    by_name = {s["step"]: s["status"] for s in status_json(project)["steps"]}
    assert by_name == {"a": "success", "b": "stale", "b2": "pending", "c": "stale"}


@sync
async def test_a_big_run_paints_the_checkpoint_first_then_folds_the_states_in(
        tmp_path, runners, monkeypatch):  # noqa: F811
    """Over INLINE_STEPS steps the first paint does not wait for the states (the first-paint
    targets); they come right after it."""
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2)))
    assert batch(project).returncode == 0
    project.write_text(project.read_text().replace("n = 1", "n = 9"))
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert session.folded and {r.status for r in session.rows()} == {"stale"}
    monkeypatch.setattr(session_module, "INLINE_STEPS", 1)
    async with opened(project) as (app, pilot):
        assert not app.session.project_error
        await wait_words(pilot, {0: "stale", 1: "stale"}, 5)
        assert app.session.folded


def test_no_row_claims_a_success_before_its_state_is_known(tmp_path, monkeypatch):
    """A big run paints before its states (INLINE_STEPS): until they are known a result of an
    earlier run is ``unchecked`` (◌), never ``success``; the states then say which are
    current. A project file that does not load leaves them unchecked (nothing to check
    against), the run's errors still shown."""
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2), ("c", 3)))
    assert batch(project).returncode == 0
    good = project.read_text()
    project.write_text(good.replace("n = 2", "n = 9"))  # b (and c after it) no longer current
    monkeypatch.setattr(session_module, "INLINE_STEPS", 1)
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    assert not session.folded
    assert [r.status for r in session.rows()] == ["unchecked"] * 3
    session.refresh()
    assert [r.status for r in session.rows()] == ["success", "stale", "stale"]
    monkeypatch.setattr(session_module, "INLINE_STEPS", 2000)
    project.write_text(good + "[[steps]\nname = \n")  # does not load
    broken = Session(resolve_target(str(project), expand=False))
    broken.load()
    assert broken.project_error and not broken.folded
    assert [r.status for r in broken.rows()] == ["unchecked"] * 3


def test_rows_the_live_run_changed_after_the_states_show_the_journal(tmp_path):
    """The states are computed at one journal seq; a step that started or finished after it
    shows what the journal says until they are computed again."""
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2)))
    assert batch(project).returncode == 0
    project.write_text(project.read_text().replace("n = 2", "n = 4"))
    session = Session(resolve_target(str(project)))
    session.load()
    session.catch_up()
    assert [(r.status, r.summary) for r in session.rows()] == [("success", "n=1"),
                                                               ("stale", "n 2 -> 4")]
    seq = session.fresh_seq
    assert batch(project, "--resume").returncode == 0  # runs b again
    session.poll()
    assert session.state.last_seq > (seq or 0) and session.fresh_seq == seq
    assert [(r.status, r.summary) for r in session.rows()] == [("success", "n=1"),
                                                               ("success", "n=4")]
    assert session.changed_since(seq or 0) == (True, [])  # a run started since
    session.refresh()
    assert session.fresh_seq == session.state.last_seq
    assert [r.status for r in session.rows()] == ["success", "success"]
    assert session.current_state(1) is not None and session.current_state(1).state == "done"


def test_any_refresh_reads_a_project_file_that_changed_and_a_broken_one_keeps_the_last(
        tmp_path):
    """A refresh after a run ends never misses an edit the watcher has not seen yet; a file
    broken meanwhile leaves the last good steps (the run's results still come in)."""
    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2)))
    assert batch(project).returncode == 0
    session = Session(resolve_target(str(project)))
    session.load()
    assert [r.status for r in session.rows()] == ["success", "success"]
    good = project.read_text()
    project.write_text(good.replace("n = 2", "n = 3"))
    assert session.project_changed()
    session.refresh()  # as after a run: not asked to reload
    assert [(r.status, r.summary) for r in session.rows()] == [("success", "n=1"),
                                                               ("stale", "n 2 -> 3")]
    assert not session.project_changed()
    project.write_text(good + "[[steps]\n")
    session.refresh()
    assert session.project_error and "project.toml" in session.project_error
    assert [r.status for r in session.rows()] == ["success", "stale"]  # the last good
    assert not session.project_changed()  # said once, not read again every second


@sync
async def test_an_e_edit_written_to_the_project_file_turns_its_step_stale(tmp_path,
                                                                          runners):  # noqa: F811
    """``e`` writes the project file; the table follows it like any other change."""
    from textual.widgets import TextArea

    from aw_tui.tui.screens import EditScreen

    project = quick_project(tmp_path, named_steps(("a", 1), ("b", 2), ("c", 3)))
    assert batch(project).returncode == 0
    async with opened(project) as (app, pilot):
        await wait_words(pilot, {0: "success", 1: "success", 2: "success"}, 10)
        await pilot.press("j", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), 10, "editor")
        app.screen.query_one(TextArea).load_text("n = 5\n")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditScreen), 10, "saved")
        await wait_words(pilot, {0: "success", 1: "stale", 2: "stale"}, 2.5)
        assert app.query_one(StepTable).get_row(1).summary == "n 2 -> 5"
        assert cursor_identity(app) == "b"
    assert "n = 5" in project.read_text()
    assert status_words(project) == {0: "success", 1: "stale", 2: "stale"}
