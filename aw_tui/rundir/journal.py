"""Read a run directory's journal (``events.jsonl``) and fold it into the state of a run.

This module only reads; :mod:`aw_tui.rundir.store` writes. Viewers (the TUI, ``aw-tui status``)
use :class:`JournalReader` to follow a live journal incrementally and :class:`RunState`
(:mod:`aw_tui.rundir.runstate`, re-exported here) to know what each step is doing. See ``docs/run-directory.md`` for the event format.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aw_tui.rundir.layout import EVENTS_FILE, RunLayout
from aw_tui.rundir.runstate import RUN_ENDS, RunState, StepState
from aw_tui.rundir.trust import read_own_json

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
    "event_at_seq",
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


#: Where the fields a viewer does not decode begin (``light``): a ``step_finished`` line's
#: ``provenance``, then its ``results``, are its last fields before ``crc``.
_LIGHT_CUT = b', "provenance": '


def decode_line(line: bytes, light: bool = False
                ) -> tuple[dict[str, Any] | None, str | None]:
    """``(event, None)`` for a sound line, ``(None, what is wrong)`` for a damaged one.

    A line without a ``crc`` field (written before checksums) is accepted when it parses.

    Parameters
    ----------
    line : bytes
        One line of the journal.
    light : bool
        Leave out the fields from ``provenance`` on (``provenance`` and ``results``, most of
        a ``step_finished`` line's bytes): the checksum is still checked over the whole
        line, the rest is not decoded. For a viewer, which shows neither.
    """
    line = line.rstrip(b"\r\n")
    if light:
        cut = line.find(_LIGHT_CUT)
        if cut > 0:
            event = _decode_before(line, cut)
            if event is not None:
                return event, None
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
        if pos < 0 or not isinstance(crc, int) or not _crc_matches(line, pos, crc):
            return None, "its checksum does not match (the line was changed or damaged)"
    return event, None


def _crc_matches(line: bytes, pos: int, crc: int) -> bool:
    """Whether ``crc`` is the checksum of the line without its ``crc`` field (which starts
    at ``pos``): what :func:`encode_line` wrote."""
    return zlib.crc32(line[:pos] + b"}") == crc


def _decode_before(line: bytes, cut: int) -> dict[str, Any] | None:
    """The event of a sound line without its fields from ``cut`` on, or None (no checksum,
    a checksum that does not match, or ``cut`` inside a value: the caller decodes it all
    and says what is wrong). A cut inside a nested object leaves a brace open: it never
    parses as a whole object."""
    pos = line.rfind(_CRC_TAIL)
    if pos < cut or not line.endswith(b"}"):
        return None
    try:
        crc = int(line[pos + len(_CRC_TAIL):-1])
    except ValueError:
        return None
    if not _crc_matches(line, pos, crc):
        return None
    try:
        event = json.loads(line[:cut] + b"}")
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


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
    light : bool
        Events without their ``provenance`` and ``results`` (:func:`decode_line`): a
        viewer's, a third of the decoding of a big run's journal.

    Every line is checked (its ``crc`` when it has one, ``seq`` continuity): damaged lines
    and missing events are skipped and listed in :attr:`problems`, with their line number.
    """

    def __init__(
        self, path: str, max_bytes: int = 8 * 1024 * 1024,
        opener: Callable[[str], int] | None = None, light: bool = False,
    ) -> None:
        self.light = light
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
            event, problem = decode_line(line, self.light)
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


def _sound_line_after(handle: Any, pos: int, limit: int) -> tuple[int, dict[str, Any], int] | None:
    """``(end, event, seq)`` of the first sound line with a ``seq`` that starts at or after
    byte ``pos`` and before ``limit`` (``end``: where the next line starts), or None."""
    handle.seek(max(0, pos - 1))
    if pos > 0:
        handle.readline()  # the rest of the line that holds byte pos - 1
    start = handle.tell()
    while start < limit:
        line = handle.readline()
        if not line.endswith(b"\n"):
            return None  # the last line, not complete yet
        start += len(line)
        event, _ = decode_line(line)
        seq = event.get("seq") if event is not None else None
        if type(seq) is int:
            return start, event, seq  # type: ignore[return-value]
    return None


def event_at_seq(path: str, seq: int) -> dict[str, Any] | None:
    """The journal's sound event numbered ``seq``, found by bisection (the writer numbers
    lines one by one in the order it appends them), or None.

    A few dozen short reads even in a 100 MB journal: a viewer keeps only the ``seq`` of each
    step's last event and reads the line back when it needs more (a step's results).

    Parameters
    ----------
    path : str
        The journal file, or the run directory that holds it.
    seq : int
        The event's ``seq``.
    """
    if os.path.isdir(path):
        path = os.path.join(path, EVENTS_FILE)
    try:
        with open(path, "rb") as handle:
            lo, hi = 0, handle.seek(0, os.SEEK_END)
            # The line of ``seq``, if any, starts in [lo, hi); lo is where a line starts.
            while lo < hi:
                mid = (lo + hi) // 2
                found = _sound_line_after(handle, mid, hi)
                if found is None:
                    hi = mid
                    continue
                end, event, at = found
                if at == seq:
                    return event
                if at < seq:
                    lo = end
                else:
                    hi = mid
    except OSError:
        return None
    return None


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


_RUN_STARTED = json.dumps({"event": "run_started"})[1:-1].encode()
"""How a ``run_started`` event's kind appears in a journal line (see ``RunStore``)."""
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
        if last.get("event") in RUN_ENDS and newer:
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
