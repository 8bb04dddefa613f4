"""Which steps are current: the state of every step now, and why a step is stale.

Given the steps as they are defined now (a project file's, or a checkpoint's for a pipeline
built in Python) and the provenance records of their last runs
(:mod:`aw_tui.rundir.provenance`), :func:`assess` gives each step one state that is true now:

``done``
    It finished, and nothing it ran with has changed since.
``stale``
    It finished, but something changed since; the reasons name each change: a kwargs key
    (``api_kwargs.config.DETECT_THRESH 3 -> 7``), a file it read, its tool's version, its
    function, or a step it depends on that reran, is stale, failed or has not run since.
``pending``
    It has not finished (``new`` among its reasons when no earlier run knew it).
``running``, ``failed``
    As the run directory says.
``removed``
    The checkpoint has it, the definition no longer does (its results are kept).

A step depends on the steps that wrote a file it read (the tools' outputs included: SWarp
reads SCAMP's ``.head`` files); a step that read no file depends on every step before it, as
in the seed; a step that read and wrote no file at all is depended on by every step after
it. docs/run-directory.md describes the model.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aw_tui.rundir.provenance import (
    canonical,
    decode_record,
    file_changed,
    fingerprint,
    func_identity,
    kwargs_changes,
)

__all__ = ["STATES", "Freshness", "Planned", "StepFreshness", "assess", "records_of"]

#: The states of a step, in the order the counts list them.
STATES = ("done", "stale", "pending", "running", "failed", "removed")

#: At most this many reasons of one kind name upstream steps.
_MAX_UPSTREAM = 3


@dataclass(slots=True)
class Planned:
    """A step as it is defined now.

    Attributes
    ----------
    identity : str
        Its identity (``detect[206401]``).
    func_kwargs : dict
        Its kwargs now.
    func : callable
        Its function now.
    step_id : int
        Its id.
    """

    identity: str
    func_kwargs: Any
    func: Any
    step_id: int


@dataclass(slots=True)  # one per step
class StepFreshness:
    """The state of one step now, and why.

    Attributes
    ----------
    identity : str
    state : str
        One of :data:`STATES`.
    reasons : list of str
        Why it is stale (or pending: ``new``; failed: what changed since).
    step_id : int or None
    finished : float or None
        When its last run ended (``time.time()``; 0.0 for a record that does not say),
        None when no run of it is on record. The record itself is not kept: at 100,000
        steps the records are most of a loaded checkpoint, and a step's state needs only
        this of it once decided.
    """

    identity: str
    state: str
    reasons: list[str] = field(default_factory=list)
    step_id: int | None = None
    finished: float | None = None

    @property
    def needs_run(self) -> bool:
        """Whether ``--resume`` runs it (pending, stale or failed)."""
        return self.state in ("pending", "stale", "failed")


@dataclass
class Freshness:
    """The states of all steps (:func:`assess`)."""

    states: list[StepFreshness]
    removed: list[StepFreshness]

    def by_identity(self) -> dict[str, StepFreshness]:
        """The states by step identity (removed steps included)."""
        return {s.identity: s for s in [*self.states, *self.removed]}

    def counts(self) -> dict[str, int]:
        """How many steps are in each state."""
        out = dict.fromkeys(STATES, 0)
        for state in [*self.states, *self.removed]:
            out[state.state] += 1
        return out

    def to_run(self, keep_stale: bool = False) -> list[StepFreshness]:
        """The steps ``--resume`` runs, in order (``keep_stale``: not the stale ones)."""
        return [s for s in self.states
                if s.needs_run and not (keep_stale and s.state == "stale")]


def records_of(steps: Iterable[Any], completed: Iterable[int]) -> dict[str, Any]:
    """The provenance records of a checkpoint's steps that count, by identity: a finished
    step's (its id in ``completed``, or scheduled to run again with its last result still
    held: a resume that stopped before it), and a failed one's. Each as the step holds
    it (a dict, or the JSON text of a loaded checkpoint's: :func:`assess` decodes one at a
    time)."""
    done = set(completed)
    out: dict[str, Any] = {}
    for step in steps:
        held = getattr(step, "record_as_held", None)
        if held is None:
            held = getattr(step, "provenance", None)  # a step of another kind
        identity = getattr(step, "identity", None) or str(step.step_id)
        if type(held) is str and step.step_id in done and held.startswith(
                f'{{"identity": {json.dumps(identity, ensure_ascii=False)}, '):
            out[identity] = held  # the usual case: the record of this identity, done
            continue
        record = decode_record(held)
        if record is None:
            if step.step_id in done:
                # Finished before aw-tui recorded what steps ran with: taken as current.
                out[getattr(step, "identity", str(step.step_id))] = {
                    "completed": True, "legacy": True, "step_id": step.step_id}
            continue
        if record.get("completed") and step.step_id not in done and \
                getattr(step, "results", None) is None:
            continue  # its result was lost: not done
        out[str(record.get("identity") or step.step_id)] = record
    return out


class _ToolCheck:
    """The version of the tool a command names now (probed only when its binary changed)."""

    def __init__(self, probe: Callable[[str, str], str | None] | None) -> None:
        self.probe = probe
        self.cache: dict[tuple[str, str], str | None] = {}

    def change(self, tool: Any) -> str | None:
        if not isinstance(tool, dict) or self.probe is None:
            return None
        command = str(tool.get("command") or "")
        name = str(tool.get("name") or command)
        found = command if os.sep in command else shutil.which(command)
        if not found:
            return f"tool {name}: {command} is no longer found"
        real = os.path.realpath(found)
        try:
            info = os.stat(real)
            now = [info.st_size, info.st_mtime_ns]
        except OSError:
            return f"tool {name}: {real} is no longer found"
        if real == tool.get("binary") and now == tool.get("stat"):
            return None
        key = (name, real)
        if key not in self.cache:
            self.cache[key] = self.probe(name, real)
        version = self.cache[key]
        old = tool.get("version")
        if version is not None and old is not None and version != old:
            return f"tool {name} {old} -> {version} ({real})"
        return None


def _own_reasons(planned: Planned, record: dict[str, Any], tools: _ToolCheck,
                 stats: dict[str, Any], produced: set[str]) -> list[str]:
    """Why a finished step is stale by itself: kwargs, function, tool, files read."""
    reasons: list[str] = []
    encoded = canonical(planned.func_kwargs)
    if fingerprint(encoded) != record.get("fingerprint"):
        reasons += kwargs_changes(record.get("kwargs"), encoded) or ["kwargs changed"]
    was = record.get("func") or {}
    now = func_identity(planned.func)
    if was.get("name") != now["name"]:
        reasons.append(f"function {was.get('name')} -> {now['name']}")
    elif was.get("source") and now["source"] and was["source"] != now["source"]:
        reasons.append(f"function {now['name']} changed (its source)")
    tool = tools.change(record.get("tool"))
    if tool:
        reasons.append(tool)
    for path, ident in (record.get("reads") or {}).items():
        if path in produced:
            continue  # judged through the step that wrote it
        if file_changed(path, ident, stats) == "changed":
            reasons.append(f"file {path} changed")
    return reasons


def assess(
    planned: list[Planned],
    records: dict[str, dict[str, Any]],
    known: Iterable[str] = (),
    running: Iterable[str] = (),
    removed: Iterable[tuple[str, int]] = (),
    tool_version: Callable[[str, str], str | None] | None = None,
) -> Freshness:
    """The state of each step now.

    Parameters
    ----------
    planned : list of Planned
        The steps as defined now, in order.
    records : dict
        The provenance record of each step's last run, by identity (:func:`records_of`):
        a dict or its JSON text.
    known : iterable of str
        The identities an earlier run knew (the checkpoint's): a pending step not among
        them is ``new``.
    running : iterable of str
        The identities running now.
    removed : iterable of (str, int)
        The identities and ids of steps the checkpoint has and the definition no longer.
    tool_version : callable, optional
        ``(tool name, binary path) -> version``: asked only for a tool whose binary changed
        since a step ran; None skips the tool check.
    """
    known = set(known)
    running = set(running)
    tools = _ToolCheck(tool_version)
    stats: dict[str, Any] = {}
    forced: dict[str, str] = {}
    for _ in range(len(planned) + 1):
        states, wanted = _walk(planned, records, known, running, tools, stats, forced)
        grown = {k: v for k, v in wanted.items() if k not in forced}
        if not grown:
            break
        forced.update(grown)
    gone = [StepFreshness(identity, "removed", step_id=sid,
                          finished=_finished(decode_record(records.get(identity))))
            for identity, sid in removed]
    return Freshness(states, gone)


def _finished(record: dict[str, Any] | None) -> float | None:
    """:attr:`StepFreshness.finished` of a record."""
    if record is None:
        return None
    try:
        return float(record.get("finished") or 0)
    except (TypeError, ValueError):
        return 0.0


def _walk(planned: list[Planned], records: dict[str, Any], known: set[str],
          running: set[str], tools: _ToolCheck, stats: dict[str, Any],
          forced: dict[str, str]) -> tuple[list[StepFreshness], dict[str, str]]:
    """One pass over the steps in order. Returns their states, and the finished steps that
    must run again because a step that will run needs a file they wrote that is gone (the
    demo's last step moves the stack away: rerunning the stack's detection needs the stack
    again), with the reason."""
    states: list[StepFreshness] = []
    upstream = _Upstream(states)
    wanted: dict[str, str] = {}
    needs: list[tuple[int, str]] = []  # (producer position, why) for missing inputs
    for position, step in enumerate(planned):
        record = decode_record(records.get(step.identity))
        state = StepFreshness(step.identity, "pending", step_id=step.step_id,
                              finished=_finished(record))
        states.append(state)
        reads = (record or {}).get("reads") or {}
        if step.identity in running:
            state.state = "running"
        elif record is None:
            state.reasons = [] if step.identity in known else ["new"]
        elif record.get("legacy"):
            state.state = "done"
        else:
            produced = upstream.explained(reads, record)
            reasons = _own_reasons(step, record, tools, stats, produced)
            reasons += upstream.reasons(position, record, reads)
            if step.identity in forced:
                reasons.append(forced[step.identity])
            if not record.get("completed"):
                state.state, state.reasons = "failed", reasons
            else:
                state.state, state.reasons = ("stale" if reasons else "done"), reasons
        if state.needs_run and reads:
            needs += [(upstream.producer[path], f"its output {path} is gone and "
                       f"{step.identity} reads it")
                      for path in reads if path in upstream.producer
                      and file_changed(path, [0, 0, None], stats) == "missing"]
        upstream.add(position, state, record)
    for index, why in needs:
        if states[index].state == "done":
            wanted.setdefault(states[index].identity, why)
    return states, wanted


def _describe(other: StepFreshness) -> str | None:
    """Why a step that depends on ``other`` cannot be current, if so."""
    if other.state == "pending":
        return f"{other.identity} {'has not run yet' if other.finished is None else 'is not finished'}"
    word = {"stale": "is stale", "failed": "failed", "running": "is running"}.get(other.state)
    return f"{other.identity} {word}" if word else None


class _Upstream:
    """What the steps so far tell the steps after them (kept as the walk goes on, so a step
    that depends on every step before it costs no more than one that depends on one)."""

    def __init__(self, states: list[StepFreshness]) -> None:
        self.states = states
        self.producer: dict[str, int] = {}  # file -> the last step so far that wrote it
        self.barriers: list[int] = []  # finished steps that read and wrote no file
        self.open: list[int] = []  # steps so far that are not done
        self.latest: tuple[float, int] = (0.0, -1)  # the last finished, and which

    def reasons(self, position: int, record: dict[str, Any], reads: dict[str, Any]) -> list[str]:
        """Why the step at ``position`` is stale through the steps it depends on."""
        finished = _finished(record) or 0.0
        reasons: list[str] = []
        if reads:
            upstream = sorted({*(self.producer[p] for p in reads if p in self.producer),
                               *self.barriers})
            candidates = [self.states[i] for i in upstream]
            newer = [s for s in candidates if s.state == "done" and s.finished is not None
                     and s.finished > finished]
            not_done = [s for s in candidates if s.state != "done"]
        else:  # the seed's order: it depends on every step before it
            not_done = [self.states[i] for i in self.open[:_MAX_UPSTREAM + 1]]
            newer = ([self.states[self.latest[1]]]
                     if self.latest[0] > finished and self.latest[1] >= 0 else [])
        for other in not_done:
            text = _describe(other)
            if text:
                reasons.append(text)
        reasons += [f"{s.identity} reran after it" for s in newer]
        if len(reasons) > _MAX_UPSTREAM:
            reasons = [*reasons[:_MAX_UPSTREAM],
                       f"... and {len(reasons) - _MAX_UPSTREAM} more steps before it"]
        return reasons

    def explained(self, reads: dict[str, Any], record: dict[str, Any]) -> set[str]:
        """The files read whose change the step that wrote them explains (it is not done,
        or it reran after this step ran)."""
        finished = _finished(record) or 0.0
        out = set()
        for path in reads:
            index = self.producer.get(path)
            if index is None:
                continue
            other = self.states[index]
            if other.state != "done" or (other.finished or 0.0) > finished:
                out.add(path)
        return out

    def add(self, position: int, state: StepFreshness,
            record: dict[str, Any] | None) -> None:
        """Take the step at ``position`` (its state decided, from ``record``) into
        account."""
        writes = (record or {}).get("writes") or {}
        for path in writes:
            self.producer[path] = position
        if record is not None and not record.get("reads") and not writes \
                and not record.get("legacy"):
            self.barriers.append(position)
        if state.state != "done":
            self.open.append(position)
        elif state.finished is not None and state.finished > self.latest[0]:
            self.latest = (state.finished, position)
