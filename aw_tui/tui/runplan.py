"""What ``r`` and ``c`` would run, counted by the code the run itself uses (no Textual).

``r`` runs :meth:`Pipeline.select_steps` with the run tags from the start index: its
confirmation counts the finished steps of that selection (not the rows of the table). ``c``
runs what ``--resume`` would (:func:`aw_tui.target.resume_plan`, as ``aw-tui check``): with
nothing to run, the app says so instead of starting an empty run.
"""

from __future__ import annotations

from typing import Any

from aw_tui.rundir.vocabulary import DONE_STATUSES, STALE
from aw_tui.target import resume_plan, resume_verdict
from aw_tui.tui.step_rows import UNCHECKED

__all__ = ["redone_steps", "resume_todo"]


def redone_steps(session: Any, start_idx: int) -> int:
    """How many finished steps a fresh run (``r``) of `session` from `start_idx` with its
    run tags would run again (stale ones too: their results are replaced as well)."""
    if session.pipeline is None:
        return 0
    chosen = session.pipeline.select_steps(session.run_tags, session.ignore_tags)[start_idx:]
    done = {row.step_id for row in session.rows()
            if row.status in DONE_STATUSES or row.status in (STALE, UNCHECKED)}
    return sum(1 for step in chosen if step.step_id in done)


def resume_todo(session: Any) -> int | None:
    """How many steps ``c`` would run: what ``--resume`` would; None when that is not known
    (no checkpoint, a refused one, a project file with errors: ``c`` then starts the runner,
    which says what is wrong) or ``c`` goes from a start index. Blocking: call it from a
    thread."""
    if session.start_idx is not None:
        return None
    try:
        verdict = resume_verdict(session.target)
        if verdict.pipeline is None:
            return None
        return len(resume_plan(session.target, verdict.pipeline).to_run)
    except Exception:  # whatever it is, the runner reports it as c always did
        return None
