"""Bring a checkpoint up to date with the journal written after it (``load_pipeline``)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import dill

from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import RunStore

__all__ = ["replay_journal"]


def _load(path: str) -> Any:
    with open(path, "rb") as handle:
        return dill.load(handle)


def replay_journal(pipeline: Any, log_dir: str) -> int:
    """Apply the journal events newer than the checkpoint to ``pipeline``.

    Finished steps get their results back from ``steps/<id>.result.p``, edits their kwargs
    from ``steps/<id>.kwargs.p``, and ``run_step_idx`` points at the first step that did not
    finish, so ``run(resume=True)`` goes on from there.

    Returns
    -------
    int
        The number of events applied.
    """
    store = RunStore.__new__(RunStore)  # paths only: no lock, no journal handle
    store.steps_dir = os.path.join(log_dir, "steps")
    seq = int(getattr(pipeline, "journal_seq", 0) or 0)
    events = [e for e in read_events(log_dir) if int(e.get("seq", 0) or 0) > seq]
    by_id = {step.step_id: step for step in pipeline.steps}
    applied = 0
    # Each checkpoint (pipeline.p, pipeline-<run_name>.p) belongs to one run name: a later
    # run under another name in the same folder is not part of its state.
    own_run = getattr(pipeline, "run_name", None)
    mine = True
    lost: set[int] = set()
    for event in events:
        kind = event.get("event")
        if kind == "run_started":
            mine = event.get("run_name") == own_run
        if not mine:
            continue
        step = by_id.get(event.get("step_id"))
        if kind == "run_started":
            ids = event.get("run_steps") or []
            pipeline.run_steps = [by_id[i] for i in ids if i in by_id]
            pipeline.run_step_idx = int(event.get("start_idx") or 0)
            pipeline.run_name = event.get("run_name")
            if not event.get("resume"):
                pipeline.completed_step_ids = set(event.get("completed") or [])
        elif kind == "step_finished" and step is not None:
            try:
                step.results = _load(store.result_path(step.step_id))
            except Exception:
                # The journal line reached the disk but the result did not (power cut):
                # the step is not done and runs again.
                step.results = None
                lost.add(step.step_id)
            else:
                lost.discard(step.step_id)
                if event.get("completed", True):
                    pipeline.completed_step_ids.add(step.step_id)
            if event.get("run_step_idx") is not None:
                pipeline.run_step_idx = int(event["run_step_idx"])
        elif kind == "group_finished":
            if event.get("run_step_idx") is not None:
                pipeline.run_step_idx = int(event["run_step_idx"])
        elif kind == "edit_applied" and step is not None:
            path = store.kwargs_path(step.step_id)
            if os.path.exists(path):
                with contextlib.suppress(OSError, EOFError, Exception):
                    step.func_kwargs = _load(path)
            elif isinstance(event.get("func_kwargs"), dict):
                step.func_kwargs = event["func_kwargs"]
        else:
            continue
        applied += 1
    if lost:
        pipeline.completed_step_ids -= lost
        for index, step in enumerate(pipeline.run_steps or []):
            if step.step_id in lost:
                pipeline.run_step_idx = min(pipeline.run_step_idx, index)
                break
    if events:
        pipeline.journal_seq = max(int(e.get("seq", 0) or 0) for e in events)
    return applied
