"""The output pane: a live, terminal-faithful view of a step's ``steps/<id>.out`` file.

Built like toolong's log view: a background thread does all file I/O (``os.pread`` in chunks
of at most 64 KiB, a bounded number of bytes per tick) and interprets the bytes with
`aw_tui.base.terminal_text.TerminalText`; it hands the UI an immutable snapshot of the lines and
posts one coalescing message. The widget is a `ScrollView` that renders only the lines on
screen (the Line API) with an LRU cache of rendered strips. The UI thread never touches the
file.

The view follows the end of the output unless the user scrolls up; it resumes when the user
scrolls back to the bottom, presses ``end``/``G``, or the app calls `OutputView.follow`.
A file that does not exist yet shows a "waiting for output…" line (or what the app says
instead, e.g. that the step has not started: `OutputView.set_missing_note`) and is picked
up when it appears; a file that is truncated or replaced is read again from the start. A big file opens
at once: only its last `max_initial_bytes` are interpreted, at most about `max_chars`
characters of lines are kept, and the first line then says where the full output is.

A tool printing faster than anyone can read costs the view almost nothing: while the view
follows and a flood keeps coming, the reader only looks at the file's size (no read), and the
pane says how much arrived; the moment it pauses the view shows its end, and once it has
settled the skipped part is read in the background.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar  # noqa: F401 - imported now, not on the first overflow
from textual.strip import Strip

from aw_tui.base.terminal_text import TerminalText, TextSnapshot
from aw_tui.base.text import inert
from aw_tui.tui.widgets.search_prompt import SearchPrompt

__all__ = ["PROBLEM_PATTERN", "OutputView", "count_in_file"]

PROBLEM_PATTERN = re.compile(r"\*Error\*|\*ERROR\*|WARNING:|\bError\b")
"""Lines ``]``/``[`` jump to: the AstrOmatic tools' errors and warnings, Python's errors."""

_SGR = re.compile(r"\x1b\[[0-9;:]*m")
_MATCH_STYLE = Style(color="black", bgcolor="yellow")
_CURRENT_STYLE = Style(color="black", bgcolor="dark_orange", bold=True)
_PROBLEM_STYLE = Style(reverse=True)

READ_CHUNK = 64 * 1024
"""Largest single ``os.read``."""

IDLE_AFTER = 2.0
"""Seconds without a change of the file (or of its absence) after which it is looked at
only every `IDLE_POLL` seconds: a pane left on a quiet step then wakes 4 times a second,
not 20 (output that comes after such a pause shows at most that much later)."""

IDLE_POLL = 0.25
"""Seconds between two looks at a file quiet for `IDLE_AFTER` seconds (or `poll_interval`
when longer)."""

COUNT_INTERVAL = 0.5
"""Least seconds between two updates of the count of a flood's bytes (each is a redraw,
taken from the tool's CPU: twice a second is as often as the count can be read)."""


@dataclass(frozen=True)
class _TailState:
    """What the reader thread knows about the file, handed to the UI as a whole.

    Parameters
    ----------
    epoch : int
        Incremented each time the file is interpreted afresh from some byte (opened,
        reopened, jumped to its end, or filled in).
    snapshot : TextSnapshot or None
        The lines read so far (None before the file is opened).
    status : str
        ``missing``, ``ok`` or ``error``.
    message : str
        Detail for the ``error`` status.
    skipped_bytes : int
        Bytes at the start of the file that were not read (the file was big when opened,
        or the view jumped to the end of a flood of output).
    size : int
        Bytes read up to now, counted from the start of the file.
    shift : int
        With a new epoch that fills in output skipped by a jump: how many lines were put
        in front of the lines shown before (0 otherwise).
    streaming : bool
        Output is arriving too fast to read: only its end is shown for now (or, with
        `arriving`, not even that).
    arriving : int
        While output floods in: bytes past `size` that the reader saw arrive and did not
        read (the lines held are those shown before the flood); 0 otherwise.
    """

    epoch: int
    snapshot: TextSnapshot | None
    status: str
    message: str = ""
    skipped_bytes: int = 0
    size: int = 0
    shift: int = 0
    streaming: bool = False
    arriving: int = 0


class _Reading:
    """One interpretation of the file, from byte `start` on.

    Parameters
    ----------
    start : int
        The first byte interpreted.
    max_chars : int
        Bound on the characters of lines kept (see `TerminalText`).
    """

    __slots__ = ("mark", "mark_lines", "position", "start", "text")

    def __init__(self, start: int, max_chars: int) -> None:
        self.start = start
        self.position = start
        self.text = TerminalText(max_chars=max_chars)
        self.mark: int | None = None
        """A byte at which to note the number of lines (`mark_lines`)."""
        self.mark_lines = 0
        """Lines (omitted ones included) interpreted when `position` reached `mark`."""

    def advance(self, fd: int, budget: int, stop: threading.Event, end: int) -> int:
        """Interpret up to `budget` more bytes of the file, none at or past byte `end` (its
        size when the reader looked: what arrived since is for the next look, which may
        jump over it); return how many were read."""
        got = 0
        while got < budget and self.position < end and not stop.is_set():
            want = min(READ_CHUNK, budget - got, end - self.position)
            if self.mark is not None and self.position < self.mark:
                want = min(want, self.mark - self.position)
            data = os.pread(fd, want, self.position)
            if not data:
                break
            self.text.feed(data)
            self.position += len(data)
            got += len(data)
            if self.mark is not None and self.position == self.mark:
                self.mark_lines = self.text.omitted_lines + self.text.line_count
        return got


def _line_start(fd: int, offset: int) -> int:
    """The first byte of the first line that starts at or after `offset` (0 stays 0)."""
    if offset <= 0:
        return 0
    probe = os.pread(fd, READ_CHUNK, offset - 1)
    newline = probe.find(b"\n")
    return offset + newline if newline != -1 else offset


class _Tail(threading.Thread):
    """Background reader of one file for an `OutputView`.

    While the view follows the end and the tool prints faster than the view reads (more
    than `jump_bytes` waiting, arriving faster than `jump_bytes` per `stream_interval`),
    the reader neither reads nor interprets the flood: each look is one ``fstat``, and the
    view is told how much arrived at most every `COUNT_INTERVAL` seconds, so a viewer costs
    a running tool almost no CPU. At the first look that finds the output slower (the tool
    paused or ended), the reader jumps to the last `tail_bytes` and shows them (if the user
    scrolled up meanwhile, it reads on from the lines held instead, as when not following).
    Once the output has been quiet for `settle` seconds (or the user scrolls up), the
    skipped part is interpreted in the background and swapped in, so the whole output (up
    to `max_initial_bytes`) can be scrolled through.

    Parameters
    ----------
    view : OutputView
        The view to report to.
    generation : int
        The view's file generation this reader serves (stale reports are ignored).
    path : Path
        The file.
    poll_interval : float
        Seconds between checks when there is nothing new to read.
    tick_bytes : int
        Most bytes read and interpreted between two reports.
    max_initial_bytes : int
        When the file is larger than this when opened, only its end is read.
    max_chars : int
        Bound on the characters of lines kept (see `TerminalText`).
    jump_bytes : int
        While following, a backlog larger than this, growing faster than this per
        `stream_interval`, is not read (a flood); a backlog larger than this is skipped
        rather than interpreted.
    tail_bytes : int
        How much of the end is interpreted after such a jump.
    stream_interval : float
        Least seconds between two reports while output keeps coming (a flood's count: see
        `COUNT_INTERVAL`).
    settle : float
        Seconds of quiet after which skipped output is filled in.
    """

    def __init__(
        self,
        view: OutputView,
        generation: int,
        path: Path,
        *,
        poll_interval: float,
        tick_bytes: int,
        max_initial_bytes: int,
        max_chars: int,
        jump_bytes: int,
        tail_bytes: int,
        stream_interval: float,
        settle: float,
    ) -> None:
        super().__init__(name=f"aw-tui output reader {path.name}", daemon=True)
        self.view = view
        self.generation = generation
        self.path = path
        self.poll_interval = poll_interval
        self.tick_bytes = tick_bytes
        self.max_initial_bytes = max_initial_bytes
        self.max_chars = max_chars
        self.jump_bytes = jump_bytes
        self.tail_bytes = tail_bytes
        self.stream_interval = stream_interval
        self.count_interval = max(stream_interval, COUNT_INTERVAL)
        self.settle = settle
        self.stop_event = threading.Event()
        self._epoch = 0
        self._fd: int | None = None

    def stop(self) -> None:
        """Ask the thread to end (it does within one poll interval); never blocks."""
        self.stop_event.set()

    def run(self) -> None:
        """Read the file until stopped (at a lower CPU priority than the tools)."""
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            self._loop()
        except Exception as error:  # report, never kill the app from a thread
            self._publish(
                _TailState(self._epoch, None, "error", f"{type(error).__name__}: {error}")
            )
        finally:
            self._close()

    def _close(self) -> None:
        """Close the file descriptor, if open."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def _publish(self, state: _TailState) -> None:
        """Hand a state to the view."""
        self.view._receive(self.generation, state)

    def _open(self) -> tuple[int, tuple[int, int], int, bytes]:
        """Open the file and find where to start (near the end if it is big).

        Returns
        -------
        tuple
            File descriptor, (device, inode), start offset, first bytes of the file.
        """
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags)
        self._fd = fd
        stat = os.fstat(fd)
        start = _line_start(fd, stat.st_size - self.max_initial_bytes)
        head = os.pread(fd, 64, 0)
        return fd, (stat.st_dev, stat.st_ino), start, head

    def _loop(self) -> None:
        """The reader's main loop."""
        stop = self.stop_event
        fd: int | None = None
        ident = (0, 0)
        head = b""
        shown: _Reading | None = None  # what the view shows
        filling: _Reading | None = None  # a full reading that replaces a jumped one
        full_start = 0  # where a full reading starts
        jumped = False  # shown skipped output that a full reading would show
        streaming = False  # ... because it arrived too fast (not because the file was big)
        reported: tuple[str, str] | None = None
        pending = False  # shown changed since the last report
        shift = 0
        last_data = 0.0
        looked: tuple[float, int] | None = None  # (time, size) of the previous look
        flooding = False  # output arrives too fast: looking at its size only, not reading
        told = 0.0  # when the view was last told how much arrived in a flood
        changed = time.monotonic()  # when the file (or its absence) last changed
        while not stop.is_set():
            if fd is None:
                try:
                    fd, ident, full_start, head = self._open()
                except (FileNotFoundError, NotADirectoryError):
                    if reported != ("missing", ""):
                        reported, changed = ("missing", ""), time.monotonic()
                        self._publish(_TailState(self._epoch, None, "missing"))
                    stop.wait(self._quiet_wait(changed))
                    continue
                except OSError as error:
                    self._close()
                    detail = error.strerror or str(error)
                    if reported != ("error", detail):
                        reported = ("error", detail)
                        self._publish(_TailState(self._epoch, None, "error", detail))
                    stop.wait(max(self.poll_interval, 0.5))
                    continue
                self._epoch += 1
                changed = time.monotonic()
                shown, filling, jumped, streaming, reported, pending = (
                    _Reading(full_start, self.max_chars), None, False, False, None, True)
                looked, flooding = None, False
            assert shown is not None
            now = time.monotonic()
            size = os.fstat(fd).st_size
            following = self.view.following
            fast = looked is not None and (size - looked[1]) * self.stream_interval > (
                self.jump_bytes * max(now - looked[0], 1e-3))
            looked = (now, size)
            if following and fast and reported is not None and (
                    flooding or size - shown.position > self.jump_bytes):
                # A flood: nobody can read it live, so it is neither read nor interpreted
                # now; only its size is looked at (this fstat), until it slows down.
                if flooding and now - told >= self.count_interval:
                    told = now
                    self._publish(_TailState(
                        self._epoch, shown.text.snapshot(), "ok", "", shown.start,
                        shown.position, 0, True, size - shown.position))
                elif not flooding:
                    told = now - self.count_interval  # tell at the next look if it goes on
                flooding, filling, last_data, changed = True, None, now, now
                stop.wait(self.poll_interval)
                continue
            if following and size - shown.position > self.jump_bytes:
                # A flood that paused or ended (or a big file just opened): show its end
                # at once; the rest is not interpreted now. (A user who scrolled up in a
                # flood reads on from the lines held, in place, as when not following.)
                streaming = reported is not None
                shown = _Reading(_line_start(fd, size - self.tail_bytes), self.max_chars)
                self._epoch += 1
                filling, jumped, pending, shift = None, True, True, 0
                jumped_now = True
            else:
                jumped_now = False
            flooding = False
            got = shown.advance(fd, self.tick_bytes, stop, size)
            if got:
                last_data, pending, changed = now, True, now
                if len(head) < 64:
                    head = os.pread(fd, 64, 0)
            settled = not streaming or now - last_data >= self.settle
            # Filled in from the next look on: a file opened big may be a flood going on.
            if jumped and not jumped_now and filling is None and (settled or not following):
                filling = _Reading(_line_start(fd, max(full_start, size - self.max_initial_bytes)),
                                   self.max_chars)
                filling.mark = shown.start
            if filling is not None and got < self.tick_bytes:
                filling.advance(fd, self.tick_bytes - got, stop, size)
                if filling.position >= shown.position:
                    shift = 0
                    if filling.start < shown.start:  # the lines shown move down by this
                        shift = (filling.mark_lines + shown.text.omitted_lines
                                 - filling.text.omitted_lines)
                    shown, filling, jumped, streaming, pending = filling, None, False, False, True
                    self._epoch += 1
            if not got and self._replaced(fd, ident, shown.position, head):
                self._close()
                fd = None
                continue
            if pending:
                reported, pending = ("ok", ""), False
                self._publish(_TailState(self._epoch, shown.text.snapshot(), "ok", "",
                                         shown.start, shown.position, shift, streaming))
                shift = 0
            # While output keeps coming, look again only after stream_interval: reading
            # (and redrawing) more often shows nothing a reader can follow and takes CPU
            # from the tool. Reading at most tick_bytes per tick bounds it too.
            if got:
                stop.wait(self.stream_interval)
            else:  # skipped output being filled in is work under way: no idle pace
                stop.wait(self.poll_interval if jumped else self._quiet_wait(changed))

    def _quiet_wait(self, changed: float) -> float:
        """Seconds to the next look at a file unchanged since `changed` (monotonic)."""
        if time.monotonic() - changed < IDLE_AFTER:
            return self.poll_interval
        return max(self.poll_interval, IDLE_POLL)

    def _replaced(self, fd: int, ident: tuple[int, int], position: int, head: bytes) -> bool:
        """Tell whether the file was truncated or replaced since it was opened.

        Parameters
        ----------
        fd : int
            The open file.
        ident : tuple of int
            Its (device, inode) when opened.
        position : int
            Bytes read up to now.
        head : bytes
            The first bytes of the file as first read.

        Returns
        -------
        bool
            True when it must be read again from its start.
        """
        if os.fstat(fd).st_size < position:
            return True
        try:
            stat = os.stat(self.path)
        except OSError:
            return False  # deleted: keep showing what was read until a new file appears
        if (stat.st_dev, stat.st_ino) != ident:
            return True
        return bool(head) and os.pread(fd, len(head), 0) != head


class OutputView(ScrollView, can_focus=True, inherit_bindings=False):
    """Live view of a tool's output file, as a terminal would show it.

    Parameters
    ----------
    path : str, Path or None, optional
        The file to show (e.g. ``<log>/steps/<id>.out``); None shows nothing until
        `show_file` is called.
    poll_interval : float, optional
        Seconds between checks of the file when nothing new was read.
    tick_bytes : int, optional
        Most bytes read (in ``os.read`` calls of at most 64 KiB) between two screen updates.
    max_initial_bytes : int, optional
        A file bigger than this when opened is read from this many bytes before its end.
    max_chars : int, optional
        At most about this many characters of lines are kept in memory.
    jump_bytes : int, optional
        While the view follows the end, output arriving faster than this many bytes per
        `stream_interval` (a flood) is not read while it comes: only the file's size is
        looked at, every `poll_interval`; when it slows down the view jumps to the last
        `tail_bytes` of it.
    tail_bytes : int, optional
        How much of the end of a flood of output is shown when it pauses or ends.
    stream_interval : float, optional
        Seconds between two reads (and redraws) while output keeps coming (the count of a
        flood's bytes: at most every `COUNT_INTERVAL`, or this when longer).
    settle : float, optional
        Seconds of quiet (or the user scrolling up) after which output skipped by a jump is
        read in the background and the whole output can be scrolled through again.
    name : str or None, optional
        Widget name.
    id : str or None, optional
        Widget id.
    classes : str or None, optional
        CSS classes.
    disabled : bool, optional
        Whether the widget is disabled.
    """

    BINDINGS: list[BindingType] = [
        Binding("up,k", "scroll_up", "Scroll up", show=False),
        Binding("down,j", "scroll_down", "Scroll down", show=False),
        Binding("left,h", "scroll_left", "Scroll left", show=False),
        Binding("right,l", "scroll_right", "Scroll right", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "follow", "Follow", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("slash", "search", "Search", show=False),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("right_square_bracket", "next_problem", "Next error/warning", show=False),
        Binding("left_square_bracket", "previous_problem", "Previous error/warning",
                show=False),
    ]

    COMPONENT_CLASSES = {"output-view--status"}

    DEFAULT_CSS = """
    OutputView {
        background: $surface;
        color: $foreground;
        overflow: auto;
        & > .output-view--status {
            color: $foreground 55%;
            text-style: italic;
        }
    }
    """

    class _Changed(Message, bubble=False):
        """The reader thread has a new state for the view (internal)."""

        def can_replace(self, message: Message) -> bool:
            """A later change supersedes this one: the state is taken when handled."""
            return isinstance(message, OutputView._Changed)

    class FollowChanged(Message):
        """The view started or stopped following the end of the output.

        Parameters
        ----------
        view : OutputView
            The view.
        following : bool
            Whether it now follows.
        """

        def __init__(self, view: OutputView, following: bool) -> None:
            super().__init__()
            self.view = view
            self.following = following

        @property
        def control(self) -> OutputView:
            """The view that sent the message."""
            return self.view

    class SearchStatus(Message):
        """A search or a jump has something to say (matches found, none, ...).

        Parameters
        ----------
        view : OutputView
            The view.
        text : str
            One line for the user (plain text, no markup).
        """

        def __init__(self, view: OutputView, text: str) -> None:
            super().__init__()
            self.view = view
            self.text = text

        @property
        def control(self) -> OutputView:
            """The view that sent the message."""
            return self.view

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        poll_interval: float = 0.05,
        tick_bytes: int = 1024 * 1024,
        max_initial_bytes: int = 8 * 1024 * 1024,
        max_chars: int = 16_000_000,
        jump_bytes: int = 512 * 1024,
        tail_bytes: int = 64 * 1024,
        stream_interval: float = 0.2,
        settle: float = 0.5,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.poll_interval = poll_interval
        self.tick_bytes = tick_bytes
        self.max_initial_bytes = max_initial_bytes
        self.max_chars = max_chars
        self.jump_bytes = jump_bytes
        self.tail_bytes = tail_bytes
        self.stream_interval = stream_interval
        self.settle = settle
        self._path: Path | None = None if path is None else Path(path)
        self._generation = 0
        self._reader: _Tail | None = None
        self._slot_lock = threading.Lock()
        self._slot: tuple[int, _TailState] | None = None
        self._slot_posted = False
        self._state: _TailState | None = None
        self._notes: list[str] = []
        self._trailer: list[str] = []
        """Status lines shown below the output (how much of a flood is not read yet)."""
        self._missing_note: str | None = None
        self._following = True
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._search: re.Pattern[str] | None = None
        self._search_text = ""
        self._search_generation = 0
        self._current: int | None = None
        """The line (view index) of the current match or error, highlighted more."""

    # ------------------------------------------------------------------ public API

    @property
    def path(self) -> Path | None:
        """The file shown, or None."""
        return self._path

    @property
    def following(self) -> bool:
        """Whether the view keeps the end of the output in sight."""
        return self._following

    @property
    def line_count(self) -> int:
        """Number of lines shown (status and "omitted" notes included)."""
        return len(self._notes) + self._text_line_count() + len(self._trailer)

    @property
    def bytes_read(self) -> int:
        """Bytes of the file read so far, counted from its start (skipped ones included)."""
        return 0 if self._state is None else self._state.size

    @property
    def omitted(self) -> bool:
        """Whether earlier output is not shown (only the end of a big file is kept)."""
        state = self._state
        if state is None or state.snapshot is None:
            return False
        return bool(state.skipped_bytes or state.snapshot.omitted)

    def get_line(self, index: int) -> str:
        """Return a line as shown (SGR sequences included), notes first (and last, while
        output floods in: how much of it is not read yet).

        Parameters
        ----------
        index : int
            0-based line index.

        Returns
        -------
        str
            The line.

        Raises
        ------
        IndexError
            When `index` is out of range.
        """
        if index < 0:
            raise IndexError(index)
        if index < len(self._notes):
            return self._notes[index]
        index -= len(self._notes)
        text_lines = self._text_line_count()
        if index < text_lines:
            assert self._state is not None and self._state.snapshot is not None
            return self._state.snapshot.get_line(index)
        return self._trailer[index - text_lines]

    @property
    def lines(self) -> list[str]:
        """Every line shown, as a new list (for tests and copying; O(number of lines))."""
        return [self.get_line(i) for i in range(self.line_count)]

    def show_file(self, path: str | os.PathLike[str] | None, *, reload: bool = False) -> None:
        """Show another file (or nothing, with None), following its end.

        Showing the file already shown does nothing (the place in it is kept) unless
        `reload` is true.

        Parameters
        ----------
        path : str, Path or None
            The file; it may not exist yet.
        reload : bool, optional
            Read the file again from its start even if it is the one shown.
        """
        new_path = None if path is None else Path(path)
        if new_path == self._path and not reload and self._state is not None:
            return
        self._stop_reader()
        with self._slot_lock:
            self._generation += 1
            self._slot = None
        self._path = new_path
        self._state = None
        self._current = None
        self._cache.clear()
        self._set_following(True)
        self._update_notes()
        self._update_virtual_size()
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)
        self.refresh()
        if self.is_mounted:
            self._start_reader()

    def set_missing_note(self, note: str | None) -> None:
        """What to say while the file does not exist (None: "waiting for output…"), e.g.
        that its step has not started.

        Parameters
        ----------
        note : str or None
            One line of plain text.
        """
        if note == self._missing_note:
            return
        self._missing_note = note
        self._update_notes()
        self._update_virtual_size()
        self.refresh()

    def reload(self) -> None:
        """Read the current file again from its start."""
        self.show_file(self._path, reload=True)

    def follow(self) -> None:
        """Scroll to the end of the output and keep following it."""
        self._set_following(True)
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def action_top(self) -> None:
        """Go to the first line (``home``, ``g``); this stops following."""
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)

    def action_follow(self) -> None:
        """Follow the end of the output (``end``, ``G``)."""
        self.follow()

    # ------------------------------------------------------------------ search

    @property
    def search_text(self) -> str:
        """The text searched for ('' when there is no search)."""
        return self._search_text

    @property
    def current_line(self) -> int | None:
        """The line (index as for `get_line`) of the current match or error, if any."""
        return self._current

    def plain_line(self, index: int) -> str:
        """A line as text, without its colours (what searches look at).

        Parameters
        ----------
        index : int
            0-based line index, as for `get_line`.

        Returns
        -------
        str
            The line's text.
        """
        return _SGR.sub("", self.get_line(index))

    def action_search(self) -> None:
        """``/``: ask what to search for, then search."""
        self.app.push_screen(SearchPrompt(self._search_text), self._after_prompt)

    def _after_prompt(self, text: str | None) -> None:
        if text is not None:
            self.search(text)

    def search(self, text: str) -> int:
        """Search the output for a text (case-insensitive) and go to the first match.

        The lines held are searched at once and the first match at or below the top of the
        view is shown; the whole file is also counted in a background thread, and the count
        is reported when it differs (earlier output not held, progress lines rewritten in
        place). ``n``/``N`` move between the lines shown.

        Parameters
        ----------
        text : str
            The text ('' clears the search).

        Returns
        -------
        int
            How many lines held match.
        """
        self._search_generation += 1
        self._search_text = text
        self._search = re.compile(re.escape(text), re.IGNORECASE) if text else None
        self._current = None
        self._cache.clear()
        self.refresh()
        if self._search is None:
            self._status("search cleared")
            return 0
        matching = sum(1 for i in range(self.line_count) if self._search.search(self.plain_line(i)))
        if not matching:
            self._status(f"no line matches {text!r}" + self._earlier_note())
        else:
            found = self._find(self._search, round(self.scroll_y), 1, inclusive=True)
            if found is not None:
                self._goto(found)
            self._status(f"{matching} line(s) match {text!r} (n next, N previous)"
                         + self._earlier_note())
        if self._path is not None and self._state is not None:
            # The file itself too: earlier output not held, and progress lines the tool
            # rewrote in place (SWarp's "Resampling line: ...") are not among the lines shown.
            threading.Thread(
                target=self._count_whole_file,
                args=(self._search_generation, self._path, self._search, self._state.size,
                      matching),
                name="aw-tui output search", daemon=True,
            ).start()
        return matching

    def _earlier_note(self) -> str:
        return "; counting in the earlier output not shown…" if self.omitted else ""

    def _count_whole_file(self, generation: int, path: Path, pattern: re.Pattern[str],
                          size: int, shown_count: int) -> None:
        """Count the matching lines of the whole file (in a thread); report a difference."""
        try:
            count = count_in_file(path, pattern, size)
        except OSError as error:
            text = f"cannot search {path}: {error.strerror or error}"
        else:
            if count == shown_count:
                return
            text = (f"{count} line(s) of the whole file match {self._search_text!r}, "
                    f"{shown_count} of them shown here (the others are earlier output or "
                    f"progress lines the tool rewrote: see {path})")
        if generation == self._search_generation:
            self.post_message(self.SearchStatus(self, inert(text, one_line=True)))

    def action_next_match(self) -> None:
        """``n``: the next line that matches the search."""
        self._jump(self._search, 1, "search with / first")

    def action_previous_match(self) -> None:
        """``N``: the previous line that matches the search."""
        self._jump(self._search, -1, "search with / first")

    def action_next_problem(self) -> None:
        """``]``: the next error or warning line."""
        self._jump(PROBLEM_PATTERN, 1, "")

    def action_previous_problem(self) -> None:
        """``[``: the previous error or warning line."""
        self._jump(PROBLEM_PATTERN, -1, "")

    def _jump(self, pattern: re.Pattern[str] | None, step: int, no_pattern: str) -> None:
        if pattern is None:
            self._status(no_pattern)
            return
        start = self._current if self._current is not None else round(self.scroll_y)
        found = self._find(pattern, start, step, inclusive=self._current is None)
        if found is None:
            what = "error or warning" if pattern is PROBLEM_PATTERN else repr(self._search_text)
            self._status(f"no {what} in the output shown")
            return
        wrapped = (found - start) * step < 0
        self._goto(found)
        self._status(f"line {found + 1} of {self.line_count}"
                     + (" (wrapped around)" if wrapped else ""))

    def _find(self, pattern: re.Pattern[str], start: int, step: int,
              inclusive: bool = False) -> int | None:
        """The first line from `start` on (in direction `step`) that matches, wrapping."""
        count = self.line_count
        if not count:
            return None
        first = start if inclusive else start + step
        for offset in range(count):
            index = (first + offset * step) % count
            if pattern.search(self.plain_line(index)):
                return index
        return None

    def _goto(self, index: int) -> None:
        """Show line `index` a third of the way down the view (this stops following)."""
        old = self._current
        self._current = index
        for line in (old, index):
            if line is not None:
                self._forget(line)
        self._set_following(False)
        height = self.scrollable_content_region.height or 1
        self.scroll_to(y=max(0, index - height // 3), animate=False, immediate=True, force=True)
        self.refresh()

    def _forget(self, index: int) -> None:
        """Drop line `index` from the cache of rendered lines."""
        state = self._state
        if (state is not None and state.snapshot is not None
                and len(self._notes) <= index < len(self._notes) + state.snapshot.line_count):
            self._cache.discard((state.epoch, state.snapshot.omitted + index - len(self._notes)))

    def _status(self, text: str) -> None:
        if text:
            self.post_message(self.SearchStatus(self, text))

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        """Start reading."""
        self._update_notes()
        self._update_virtual_size()
        self._start_reader()

    def on_unmount(self) -> None:
        """Stop the reader thread (without waiting for it)."""
        self._stop_reader()

    def _start_reader(self) -> None:
        """Start a reader thread for the current path, if any."""
        if self._path is None or self._reader is not None:
            return
        self._reader = _Tail(
            self,
            self._generation,
            self._path,
            poll_interval=self.poll_interval,
            tick_bytes=self.tick_bytes,
            max_initial_bytes=self.max_initial_bytes,
            max_chars=self.max_chars,
            jump_bytes=self.jump_bytes,
            tail_bytes=self.tail_bytes,
            stream_interval=self.stream_interval,
            settle=self.settle,
        )
        self._reader.start()

    def _stop_reader(self) -> None:
        """Ask the reader thread to stop; its late reports are ignored."""
        if self._reader is not None:
            self._reader.stop()
            self._reader = None
        with self._slot_lock:
            self._slot = None

    # ------------------------------------------------------------------ updates

    def _receive(self, generation: int, state: _TailState) -> None:
        """Store a state from the reader thread and wake the UI (called in that thread).

        Parameters
        ----------
        generation : int
            The file generation the reader serves.
        state : _TailState
            The new state.
        """
        with self._slot_lock:
            if generation != self._generation:
                return
            self._slot = (generation, state)
            if self._slot_posted:
                return
            self._slot_posted = True
        if not self.post_message(self._Changed()):
            with self._slot_lock:
                self._slot_posted = False

    @on(_Changed)
    def _take_changes(self, message: _Changed) -> None:
        """Apply the latest state from the reader thread."""
        with self._slot_lock:
            slot = self._slot
            self._slot = None
            self._slot_posted = False
        if slot is None:
            return
        generation, state = slot
        if generation != self._generation:
            return
        self._apply(state)

    def _apply(self, state: _TailState) -> None:
        """Show a new state of the file.

        Parameters
        ----------
        state : _TailState
            The state.
        """
        old = self._state
        snapshot = state.snapshot
        if (old is not None and old.arriving and state.arriving and old.epoch == state.epoch
                and old.size == state.size):
            # A flood goes on: only the count below the lines changed; repaint that line.
            self._state = state
            self._update_notes()
            self._update_virtual_size()
            if self._following and round(self.scroll_y) < self.max_scroll_y:
                # The last full update missed the end (a scroll bar appeared since).
                self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
            self.refresh_line(self.line_count - 1)
            return
        if old is None or old.epoch != state.epoch or old.snapshot is None or snapshot is None:
            self._cache.clear()
        else:
            # Lines that were live may have been rewritten; completed ones never change.
            first = old.snapshot.omitted + old.snapshot.completed
            last = old.snapshot.omitted + old.snapshot.line_count
            for absolute in range(first, last):
                self._cache.discard((state.epoch, absolute))
        notes_before = len(self._notes)
        self._state = state
        self._update_notes()
        self._update_virtual_size()
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        elif state.shift:
            # Skipped output was filled in above the lines in sight: keep them in sight.
            moved = state.shift + len(self._notes) - notes_before
            self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True, force=True)
        self.refresh()

    def _text_line_count(self) -> int:
        """Lines of output held (notes excluded)."""
        state = self._state
        if state is None or state.snapshot is None:
            return 0
        return state.snapshot.line_count

    def _update_notes(self) -> None:
        """Compute the status lines shown above (or instead of) the output, and below it."""
        notes: list[str] = []
        trailer: list[str] = []
        state = self._state
        path = self._path
        if path is None:
            notes.append("no output to show")
        elif state is None:
            notes.append(f"waiting for output… (opening {path})")
        elif state.status == "missing":
            notes.append(self._missing_note
                         or f"waiting for output… ({path} does not exist yet)")
        elif state.status == "error":
            notes.append(f"cannot read {path}: {state.message}")
        elif state.snapshot is not None:
            if state.arriving:
                notes.append(f"… output arriving fast: not read while it comes; its end is "
                             f"shown when it pauses, all of it once it settles (see {path})")
                trailer.append(f"… output arriving fast: {_amount(state.arriving)} more so "
                               f"far, not read while it comes")
            elif state.streaming:
                notes.append(f"… output arriving fast: its end is shown, all of it once it "
                             f"settles (see {path})")
            elif state.skipped_bytes or state.snapshot.omitted:
                notes.append(f"… earlier output omitted, see {path}")
            if not state.snapshot.line_count and not state.skipped_bytes:
                notes.append(f"waiting for output… ({path} is empty)")
        # A path or an error message may hold ESC: shown, never acted on.
        self._notes = [inert(note, one_line=True) for note in notes]
        self._trailer = trailer

    def _update_virtual_size(self) -> None:
        """Set the scrollable size from the lines held. The status lines do not count: they
        are cut at the pane's edge (a note naming a long path would otherwise bring a
        horizontal scrollbar, and a layout of the whole screen, with each change of it)."""
        state = self._state
        width = 0
        if state is not None and state.snapshot is not None:
            width = state.snapshot.max_width
        size = Size(width, self.line_count)
        if size == self.virtual_size:
            return
        if not self.is_mounted or not self.container_size:
            self.virtual_size = size
            return
        # Textual lays out the whole screen after each change of a virtual size (2-12 ms
        # a time here, several times a second while output comes). Only a scrollbar that
        # appears or goes needs it: otherwise the bars' lengths and the scroll's limits are
        # set here, and the pane repaints alone.
        bars = (self.show_horizontal_scrollbar, self.show_vertical_scrollbar)
        self.set_reactive(OutputView.virtual_size, size)
        self._scroll_update(size)
        if (self.show_horizontal_scrollbar, self.show_vertical_scrollbar) != bars:
            self.refresh(layout=True)
        else:
            self.refresh()

    # ------------------------------------------------------------------ following

    def _set_following(self, following: bool) -> None:
        """Change the follow mode and tell the app when it changes."""
        if following != self._following:
            self._following = following
            if self.is_mounted:
                self.post_message(self.FollowChanged(self, following))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Stop following when the user scrolls up; follow again at the bottom."""
        super().watch_scroll_y(old_value, new_value)
        self._set_following(round(new_value) >= self.max_scroll_y)

    def on_resize(self) -> None:
        """Keep the end in sight when following."""
        if self._following:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    # ------------------------------------------------------------------ rendering

    def notify_style_update(self) -> None:
        """Drop rendered lines when styles change."""
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        """Render one line of the view.

        Parameters
        ----------
        y : int
            Line of the widget's content area.

        Returns
        -------
        Strip
            The line, cropped to the view.
        """
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        rich_style = self.rich_style
        notes = self._notes
        if index >= self.line_count:
            return Strip.blank(width, rich_style)
        text_end = len(notes) + self._text_line_count()
        if index < len(notes) or index >= text_end:
            note = notes[index] if index < len(notes) else self._trailer[index - text_end]
            style = rich_style + self.get_component_rich_style("output-view--status", partial=True)
            if cell_len(note) > width:  # cut at the pane's edge, where it stays
                note = set_cell_size(note, max(0, width - 1)) + "…"
            text = Text(note, style=style, no_wrap=True, end="")
            return Strip(text.render(self.app.console), cell_len(note)).extend_cell_length(
                width, rich_style)
        else:
            state = self._state
            assert state is not None and state.snapshot is not None
            line_index = index - len(notes)
            key = (state.epoch, state.snapshot.omitted + line_index)
            strip = self._cache.get(key)
            if strip is None:
                strip = self._render_text(state.snapshot.get_line(line_index), rich_style,
                                          current=index == self._current)
                self._cache[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style)

    def _render_text(self, line: str, style: Style, current: bool = False) -> Strip:
        """Render one output line (SGR colours honoured) into an uncropped strip.

        Parameters
        ----------
        line : str
            The line, as given by `TerminalText`.
        style : Style
            The base style.
        current : bool, optional
            Whether this is the line of the current match (highlighted more).

        Returns
        -------
        Strip
            The strip.
        """
        if "\x1b" in line:
            text = Text.from_ansi(line, style=style, no_wrap=True, end="")
        else:
            text = Text(line, style=style, no_wrap=True, end="")
        if self._search is not None:
            text.highlight_regex(self._search, _CURRENT_STYLE if current else _MATCH_STYLE)
        elif current:
            text.stylize(_PROBLEM_STYLE)
        return Strip(text.render(self.app.console), text.cell_len)


def _amount(size: int) -> str:
    """A number of bytes for a reader: ``640 KB``, ``12.3 MB``, ``1.5 GB``."""
    if size < 1_000_000:
        return f"{size // 1000} KB"
    if size < 1_000_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1_000_000_000:.1f} GB"


def count_in_file(path: str | os.PathLike[str], pattern: re.Pattern[str], size: int) -> int:
    """Count the lines of a file's first `size` bytes that match (colours ignored).

    Parameters
    ----------
    path : str or Path
        The file.
    pattern : re.Pattern
        What to look for in each line's text.
    size : int
        Bytes to read (the file may still grow).

    Returns
    -------
    int
        Matching lines (a line rewritten with carriage returns counts once per version).
    """
    count = 0
    rest = b""
    with open(path, "rb") as stream:
        left = size
        while left > 0:
            data = stream.read(min(READ_CHUNK * 16, left))
            if not data:
                break
            left -= len(data)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            count += _count_lines(lines, pattern)
    return count + _count_lines([rest], pattern)


def _count_lines(lines: list[bytes], pattern: re.Pattern[str]) -> int:
    count = 0
    for raw in lines:
        for part in raw.split(b"\r"):
            if part and pattern.search(_SGR.sub("", part.decode("utf-8", "replace"))):
                count += 1
    return count
