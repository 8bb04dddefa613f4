"""Control requests (``control/*.json``) and the one way a step's kwargs are edited.

A viewer asks the live runner to stop or to edit a pending step with :func:`request_stop`
and :func:`request_edit`. The runner reads the requests with :func:`pending_requests` and
applies an edit with :func:`apply_edit`; a viewer with no runner applies its edit through the
same function after taking the lock, as a runner does (:func:`apply_edit_without_runner`).

Edited kwargs have one encoding everywhere they are written as JSON (control requests,
``edit_applied`` events): :func:`encode_kwargs` / :func:`decode_kwargs`, which keep TOML's
dates and times (see :mod:`aw_tui.rundir.edits`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aw_tui.base.atomic import atomic_write_text
from aw_tui.rundir.edits import check_kwargs, decode_kwargs, encode_kwargs
from aw_tui.rundir.layout import RunLayout
from aw_tui.rundir.store import RunStore, make_dirs

__all__ = [
    "ControlRequest",
    "EditRefused",
    "apply_edit",
    "apply_edit_without_runner",
    "check_kwargs",
    "decode_kwargs",
    "encode_kwargs",
    "finish_request",
    "pending_requests",
    "read_request",
    "reject_request",
    "request_edit",
    "request_stop",
    "write_control_request",
]

#: The ``when`` of a stop request.
STOP_WHEN = ("now", "after_step")
#: The keys each action may have.
_KEYS: dict[str, frozenset[str]] = {
    "stop": frozenset({"action", "when"}),
    "edit": frozenset({"action", "step_id", "func_kwargs"}),
}
#: The largest request file read.
MAX_REQUEST = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Request files that could not be removed (read once, rejected once).
_STUCK: set[str] = set()
class EditRefused(ValueError):
    """An edit that cannot be applied (the reason is the message)."""


# -- requests --------------------------------------------------------------------------------
def write_control_request(log_dir: str, request: dict[str, Any]) -> str:
    """Leave a request (stop, edit) for the live runner; return the request's path."""
    layout = RunLayout(log_dir)
    make_dirs(layout.control)
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


@dataclass
class ControlRequest:
    """A request read from ``control/``: valid (``problem`` None) or to reject.

    Attributes
    ----------
    path : str
        The request file.
    data : dict
        The request (empty when it could not be read as one).
    problem : str or None
        Why it is rejected without being applied.
    """

    path: str
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def action(self) -> str | None:
        """``stop`` or ``edit`` (None for a rejected request)."""
        return None if self.problem else self.data.get("action")

    @property
    def when(self) -> str:
        """A stop request's ``when``."""
        return str(self.data.get("when", "after_step"))


def _schema_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"not a JSON object but a JSON {type(data).__name__}"
    action = data.get("action")
    if action not in _KEYS:
        return f"unknown action {action!r} (known: {', '.join(sorted(_KEYS))})"
    unknown = sorted(set(data) - _KEYS[action])
    if unknown:
        return f"unknown key(s) {', '.join(map(repr, unknown))} in a {action} request"
    if action == "stop":
        if data.get("when", "after_step") not in STOP_WHEN:
            return f"when must be 'now' or 'after_step', not {data.get('when')!r}"
        return None
    step_id = data.get("step_id")
    if not isinstance(step_id, int) or isinstance(step_id, bool):
        return f"step_id must be an integer, not {step_id!r}"
    return check_kwargs(decode_kwargs(data.get("func_kwargs")))


def read_request(path: str) -> ControlRequest | None:
    """Read and check one request file (None when it is gone).

    Opened once with ``O_NOFOLLOW | O_NONBLOCK`` (a symbolic link is refused, a FIFO cannot
    hang the runner) and checked on the descriptor: a regular file owned by the runner's
    user, at most :data:`MAX_REQUEST` bytes, a JSON object with known keys and valid values.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        what = "a symbolic link" if os.path.islink(path) else f"unreadable ({exc.strerror})"
        return ControlRequest(path, problem=f"it is {what}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return ControlRequest(path, problem="it is not a regular file")
        if st.st_uid != os.getuid():
            return ControlRequest(
                path, problem=f"it is owned by uid {st.st_uid}, not by the runner's user "
                f"(uid {os.getuid()}): only the user who runs a pipeline may control it")
        if st.st_size > MAX_REQUEST:
            return ControlRequest(path, problem=f"it is {st.st_size} bytes long (most: "
                                  f"{MAX_REQUEST})")
        raw = os.read(fd, MAX_REQUEST + 1)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return ControlRequest(path, problem="it is not valid JSON")
    problem = _schema_problem(data)
    if problem:
        return ControlRequest(path, data if isinstance(data, dict) else {}, problem)
    return ControlRequest(path, data)


def pending_requests(layout: RunLayout) -> list[ControlRequest]:
    """The requests waiting in ``control/``, oldest first, each read and checked."""
    found = []
    for path in layout.control_requests():
        if path in _STUCK:
            continue
        request = read_request(path)
        if request is not None:
            found.append(request)
    return found


def finish_request(layout: RunLayout, path: str, rejected: str | None = None) -> None:
    """Remove a handled request, or move it to ``control/rejected/`` with the reason."""
    if rejected is not None:
        make_dirs(layout.rejected)
        request = read_request(path)
        record: dict[str, Any] = dict(request.data) if request is not None else {}
        record["reason"] = rejected
        atomic_write_text(os.path.join(layout.rejected, os.path.basename(path)),
                          json.dumps(record, default=repr))
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        _STUCK.add(path)  # e.g. another user's file in a sticky folder: never read again


def reject_request(store: RunStore, request: ControlRequest, reason: str) -> None:
    """Move a request aside to ``control/rejected/`` and journal a ``warning`` (never fatal)."""
    finish_request(store.layout, request.path, rejected=reason)
    store.append_event(
        "warning", step_id=request.data.get("step_id") if isinstance(
            request.data.get("step_id"), int) else None,
        message=f"control request {os.path.basename(request.path)} rejected: {reason}",
    )


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
