"""What the TUI shows does not change with the memory savings of issue 16: the project's steps
are the checkpoint's own objects where the project defines them alike (no second copy of a
100,000-step run), and the rows and states are those of freshly built steps, on a run with
edits, stale, new and failed steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aw_tui.project import model
from aw_tui.target import resolve_target
from aw_tui.tui.session import Session

STEPS = """
[[steps]]
name = "a"
func = "aw_tui.testing_funcs:succeed"
tags = ["a"]
[steps.kwargs]
n = 1

[[steps]]
name = "b"
func = "aw_tui.testing_funcs:fail"
ignore_errors = true
tags = ["b"]

[[steps]]
name = "each"
func = "aw_tui.testing_funcs:succeed"
foreach = "frames"
tags = ["each", "{item.image}"]
[steps.kwargs]
frame = "{item.image}"

[[steps]]
name = "c"
func = "aw_tui.testing_funcs:succeed"
tags = ["c"]
[steps.kwargs]
n = 3
"""


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = folder / "project.toml"
    project.write_text('[pipeline]\nname = "m"\ncreate_paths = true\n'
                       '[paths]\ntemp = "work/temp"\nlog = "work/log"\n'
                       '[inputs.frames]\nitems = ["f1", "f2", "f3"]\ntext_fields = ["image"]\n'
                       + STEPS)
    proc = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return project


def _shown(session: Session) -> tuple[list[tuple], dict]:
    rows = [(r.index, r.step_id, list(r.tags), r.func, r.status, r.summary, r.verdict,
             r.warnings, r.identity, r.is_start) for r in session.rows()]
    states = {sid: (s.identity, s.state, list(s.reasons), s.step_id)
              for sid, s in session.freshness.items()}
    removed = [(s.identity, s.state, s.step_id) for s in session.removed]
    return rows, {"states": states, "removed": removed, "seq": session.fresh_seq}


def _open(project: Path) -> Session:
    session = Session(resolve_target(str(project), expand=False))
    session.load()
    session.catch_up()
    session.refresh()
    return session


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    project = _project(tmp_path)
    text = project.read_text()
    text = text.replace("n = 1", "n = 7")  # a: stale
    text = text.replace('items = ["f1", "f2", "f3"]', 'items = ["f1", "f2", "f4"]')  # new, gone
    project.write_text(text)
    return project


def test_done_failed_and_stale_rows_equal_those_of_steps_built_afresh(tmp_path: Path,
                                                                     monkeypatch) -> None:
    project = _project(tmp_path)
    project.write_text(project.read_text().replace("n = 3", "n = 8"))  # only c: stale
    session = _open(project)
    assert all(any(s is old for old in session.checkpoint.steps) for s in session.pipeline.steps
               if s.identity != "c")
    assert [(r.identity, r.status) for r in session.rows()] == [
        ("a", "success"), ("b", "error"), ("each[f1]", "success"), ("each[f2]", "success"),
        ("each[f3]", "success"), ("c", "stale")]
    reused = _shown(session)
    monkeypatch.setattr(model, "same_definition", lambda old, new: False)
    assert _shown(_open(project)) == reused


def test_the_rows_and_states_equal_those_of_steps_built_afresh(edited: Path,
                                                               monkeypatch) -> None:
    session = _open(edited)
    shared = [s for s in session.pipeline.steps
              if any(s is old for old in session.checkpoint.steps)]
    assert {s.identity for s in shared} == {"b", "each[f1]", "each[f2]", "c"}
    words = {r.identity: r.status for r in session.rows()}
    # a changed; the others depend on every step before them (they read no file)
    assert words == {"a": "stale", "b": "stale", "each[f1]": "stale",
                     "each[f2]": "stale", "each[f4]": "pending", "c": "stale"}
    assert [s.identity for s in session.removed] == ["each[f3]"]
    reused = _shown(session)

    monkeypatch.setattr(model, "same_definition", lambda old, new: False)
    session = _open(edited)
    assert not any(s is old for s in session.pipeline.steps for old in session.checkpoint.steps)
    assert _shown(session) == reused


def test_an_edit_of_a_shared_step_shows_as_before(edited: Path, monkeypatch) -> None:
    """An ``e`` edit (file and checkpoint) of a step the table shares with the checkpoint."""
    session = _open(edited)
    step = next(s for s in session.pipeline.steps if s.identity == "c")
    outcome = session.edit(step.step_id, {"n": 4})
    assert outcome.how == "applied", outcome.message
    session.catch_up()
    session.refresh(reload_project=True)
    after = _shown(session)
    assert {r[8]: r[4] for r in after[0]}["c"] == "stale"

    monkeypatch.setattr(model, "same_definition", lambda old, new: False)
    assert _shown(_open(edited)) == after
