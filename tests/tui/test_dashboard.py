"""Every run of a folder on one screen: ``aw-tui DIR`` (the dashboard, Pilot) and
``aw-tui status DIR [--json]`` on a folder of three projects whose runs finished, failed and
are live; how a folder is walked; and a snapshot of the dashboard at 120x35."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_tui_app import screen_text, sync, wait_until

from aw_tui.cli.main import main
from aw_tui.launch import RunRequest, start_runner
from aw_tui.launchers.slurm import JobStatus, SlurmJob
from aw_tui.rundir.journal import encode_line, read_events
from aw_tui.survey import find_runs, names_one_run
from aw_tui.tui.dashboard import DashboardApp
from aw_tui.tui.jobwatch import JobWatch
from aw_tui.tui.screens import ConfirmScreen, StopScreen

SIZE = (120, 35)


def _toml_kwargs(kwargs: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in kwargs.items()) + " }"


def project_file(folder: Path, steps: list[tuple[str, dict[str, Any]]], name: str,
                 extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = (f'[pipeline]\nname = "{name}"\ncreate_paths = true\n[paths]\nlog = "work/log"\n'
            + extra)
    for number, (func, kwargs) in enumerate(steps):
        text += (f'[[steps]]\nfunc = "aw_tui.testing_funcs:{func}"\ntags = ["s{number}"]\n'
                 f"kwargs = {_toml_kwargs(kwargs)}\n")
    (folder / "project.toml").write_text(text)
    return folder / "project.toml"


def batch(project: Path) -> int:
    return subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                          capture_output=True, timeout=120).returncode


@pytest.fixture
def survey(tmp_path: Path) -> Iterator[Path]:
    """survey/{done,broken,live}: a finished run (3 steps), a failed one (1 done, 1 failed,
    1 pending) and a live one (1 done, 1 running for a minute, 1 pending)."""
    root = tmp_path / "survey"
    done = project_file(root / "done", [("succeed", {"n": i}) for i in range(3)], "done")
    broken = project_file(root / "broken", [("succeed", {"n": 1}), ("fail", {}),
                                            ("succeed", {"n": 2})], "broken")
    live = project_file(root / "live", [("touch", {"path": str(tmp_path / "side")}),
                                        ("touch", {"path": str(tmp_path / "side"),
                                                   "seconds": 60}),
                                        ("succeed", {"n": 3})], "live")
    assert batch(done) == 0 and batch(broken) == 1
    runner = start_runner(str(live), str(live.parent / "work" / "log"), RunRequest())
    try:
        deadline = time.monotonic() + 30
        while not any(e["event"] == "step_started" and e["index"] == 1
                      for e in _events(live)):
            assert time.monotonic() < deadline and runner.poll() is None
            time.sleep(0.05)
        yield root
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)


def _events(project: Path) -> list[dict[str, Any]]:
    log = project.parent / "work" / "log"
    return read_events(str(log)) if log.exists() else []


EXPECTED = {  # project -> state, done, failed, pending, running
    "broken": ("failed", 1, 1, 1, 0),
    "done": ("finished", 3, 0, 0, 0),
    "live": ("running", 1, 0, 1, 1),
}


def test_status_dir_json_and_table_list_the_three_runs(survey: Path, capsys) -> None:
    assert not names_one_run(str(survey))
    assert main(["status", str(survey), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["folder"] == str(survey)
    rows = {row["project"]: row for row in data["runs"]}
    assert set(rows) == set(EXPECTED)
    for name, (state, done, failed, pending, running) in EXPECTED.items():
        row = rows[name]
        assert row["state"] == state, row
        assert (row["counts"]["done"], row["counts"]["failed"], row["counts"]["pending"],
                row["counts"]["running"]) == (done, failed, pending, running), row
        assert row["counts"]["stale"] is None and row["counts"]["total"] == 3
        assert row["run_dir"] == f"{name}/work/log" and row["run_name"] is None
        assert row["target"] == str(survey / name / "project.toml")
        assert row["job"] is None and row["launcher"] == "local"
    assert rows["live"]["live"] and rows["live"]["running"][0]["func"] == "touch"
    assert rows["live"]["running"][0]["index"] == 1
    assert rows["broken"]["failed_step"] == 1
    assert rows["done"]["elapsed"] is not None and rows["done"]["last_activity"] is not None

    assert main(["status", str(survey)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:7] == ["project", "run", "state", "done", "stale", "failed",
                                    "pending"]
    cells = {line.split()[0]: line.split() for line in table[1:4]}
    assert cells["done"][2:7] == ["finished", "3", "?", "0", "0"]
    assert cells["broken"][2:7] == ["failed", "1", "?", "1", "1"]
    assert cells["live"][2:8] == ["running", "1", "?", "0", "1", "[2/3]"]
    assert "stale: ? " in table[-1]


def test_commands_that_need_one_run_still_refuse_the_folder(survey: Path, capsys) -> None:
    assert main([str(survey), "--batch"]) == 2
    err = capsys.readouterr().err
    assert "names no project or run" in err and f"aw-tui status {survey}" in err
    assert main(["check", str(survey)]) == 2


async def _rows_ready(pilot: Any, count: int) -> None:
    await wait_until(pilot, lambda: len(pilot.app.rows) == count
                     and "run(s)" in screen_text(pilot.app), 20, "rows")


def _line_of(app: DashboardApp, name: str) -> list[str]:
    for line in screen_text(app).splitlines():
        words = line.split()
        if words and words[0] == name:
            return words
    raise AssertionError(f"no row {name}:\n{screen_text(app)}")


@sync
async def test_the_dashboard_shows_the_three_runs_and_acts_on_the_selected_one(
        survey: Path) -> None:
    app = DashboardApp(str(survey))
    async with app.run_test(size=SIZE) as pilot:
        await _rows_ready(pilot, 3)
        assert _line_of(app, "broken")[1:7] == ["-", "failed", "1", "?", "1", "1"]
        assert _line_of(app, "live")[1:8] == ["-", "running", "1", "?", "0", "1", "[2/3]"]
        # the stale count of the selected run is counted on demand (its checkpoint)
        await wait_until(pilot, lambda: _line_of(app, "broken")[4] == "0", 20, "stale")
        assert _line_of(app, "done")[4] == "?"
        # x on the live run: stop now -> interrupted
        await pilot.press("G")  # the last row: live
        assert app.selected_run().target.endswith("live/project.toml")
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, StopScreen), 5, "stop dialog")
        await pilot.press("n")
        await wait_until(pilot, lambda: _line_of(app, "live")[2] == "interrupted", 30,
                         "the live run stopped")
        # r on the finished run: confirm (its done steps run again), then it runs
        await pilot.press("k")
        assert app.selected_run().target.endswith("done/project.toml")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "confirm")
        assert "Run done from its first step? Its 3 done step(s) will run again" in (
            " ".join(screen_text(app).split()))
        await pilot.press("y")
        project = survey / "done" / "project.toml"
        await wait_until(pilot, lambda: [e["event"] for e in _events(project)].count(
            "run_finished") == 2, 30, "the second run")
        for proc in app.started:
            proc.wait(timeout=30)
        await pilot.press("enter")
    assert app.return_value == str(project)


def test_find_runs_walks_a_few_levels_without_following_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    project_file(root / "a", [("succeed", {})], "a")
    deep = project_file(root / "b" / "c" / "d", [("succeed", {})], "deep")
    project_file(root / "1" / "2" / "3" / "4" / "5", [("succeed", {})], "too-deep")
    # a project without [paths] log: its runs go to runs/<stem> beside it
    (root / "e").mkdir()
    (root / "e" / "survey.toml").write_text(
        '[pipeline]\nname = "e"\n[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\n')
    (root / "e" / "runs" / "survey").mkdir(parents=True)
    (root / "e" / "runs" / "survey" / "events.jsonl").write_bytes(b"")
    (root / "e" / "runs" / "older").mkdir()  # a run directory no project names
    (root / "e" / "runs" / "older" / "pipeline.p").write_bytes(b"")
    (root / "e" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / ".hidden").mkdir()
    project_file(root / ".hidden", [("succeed", {})], "hidden")
    elsewhere = tmp_path / "elsewhere"
    project_file(elsewhere, [("succeed", {})], "linked")
    os.symlink(elsewhere, root / "link")
    runs = find_runs(str(root))
    assert [(r.name, os.path.relpath(r.log_dir, root)) for r in runs] == [
        ("a", "a/work/log"), ("deep", "b/c/d/work/log"), ("e", "e/runs/survey"),
        (None, "e/runs/older")]
    assert runs[1].project == str(deep)
    assert all(r.launcher == "local" and r.problem is None for r in runs)
    assert names_one_run(str(root / "a")) and names_one_run(str(root / "e" / "runs" / "older"))
    assert not names_one_run(str(root / "e"))  # two run directories in runs/: the list


def test_a_broken_project_is_a_row_that_says_so(tmp_path: Path, capsys) -> None:
    project_file(tmp_path / "good", [("succeed", {})], "good")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "project.toml").write_text("[pipeline\n[[steps]]\n")
    assert main(["status", str(tmp_path), "--json"]) == 0
    rows = {r["project"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert rows["good"]["state"] == "idle"
    assert rows["bad"]["state"] == "invalid project" and rows["bad"]["problem"]


# -- snapshot -------------------------------------------------------------------------------
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _journal(log: Path, events: list[dict[str, Any]]) -> None:
    log.mkdir(parents=True, exist_ok=True)
    with open(log / "events.jsonl", "wb") as out:
        for seq, event in enumerate(events, 1):
            out.write(encode_line({"seq": seq, "time": event.pop("t"), **event}))


def _run(log: Path, name: str, steps: list[str], start: float, outcome: str,
         durations: list[float], funcs: list[str], job: str | None = None) -> None:
    events: list[dict[str, Any]] = [{
        "t": start, "event": "run_started", "run_name": None, "host": "node1", "pid": 4242,
        "run_steps": list(range(len(steps))), "start_idx": 0, "resume": False,
        "total": len(steps), "pipeline_name": name, "checkpoint": "pipeline.p",
        "completed": [], "executor": None, "slurm_job": job, "deadline": None}]
    now = start
    for index, (status, duration, func) in enumerate(zip(steps, durations, funcs,
                                                         strict=True)):
        if status == "pending":
            break
        events.append({"t": now, "event": "step_started", "step_id": index, "index": index,
                       "func": func, "tags": [], "host": "node1", "pid": 4242})
        now += duration
        if status == "running":
            break
        events.append({"t": now, "event": "step_finished", "step_id": index, "index": index,
                       "status": status, "duration": duration, "summary": {},
                       "error_msg": "boom" if status == "error" else None})
    if outcome == "finished":
        events.append({"t": now, "event": "run_finished", "status": "success",
                       "duration": now - start})
    elif outcome == "failed":
        events.append({"t": now, "event": "run_failed", "step_id": 2, "index": 2,
                       "error_msg": "boom"})
    elif outcome == "interrupted":
        events.append({"t": now, "event": "run_interrupted", "step_id": 1, "index": 1,
                       "reason": "SIGTERM"})
    _journal(log, events)


@pytest.fixture
def fixed_survey(tmp_path: Path) -> Path:
    root = tmp_path / "survey"
    six = ["SExtractor", "SExtractor", "SExtractor", "SCAMP", "SWarp", "PSFEx"]
    for name in ("m31", "m33", "m51", "m101", "ngc253"):
        extra = ('[launcher]\nkind = "slurm"\n[launcher.slurm]\npartition = "debug"\n'
                 if name == "ngc253" else "")
        project_file(root / name, [("succeed", {"n": i}) for i in range(6)], name, extra)
    _run(root / "m31" / "work" / "log", "m31", ["success"] * 6, T0, "finished",
         [41.0, 40.0, 43.0, 12.5, 95.0, 30.0], six)
    _run(root / "m33" / "work" / "log", "m33", ["success", "success", "error", "pending",
                                               "pending", "pending"], T0 + 600, "failed",
         [40.0, 42.0, 3.0, 0, 0, 0], six)
    _run(root / "m51" / "work" / "log", "m51", ["success", "running", "pending", "pending",
                                               "pending", "pending"], T0 + 1200, "none",
         [44.0, 10.0, 0, 0, 0, 0], six)  # its runner died without a word: dead
    _run(root / "runs" / "old-test", "old-test", ["success", "interrupted"], T0 - 86400 * 3,
         "interrupted", [5.0, 7.0], ["sleep", "sleep"])
    (root / "ngc253" / "work" / "log").mkdir(parents=True)
    return root


class FakeSlurm:
    def status(self, job_id: str, max_age: float = 0.0) -> JobStatus:
        return JobStatus(job_id, "PENDING", "Priority", checked=T0)

    def launcher(self, log_dir: str) -> SlurmJob | None:
        if not log_dir.endswith("ngc253/work/log"):
            return None
        return SlurmJob("slurm", "1337", T0, "launcher.sbatch", [], {})


def test_snapshot_dashboard_120x35(fixed_survey: Path, snap_compare, monkeypatch) -> None:
    """Five projects and an orphan run: finished, failed, dead, idle with a pending Slurm
    job, never run, interrupted; the cursor on the first row, its stale count (no
    checkpoint: -), its paths below the table."""
    monkeypatch.chdir(fixed_survey.parent)
    fake = FakeSlurm()
    app = DashboardApp("survey", clock=lambda: T0 + 7200)
    app.job_watch = JobWatch(status=fake.status, launcher=fake.launcher)

    async def ready(pilot: Any) -> None:
        await wait_until(pilot, lambda: "1337 PENDING" in screen_text(pilot.app), 20, "job")
        await wait_until(pilot, lambda: len(pilot.app.stale) == 1, 20, "stale count")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_enter_opens_the_run_and_closing_it_comes_back(tmp_path: Path, monkeypatch) -> None:
    from aw_tui.options import RunOptions
    from aw_tui.tui import dashboard

    project_file(tmp_path / "a", [("succeed", {})], "a")
    project_file(tmp_path / "b", [("succeed", {})], "b")
    runs = find_runs(str(tmp_path))
    answers = [str(tmp_path / "b" / "project.toml"), None]
    shown: list[tuple[str | None, str]] = []
    opened: list[str] = []

    def fake_run(self: DashboardApp) -> str | None:
        shown.append((self.selected_target, self.first_message))
        return answers.pop(0)

    monkeypatch.setattr(DashboardApp, "run", fake_run)
    monkeypatch.setattr(dashboard, "run_app",
                        lambda target, options, notify=False: opened.append(target.path))
    assert dashboard.run_dashboard(str(tmp_path), runs, RunOptions()) == 0
    assert opened == [str(tmp_path / "b" / "project.toml")]
    # back on the list, the cursor on the run just closed
    assert shown == [(None, ""), (str(tmp_path / "b" / "project.toml"), "")]
