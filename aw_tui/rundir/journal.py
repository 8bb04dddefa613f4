"""Read a run directory's journal (``events.jsonl``) and fold it into the state of a run.

This module only reads; :mod:`aw_tui.rundir.store` writes. Viewers (the TUI, ``aw-tui status``)
use :class:`JournalReader` to follow a live journal incrementally and :class:`RunState` to
know what each step is doing. See ``docs/run-directory.md`` for the event format.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aw_tui.rundir.layout import EVENTS_FILE, RunLayout
from aw_tui.rundir.trust import read_own_json
from aw_tui.rundir.vocabulary import (
    DONE_STATUSES,
    FAILED,
    FINISHED,
    IDLE,
    INTERRUPTED,
    PENDING,
    RUNNING,
    SKIPPED,
    STEP_STATUSES,
    UNKNOWN,
)

__all__ = [
    "CRC_FIELD",
    "EVENTS_FILE",
    "JSONText",
    "JournalProblem",
    "JournalReader",
    "RunState",
    "StepState",
    "decode_line",
    "encode_line",
    "last_seq",
    "read_events",
    "read_run_header",
    "step_ids_by_identity",
    "verify_journal",
]

#: The field that holds a line's checksum (always the last key of the line).
CRC_FIELD = "crc"
_CRC_TAIL = b', "crc": '


class JSONText:
    """A value of a journal record already encoded: ``json.dumps(value, ensure_ascii=False)``.

    :func:`encode_line` puts it into the line as it is, so a big value whose size had to be
    known first (a step's provenance record) is encoded once; the line is the same bytes as
    with the value itself.

    Parameters
    ----------
    text : str
        The JSON text.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JSONText({self.text!r})"

    def value(self) -> Any:
        """The value the text encodes."""
        return json.loads(self.text)


def _decode_text(value: Any) -> Any:
    if type(value) is JSONText:
        return value.value()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_line(record: dict[str, Any]) -> bytes:
    """One journal line: ``json.dumps(record, ensure_ascii=False)`` with a ``crc`` field
    appended as its last key, the CRC-32 of the line's JSON text without that field.

    Values that are :class:`JSONText` go in as the JSON they hold: the line is the same
    bytes as with the decoded values. ``record``'s keys are strings.

    Raises
    ------
    TypeError
        For a value JSON cannot hold (as :func:`json.dumps`).
    """
    tail: list[str] = []
    for key in reversed(record):  # the JSONText values at the end are put in as they are
        value = record[key]
        if type(value) is not JSONText:
            break
        tail.append(f"{json.dumps(key, ensure_ascii=False)}: {value.text}")
    head = record
    if tail:
        head = dict(record)
        for _ in tail:
            head.popitem()
    text = json.dumps(head, ensure_ascii=False, default=_decode_text)
    if tail:
        text = (text[:-1] + ", " if head else "{") + ", ".join(reversed(tail)) + "}"
    body = text.encode("utf-8")
    return body[:-1] + _CRC_TAIL + str(zlib.crc32(body)).encode() + b"}\n"


def decode_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """``(event, None)`` for a sound line, ``(None, what is wrong)`` for a damaged one.

    A line without a ``crc`` field (written before checksums) is accepted when it parses.
    """
    line = line.rstrip(b"\r\n")
    try:
        event = json.loads(line)
    except ValueError:
        return None, "not a complete JSON line"
    except RecursionError:
        return None, "nested too deep"
    if not isinstance(event, dict):
        return None, "not a JSON object"
    if CRC_FIELD in event:
        crc = event.pop(CRC_FIELD)
        pos = line.rfind(_CRC_TAIL)
        if pos < 0 or not isinstance(crc, int) or zlib.crc32(line[:pos] + b"}") != crc:
            return None, "its checksum does not match (the line was changed or damaged)"
    return event, None


@dataclass
class JournalProblem:
    """A damaged or missing part of a journal.

    Attributes
    ----------
    line : int
        The line number (1-based) where it was found.
    message : str
        What is wrong, for a person.
    """

    line: int
    message: str

    def __str__(self) -> str:
        return f"{EVENTS_FILE} line {self.line}: {self.message}"


class JournalReader:
    """Incremental reader of ``events.jsonl``: each :meth:`read_new` returns only new events.

    A last line without its newline (a runner killed in mid-write) is held back until it is
    complete. If the file shrinks or is replaced, reading starts again from the beginning
    and :attr:`reset` is set so the caller can rebuild its state.

    Parameters
    ----------
    path : str
        The journal file, or the run directory that holds it.
    max_bytes : int
        The most bytes one call reads, so a huge journal never stalls a viewer (a longer
        line is read over several reads: lines may be of any length).
    opener : callable, optional
        ``opener(path) -> fd`` instead of ``os.open(path, O_RDONLY)`` (e.g.
        :func:`aw_tui.rundir.trust.open_trusted` when the events feed a resume).

    Every line is checked (its ``crc`` when it has one, ``seq`` continuity): damaged lines
    and missing events are skipped and listed in :attr:`problems`, with their line number.
    """

    def __init__(
        self, path: str, max_bytes: int = 8 * 1024 * 1024,
        opener: Callable[[str], int] | None = None,
    ) -> None:
        if os.path.isdir(path):
            path = os.path.join(path, EVENTS_FILE)
        self.path = path
        self.max_bytes = max_bytes
        self.offset = 0
        self.reset = False
        self._inode: int | None = None
        self._partial = b""
        self._opener = opener
        #: Complete lines read so far.
        self.line_no = 0
        #: ``seq`` of the last sound event read (0 before the first).
        self.last_seq = 0
        #: The damaged lines and the gaps in ``seq`` found so far, oldest first.
        self.problems: list[JournalProblem] = []
        self._damaged = 0
        #: Whether the last :meth:`read_new` reached the end of the file.
        self.at_end = False

    def read_new(self) -> list[dict[str, Any]]:
        """Return the events appended since the last call (possibly none)."""
        self.reset = False
        self.at_end = True
        try:
            fd = self._opener(self.path) if self._opener else os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        try:
            st = os.fstat(fd)
            if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
                self.offset = 0
                self._partial = b""
                self.line_no = self.last_seq = self._damaged = 0
                self.problems = []
                self.reset = True
            self._inode = st.st_ino
            while True:
                if st.st_size <= self.offset:
                    return []
                os.lseek(fd, self.offset, os.SEEK_SET)
                data = os.read(fd, min(self.max_bytes, st.st_size - self.offset))
                if not data:
                    return []
                self.offset += len(data)
                data = self._partial + data
                cut = data.rfind(b"\n")
                if cut >= 0:
                    self.at_end = self.offset >= st.st_size
                    break
                self._partial = data  # a line longer than max_bytes: read on
        finally:
            os.close(fd)
        self._partial = data[cut + 1 :]
        return self._parse_lines(data[: cut + 1])

    def _parse_lines(self, data: bytes) -> list[dict[str, Any]]:
        events = []
        lines = data.split(b"\n")
        lines.pop()  # after the last newline: nothing
        for line in lines:
            self.line_no += 1
            if not line.strip():
                continue
            event, problem = decode_line(line)
            if event is None:
                # A damaged line (a disk that lost a block, an edit by hand, a runner killed
                # while writing it) is skipped and reported, never fatal.
                self.problems.append(JournalProblem(self.line_no, f"damaged: {problem}"))
                self._damaged += 1
                continue
            seq = event.get("seq")
            damaged, self._damaged = self._damaged, 0
            if isinstance(seq, int) and not isinstance(seq, bool):
                # the damaged lines just reported account for as many seq numbers
                if self.last_seq and seq > self.last_seq + 1 + damaged:
                    missing = seq - self.last_seq - 1 - damaged
                    self.problems.append(JournalProblem(
                        self.line_no,
                        f"{missing} event{'s' if missing > 1 else ''} missing before it "
                        f"(seq {seq - missing}"
                        f"{f'-{seq - 1}' if missing > 1 else ''})",
                    ))
                elif self.last_seq and seq <= self.last_seq:
                    self.problems.append(JournalProblem(
                        self.line_no, f"seq {seq} after seq {self.last_seq} (out of order)"))
                self.last_seq = max(self.last_seq, seq)
            events.append(event)
        return events

    def read_all(self) -> list[dict[str, Any]]:
        """Read every complete event up to the end of the file."""
        events: list[dict[str, Any]] = []
        while True:
            events.extend(self.read_new())
            if self.at_end:
                return events


def _lines_backwards(handle: Any, size: int, block: int) -> Iterator[bytes]:
    """The complete lines of a file, newest first (what follows the last newline is not
    complete and is skipped); lines of any length."""
    pos, buf, found_end = size, b"", False
    while pos > 0:
        start = max(0, pos - block)
        handle.seek(start)
        buf = handle.read(pos - start) + buf
        pos = start
        parts = buf.split(b"\n")
        buf, rest = parts[0], parts[1:]
        if not found_end:
            if not rest:
                continue
            rest, found_end = rest[:-1], True
        yield from reversed(rest)
    if found_end:
        yield buf


def last_seq(path: str, block: int = 65536) -> int | None:
    """The ``seq`` of the journal's last complete event, read from the end of the file.

    The one parser of the journal's end (the writer continues ``seq`` from it, a viewer
    knows whether a checkpoint is current). The last line may be of any length.

    Parameters
    ----------
    path : str
        The journal file, or the run directory that holds it.
    block : int
        Bytes read per step backwards.

    Returns
    -------
    int or None
        0 without a journal or without a complete line; None when the last complete line
        cannot be read or parsed (the caller then reads the whole journal).
    """
    if os.path.isdir(path):
        path = os.path.join(path, EVENTS_FILE)
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            for line in _lines_backwards(handle, size, block):
                if line.strip():
                    event, _ = decode_line(line)
                    try:
                        return int(event["seq"])  # type: ignore[index]
                    except (KeyError, TypeError, ValueError):
                        return None
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    return 0


def read_events(log_dir: str) -> list[dict[str, Any]]:
    """Return every complete event of a run directory's journal (empty if there is none)."""
    return JournalReader(log_dir).read_all()


def verify_journal(log_dir: str) -> list[JournalProblem]:
    """The damaged lines and missing events of a run directory's journal (empty: sound).

    What ``aw-tui check`` and ``status`` report: each problem names its line number. The
    steps whose ``step_finished`` line is damaged or missing do not count as finished.
    """
    reader = JournalReader(log_dir)
    reader.read_all()
    return list(reader.problems)


#: One object for each word of the steps' events (status, function, host, worker, verdict):
#: 100,000 steps' "success" are one string, not 100,000.
_intern = sys.intern
_SHARED_EVENTS = ("step_started", "step_finished")
_NO_WARNINGS: tuple[str, ...] = ()


@dataclass(slots=True)
class StepState:
    """What the journal says about one step.

    One per step of a run (100,000 for a big ``foreach``): its fields are slots, and its
    words (status, function, host, verdict) one string each in the whole state.
    """

    step_id: int
    index: int | None = None
    status: str = PENDING
    duration: float | None = None
    started: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error_msg: str | None = None
    host: str | None = None
    worker: str | None = None
    func: str | None = None
    tags: list[str] = field(default_factory=list)
    #: ``ok``, ``warn`` or ``bad`` for a tool step (docs/verdicts.md), None otherwise.
    verdict: str | None = None
    #: The step's warnings (at most 20 in the journal; all in its result); an empty tuple
    #: when it gave none.
    warnings: Sequence[str] = field(default_factory=list)


@dataclass
class RunState:
    """The state of the newest run in a journal, folded event by event.

    Feed it events with :meth:`apply` (or build it with :meth:`from_events`). ``state`` is
    one of ``idle`` (no run yet), ``running``, ``finished``, ``failed`` or ``interrupted``.
    """

    state: str = IDLE
    run_name: str | None = None
    pipeline_name: str | None = None
    host: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    run_steps: list[int] = field(default_factory=list)
    start_idx: int = 0
    failed_step: int | None = None
    failed_index: int | None = None
    error_msg: str | None = None
    reason: str | None = None
    steps: dict[int, StepState] = field(default_factory=dict)
    last_seq: int = 0
    last_time: float | None = None
    stop_requested: str | None = None
    #: Durations of the finished steps of each function, in this run and earlier ones.
    durations: dict[str, list[float]] = field(default_factory=dict)
    #: Time spent in the earlier runs this run resumed (elapsed counts them too).
    earlier: float = 0.0

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> RunState:
        """Fold a list of events into a new state."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def step(self, step_id: int) -> StepState:
        """The state of ``step_id`` (created as pending on first use)."""
        found = self.steps.get(step_id)
        if found is None:
            found = self.steps[step_id] = StepState(step_id)
        return found

    def apply(self, event: dict[str, Any]) -> StepState | None:
        """Apply one event; return the step it changed, if any."""
        self.last_seq = max(self.last_seq, int(event.get("seq", 0) or 0))
        self.last_time = event.get("time", self.last_time)
        kind = event.get("event")
        step_id = event.get("step_id")
        if kind == "run_started":
            self._begin_run(event)
            resume = bool(event.get("resume"))
            for index, sid in enumerate(self.run_steps):
                st = self.step(sid)
                st.index = index
                if index < self.start_idx:
                    if not resume and st.status == PENDING:
                        st.status = SKIPPED
                elif not (resume and st.status in DONE_STATUSES):
                    st.status = PENDING
                    st.duration = None
                    st.summary = {}
                    st.error_msg = None
                    st.verdict, st.warnings = None, _NO_WARNINGS
            return None
        if kind == "step_started" and step_id is not None:
            st = self.step(step_id)
            st.status = RUNNING
            st.index = event.get("index", st.index)
            st.started = event.get("time")
            st.duration = None
            st.error_msg = None
            st.verdict, st.warnings = None, _NO_WARNINGS
            host, worker, func = event.get("host"), event.get("worker"), event.get("func", st.func)
            st.host = _intern(host) if type(host) is str else host
            st.worker = _intern(worker) if type(worker) is str else worker
            st.func = _intern(func) if type(func) is str else func
            tags = event.get("tags")
            if tags and tags != st.tags:
                st.tags = list(tags)
            return st
        if kind == "step_finished" and step_id is not None:
            st = self.step(step_id)
            status = event.get("status") or UNKNOWN
            st.status = _intern(status) if type(status) is str else status
            st.index = event.get("index", st.index)
            st.duration = event.get("duration")
            st.summary = dict(event.get("summary") or {})
            st.error_msg = event.get("error_msg")
            host, worker = event.get("host", st.host), event.get("worker", st.worker)
            st.host = _intern(host) if type(host) is str else host
            st.worker = _intern(worker) if type(worker) is str else worker
            verdict = event.get("verdict")
            st.verdict = _intern(verdict) if type(verdict) is str else verdict
            found = event.get("warnings")
            st.warnings = [str(w) for w in found] if found else _NO_WARNINGS
            if st.status in DONE_STATUSES and isinstance(st.duration, (int, float)) and st.func:
                found = self.durations.setdefault(st.func, [])
                found.append(float(st.duration))
                del found[:-50]
            return st
        if kind == "step_interrupted" and step_id is not None:
            st = self.step(step_id)
            st.status = INTERRUPTED
            if st.started is not None and event.get("time") is not None:
                st.duration = event["time"] - st.started
            st.error_msg = f"interrupted ({event.get('reason', 'stop')})"
            return st
        if kind == "stop_requested":
            self.stop_requested = event.get("when")
            return None
        if kind in _RUN_ENDS:
            self._close_open_steps()
        if kind == "run_finished":
            self.state = FINISHED
            self.ended = event.get("time")
        elif kind == "run_failed":
            self.state = FAILED
            self.ended = event.get("time")
            self.failed_step = step_id
            self.failed_index = event.get("index")
            self.error_msg = event.get("error_msg")
        elif kind == "run_interrupted":
            self.state = INTERRUPTED
            self.ended = event.get("time")
            self.failed_step = step_id
            self.failed_index = event.get("index")
            self.reason = event.get("reason")
        return None

    def _close_open_steps(self) -> None:
        """At a run's end no step runs: one still ``running`` lost its end event (a damaged
        or missing journal line). It did not finish: a resume runs it again."""
        for sid in self.run_steps:
            st = self.steps.get(sid)
            if st is not None and st.status == RUNNING:
                st.status = INTERRUPTED
                st.error_msg = "its end is missing from the journal (a damaged or lost line)"

    def _begin_run(self, event: dict[str, Any]) -> None:
        """The run-level fields of a ``run_started`` event (steps untouched)."""
        if event.get("resume") and self.started is not None:
            end = self.ended if self.ended is not None else self.last_time
            self.earlier += max(0.0, (end or self.started) - self.started)
        elif not event.get("resume"):
            self.earlier = 0.0
        self.state = RUNNING
        self.run_name = event.get("run_name")
        self.pipeline_name = event.get("pipeline_name")
        self.host = event.get("host")
        self.pid = event.get("pid")
        self.started = event.get("time")
        self.ended = None
        self.failed_step = self.failed_index = None
        self.error_msg = self.reason = self.stop_requested = None
        self.run_steps = list(event.get("run_steps") or [])
        self.start_idx = int(event.get("start_idx") or 0)

    def share_with(self, steps: Mapping[int, Any], events: Iterable[dict[str, Any]]) -> None:
        """Make the tags and summary of the steps these events are about the very lists and
        dicts of ``steps`` (a pipeline's steps by id: their ``tags`` and result
        ``summary``) where equal: a viewer of a finished 100,000-step run then holds them
        once, not once from the checkpoint and once from the journal. Nothing changes
        value; the state replaces them (never changes them in place) on later events."""
        for event in events:
            if event.get("event") not in _SHARED_EVENTS:
                continue
            st = self.steps.get(event.get("step_id"))  # type: ignore[arg-type]
            step = steps.get(st.step_id) if st is not None else None
            if step is None:
                continue
            tags = getattr(step, "tags", None)
            if st.tags is not tags and st.tags == tags:
                st.tags = tags
            results = getattr(step, "results", None)
            summary = results.get("summary") if type(results) is dict else None
            if st.summary is not summary and type(summary) is dict and st.summary == summary:
                st.summary = summary
            if st.index is not st.step_id and st.index == st.step_id:
                st.index = st.step_id

    # The views below may run in another thread than the one applying events: they read
    # with ``get`` and copy containers first, so they never change the state or trip over
    # a change.
    def _status(self, step_id: int) -> str:
        found = self.steps.get(step_id)
        return PENDING if found is None else found.status

    def counts(self) -> dict[str, int]:
        """Number of steps of the current run in each status."""
        counts = dict.fromkeys(STEP_STATUSES, 0)
        for sid in list(self.run_steps):
            status = self._status(sid)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def running_steps(self) -> list[StepState]:
        """The steps that are running now (several with a parallel executor)."""
        return [st for st in list(self.steps.values()) if st.status == RUNNING]

    def elapsed(self, now: float) -> float | None:
        """Seconds this run has been running, the earlier runs it resumed included."""
        if self.started is None:
            return None
        return self.earlier + max(0.0, (self.ended if self.ended is not None else now)
                                  - self.started)

    def expected(self, st: StepState) -> float | None:
        """How long a step is expected to take: the median of the finished steps of its
        function (in this run and earlier ones), else of all finished steps; None when no
        step has finished yet."""
        durations = self.durations.get(st.func or "")
        if not durations:
            durations = [d for found in list(self.durations.values()) for d in found]
        if not durations:
            return None
        return float(statistics.median(durations))

    def estimate_remaining(self, now: float) -> float | None:
        """Seconds left while the run is live: each step still to run at its expected
        duration (:meth:`expected`), a running one less the time it has run (at least the
        time it has run so far again, when it is already over its expectation: the
        estimate never says 0 while a step runs). None when nothing is known yet or the run
        is not running."""
        if self.state != RUNNING:
            return None
        total = 0.0
        for sid in list(self.run_steps):
            st = self.steps.get(sid)
            if st is not None and st.status not in (PENDING, RUNNING):
                continue
            expected = self.expected(st) if st is not None else self.expected(StepState(sid))
            if expected is None:
                return None
            if st is not None and st.status == RUNNING:
                ran = max(0.0, now - (st.started or now))
                total += expected - ran if ran < expected else max(1.0, 0.1 * ran)
            else:
                total += expected
        return total


_RUN_STARTED = json.dumps({"event": "run_started"})[1:-1].encode()
"""How a ``run_started`` event's kind appears in a journal line (see ``RunStore``)."""

_RUN_ENDS = ("run_finished", "run_failed", "run_interrupted")
_BLOCK = 1024 * 1024  # bytes read at a time from the end of the journal


def _rfind(handle: Any, needle: bytes, limit: int) -> int:
    """Where the last ``needle`` that ends by byte ``limit`` of the file starts, or -1: read
    backwards a block at a time (memory stays at one block, never the whole journal)."""
    pos = limit
    while pos > 0:
        start = max(0, pos - _BLOCK)
        handle.seek(start)
        found = handle.read(min(pos + len(needle) - 1, limit) - start).rfind(needle)
        if found >= 0:
            return start + found
        pos = start
    return -1


def _line_around(handle: Any, pos: int, end: int) -> dict[str, Any] | None:
    """Parse the journal line holding byte ``pos`` (lines end before ``end``)."""
    start = _rfind(handle, b"\n", pos) + 1
    handle.seek(start)
    parts: list[bytes] = []
    left = end - start
    while left > 0:
        chunk = handle.read(min(_BLOCK, left))
        if not chunk:
            break
        left -= len(chunk)
        cut = chunk.find(b"\n")  # none before ``pos``: the line ends at the first one
        if cut >= 0:
            parts.append(chunk[:cut])
            break
        parts.append(chunk)
    event, _ = decode_line(b"".join(parts))
    return event


def read_run_header(path: str) -> RunState | None:
    """The newest run's run-level state, read from the end of the journal only.

    A viewer can show a finished 50,000-step run's header (state, host, start and end,
    failed step) at once and fold the 100,000 events for the per-step states afterwards.
    The result has no per-step states (:attr:`RunState.steps` is empty).

    Parameters
    ----------
    path : str
        The journal file, or the run directory that holds it.

    Returns
    -------
    RunState or None
        None when there is no journal or no complete event in it.
    """
    if os.path.isdir(path):
        path = os.path.join(path, EVENTS_FILE)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with handle:
        # Read backwards a block at a time: the newest run_started of a finished 100,000-step
        # run is at the start of a 100 MB journal, and a map of the file would count all of
        # it in the viewer's memory (VmHWM) once searched.
        try:
            size = handle.seek(0, os.SEEK_END)
            end = _rfind(handle, b"\n", size)  # what follows the last newline is not complete
            if end <= 0:
                return None
            last = _line_around(handle, end - 1, end)
            started = None
            limit = end
            while started is None:
                pos = _rfind(handle, _RUN_STARTED, limit)
                if pos == -1:
                    break
                event = _line_around(handle, pos, end)
                if event is not None and event.get("event") == "run_started":
                    started = event
                limit = pos
        except OSError:
            return None
    state = RunState()
    if started is not None:
        state._begin_run(started)
        state.last_seq = int(started.get("seq", 0) or 0)
        state.last_time = started.get("time")
    if last is not None:
        newer = int(last.get("seq", 0) or 0) > state.last_seq
        if last.get("event") in _RUN_ENDS and newer:
            state.apply(last)
        state.last_seq = max(state.last_seq, int(last.get("seq", 0) or 0))
        state.last_time = last.get("time", state.last_time)
    return state


def step_ids_by_identity(log_dir: str) -> dict[str, int]:
    """The ``step_id`` of each step identity that finished in the run directory, from the
    provenance in the journal's ``step_finished`` lines (the last one wins): how a step
    rebuilt from the project file gets its id back."""
    ids: dict[str, int] = {}
    for event in read_events(log_dir):
        record = event.get("provenance") if event.get("event") == "step_finished" else None
        if record == "file":  # too big for its line
            record = read_own_json(RunLayout(log_dir).step_provenance(event.get("step_id")),
                                   32 * 1024 * 1024)
        if isinstance(record, dict) and isinstance(record.get("identity"), str):
            try:
                ids[record["identity"]] = int(event.get("step_id"))
            except (TypeError, ValueError):
                continue
    return ids
