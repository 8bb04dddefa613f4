"""Control requests (``control/*.json``) and the one way a step's kwargs are edited.

A viewer asks the live runner to stop or to edit a pending step with :func:`request_stop`
and :func:`request_edit`. The runner reads the requests with :func:`pending_requests` and
applies an edit with :func:`apply_edit`; a viewer with no runner applies its edit through the
same function after taking the lock, as a runner does (:func:`apply_edit_without_runner`).

Edited kwargs have one encoding everywhere they are written as JSON (control requests,
``edit_applied`` events): :func:`encode_kwargs` / :func:`decode_kwargs`, which keep TOML's
dates and times (tagged as ``{"$datetime": "..."}``, ``{"$date": ...}``, ``{"$time": ...}``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
from collections.abc import Callable, Collection
from typing import Any

from aw_tui.base.atomic import atomic_write_text
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.store import RunStore

__all__ = [
    "EditRefused",
    "apply_edit",
    "apply_edit_without_runner",
    "check_kwargs",
    "decode_kwargs",
    "encode_kwargs",
    "finish_request",
    "pending_requests",
    "request_edit",
    "request_stop",
    "write_control_request",
]

#: The ``when`` of a stop request.
STOP_WHEN = ("now", "after_step")
#: How deep edited kwargs may nest (tables and arrays).
MAX_DEPTH = 64

_TAGS: dict[str, Callable[[str], Any]] = {
    "$datetime": datetime.datetime.fromisoformat,
    "$date": datetime.date.fromisoformat,
    "$time": datetime.time.fromisoformat,
}


class EditRefused(ValueError):
    """An edit that cannot be applied (the reason is the message)."""


# -- the encoding of edited kwargs -----------------------------------------------------------
def encode_kwargs(value: Any) -> Any:
    """The JSON form of edited kwargs: TOML's dates and times tagged, tuples as lists.

    Anything TOML cannot hold becomes its ``repr`` (only in journal events of edits made
    from Python; :func:`check_kwargs` refuses it in an edit).
    """
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): encode_kwargs(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_kwargs(v) for v in value]
    return repr(value)


def decode_kwargs(value: Any) -> Any:
    """The inverse of :func:`encode_kwargs` (tagged dates and times back to objects)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, text), = value.items()
            if key in _TAGS and isinstance(text, str):
                with contextlib.suppress(ValueError):
                    return _TAGS[key](text)
        return {k: decode_kwargs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_kwargs(v) for v in value]
    return value


def check_kwargs(func_kwargs: Any) -> str | None:
    """Why ``func_kwargs`` cannot be an edit (None when it can).

    The rule of an ``e`` edit in the TUI: a table of what TOML can express (strings,
    numbers, booleans, dates and times, arrays and tables; no None, no objects), string
    keys, at most :data:`MAX_DEPTH` levels.
    """
    if not isinstance(func_kwargs, dict):
        return f"func_kwargs must be a table, not {type(func_kwargs).__name__}"

    def bad(value: Any, where: str, depth: int) -> str | None:
        if depth > MAX_DEPTH:
            return f"{where}: nested more than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return f"{where}: key {key!r} is not a string"
                found = bad(item, f"{where}.{key}" if where else key, depth + 1)
                if found:
                    return found
            return None
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                found = bad(item, f"{where}[{index}]", depth + 1)
                if found:
                    return found
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None  # TOML has inf and nan
        if isinstance(value, (bool, int, float, str, datetime.date, datetime.time)):
            return None
        return f"{where} = {value!r} ({type(value).__name__}) is not a TOML value"

    return bad(func_kwargs, "", 0)


# -- requests --------------------------------------------------------------------------------
def write_control_request(log_dir: str, request: dict[str, Any]) -> str:
    """Leave a request (stop, edit) for the live runner; return the request's path."""
    layout = RunLayout(log_dir)
    os.makedirs(layout.control, exist_ok=True)
    path = layout.new_control_request()
    atomic_write_text(path, json.dumps(request))
    return path


def request_stop(log_dir: str, when: str = "after_step") -> str:
    """Ask the live runner to stop (``'now'`` or ``'after_step'``)."""
    if when not in STOP_WHEN:
        raise ValueError(f"when must be 'now' or 'after_step', not {when!r}")
    return write_control_request(log_dir, {"action": "stop", "when": when})


def request_edit(log_dir: str, step_id: int, func_kwargs: dict[str, Any]) -> str:
    """Ask the live runner to replace a pending step's kwargs before it starts."""
    reason = check_kwargs(func_kwargs)
    if reason:
        raise EditRefused(reason)
    return write_control_request(
        log_dir,
        {"action": "edit", "step_id": int(step_id), "func_kwargs": encode_kwargs(func_kwargs)},
    )


def pending_requests(layout: RunLayout) -> list[tuple[str, dict[str, Any]]]:
    """The control requests waiting, oldest first."""
    requests = []
    for path in layout.control_requests():
        try:
            with open(path, encoding="utf-8") as handle:
                requests.append((path, json.load(handle)))
        except (OSError, ValueError):
            continue
    return requests


def finish_request(layout: RunLayout, path: str, rejected: str | None = None) -> None:
    """Remove a handled request, or move it to ``control/rejected/`` with the reason."""
    if rejected is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    os.makedirs(layout.rejected, exist_ok=True)
    try:
        with open(path, encoding="utf-8") as handle:
            request = json.load(handle)
    except (OSError, ValueError):
        request = {}
    request["reason"] = rejected
    atomic_write_text(os.path.join(layout.rejected, os.path.basename(path)), json.dumps(request))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# -- the one edit ----------------------------------------------------------------------------
def apply_edit(
    store: RunStore,
    pipeline: Any,
    step_id: Any,
    func_kwargs: Any,
    source: str,
    started: Collection[int] = (),
) -> str | None:
    """Replace a step's kwargs, journalled: the one way an edit is applied.

    The caller holds the run directory's lock (the runner, or
    :func:`apply_edit_without_runner`).

    Parameters
    ----------
    store : RunStore
        The run directory's writer (lock held).
    pipeline : Pipeline
        The pipeline whose step changes.
    step_id : int
        The step.
    func_kwargs : dict
        The new kwargs (checked with :func:`check_kwargs`).
    source : str
        ``tui``, ``control`` or ``python`` (written in the ``edit_applied`` event).
    started : collection of int
        Steps that have started in the live run (too late to edit).

    Returns
    -------
    str or None
        None when applied, else why not.
    """
    try:
        step = pipeline.get_step(int(step_id))
    except (KeyError, ValueError, TypeError):
        return f"no step {step_id!r} in this pipeline"
    reason = check_kwargs(func_kwargs)
    if reason:
        return reason
    if step.step_id in started:
        return f"step {step.step_id} has already started in this run"
    step.func_kwargs = func_kwargs
    store.write_kwargs(step.step_id, func_kwargs)
    store.append_event(
        "edit_applied", step_id=step.step_id, func_kwargs=encode_kwargs(func_kwargs),
        source=source,
    )
    return None


def apply_edit_without_runner(
    log_dir: str,
    run_name: str | None,
    step_id: int,
    func_kwargs: dict[str, Any],
    load: Callable[[], Any],
    source: str = "tui",
) -> tuple[Any, str]:
    """Apply an edit when no runner is live: take the lock as a runner does, load the run's
    state with ``load()`` (under the lock, so no run changes it meanwhile), apply the edit
    with :func:`apply_edit` and write the checkpoint.

    Returns
    -------
    (Pipeline, str)
        The edited pipeline and its checkpoint's path.

    Raises
    ------
    EditRefused
        When the edit cannot be applied.
    RunLockedError
        When a runner took the run directory meanwhile.
    """
    store = RunStore(log_dir, run_name)
    store.acquire_lock()
    try:
        pipeline = load()
        reason = apply_edit(store, pipeline, step_id, func_kwargs, source)
        if reason:
            raise EditRefused(reason)
        store.write_checkpoint(pipeline)
    finally:
        store.close()
    return pipeline, store.checkpoint
