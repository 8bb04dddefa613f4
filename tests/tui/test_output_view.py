"""Tests of the output pane: a live view of a growing ``steps/<id>.out`` file."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from aw_tui.tui.widgets.output_view import OutputView

ESC = b"\x1b"


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with `asyncio.run` (no asyncio pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def progress(message: bytes) -> bytes:
    """One AstrOmatic progress update."""
    return ESC + b"[1M" + message + b"\n" + ESC + b"[1A"


class ViewApp(App[None]):
    """A minimal app holding only an output view."""

    def __init__(self, path: Path | None, **kwargs: Any) -> None:
        super().__init__()
        self.path = path
        self.kwargs = kwargs
        self.follow_changes: list[bool] = []

    def compose(self) -> ComposeResult:
        yield OutputView(self.path, poll_interval=0.02, **self.kwargs)

    def on_output_view_follow_changed(self, message: OutputView.FollowChanged) -> None:
        self.follow_changes.append(message.following)


async def wait_for(pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def append(path: Path, data: bytes) -> None:
    """Append bytes to a file, as a running tool does."""
    with open(path, "ab") as stream:
        stream.write(data)


def visible(view: OutputView) -> list[str]:
    """The text of the lines the view shows."""
    height = view.scrollable_content_region.height
    return [view.render_line(y).text.rstrip() for y in range(height)]


@sync
async def test_waits_for_missing_file_then_follows_growth(tmp_path: Path) -> None:
    path = tmp_path / "steps" / "3.out"
    app = ViewApp(path)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: "does not exist yet" in view.get_line(0))
        assert view.get_line(0).startswith("waiting for output…")
        path.parent.mkdir()
        append(path, b"")
        await wait_for(pilot, lambda: "is empty" in view.get_line(0))
        append(path, b"".join(b"line %d\n" % i for i in range(40)))
        await wait_for(pilot, lambda: view.line_count == 40)
        assert view.following
        await pilot.pause()
        assert visible(view)[-1] == "line 39"
        append(path, b"".join(progress(b"> working %d" % i) for i in range(500)))
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == "> working 499")
        assert view.line_count == 41
        append(path, ESC + b"[1M> All done\n")
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == "> All done")
        await pilot.pause()
        assert visible(view)[-1] == "> All done"
        assert view.bytes_read == path.stat().st_size


@sync
async def test_scrolling_up_stops_following(tmp_path: Path) -> None:
    path = tmp_path / "1.out"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    app = ViewApp(path)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        view.focus()
        await wait_for(pilot, lambda: view.line_count == 100)
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        await pilot.press("k", "k", "k")
        assert not view.following
        top = view.scroll_y
        append(path, b"".join(b"more %d\n" % i for i in range(50)))
        await wait_for(pilot, lambda: view.line_count == 150)
        await pilot.pause()
        assert view.scroll_y == top  # the user's place is kept
        assert not view.following
        await pilot.press("G")
        assert view.following
        assert view.scroll_y == view.max_scroll_y
        await pilot.press("g")
        assert not view.following and view.scroll_y == 0
        view.follow()
        assert view.following and view.scroll_y == view.max_scroll_y
        # Scrolling back to the bottom by hand resumes following too.
        await pilot.press("k")
        assert not view.following
        await pilot.press("j")
        assert view.following
        append(path, b"last\n")
        await wait_for(pilot, lambda: view.line_count == 151)
        await pilot.pause()
        assert visible(view)[-1] == "last"
        assert app.follow_changes[:2] == [False, True]


@sync
async def test_switching_files(tmp_path: Path) -> None:
    first = tmp_path / "1.out"
    second = tmp_path / "2.out"
    first.write_bytes(b"first file\n")
    app = ViewApp(first)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.lines == ["first file"])
        view.show_file(second)
        assert view.path == second
        await wait_for(pilot, lambda: "does not exist yet" in view.get_line(0))
        second.write_bytes(b"second file\n")
        await wait_for(pilot, lambda: view.lines == ["second file"])
        append(first, b"late line for the first file\n")
        await pilot.pause(0.15)
        assert view.lines == ["second file"]
        view.show_file(first)
        await wait_for(pilot, lambda: len(view.lines) == 2)
        assert view.lines == ["first file", "late line for the first file"]
        view.show_file(first)  # the same file: nothing to do
        assert view.lines == ["first file", "late line for the first file"]
        view.reload()
        await wait_for(pilot, lambda: len(view.lines) == 2)
        view.show_file(None)
        await pilot.pause()
        assert view.lines == ["no output to show"]


@sync
async def test_truncated_or_replaced_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "1.out"
    path.write_bytes(b"".join(b"old %d\n" % i for i in range(20)))
    app = ViewApp(path)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 20)
        path.write_bytes(b"new run\n")  # truncated and rewritten (a step run again)
        await wait_for(pilot, lambda: view.lines == ["new run"])
        replacement = tmp_path / "tmp.out"
        replacement.write_bytes(b"replaced 1\nreplaced 2\nreplaced 3\n")
        os.replace(replacement, path)
        await wait_for(pilot, lambda: view.lines == ["replaced 1", "replaced 2", "replaced 3"])


@sync
async def test_big_file_opens_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "big.out"
    with open(path, "wb") as stream:
        for block in range(60):
            stream.write(b"".join(b"block %03d line %04d\n" % (block, i) for i in range(1000)))
    size = path.stat().st_size
    app = ViewApp(path, max_initial_bytes=200_000, max_chars=100_000)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.bytes_read == size)
        assert view.omitted
        assert view.get_line(0) == f"… earlier output omitted, see {path}"
        assert view.get_line(view.line_count - 1) == "block 059 line 0999"
        assert view.line_count < 200_000 // 10
        await pilot.pause()
        assert visible(view)[-1] == "block 059 line 0999"


@sync
async def test_colours_are_rendered_and_controls_are_safe(tmp_path: Path) -> None:
    path = tmp_path / "1.out"
    path.write_bytes(b"\x1b[7m Catalog \x1b[0m plain\nbad \xff\x00 \x1b]0;t\x07ok\n")
    app = ViewApp(path)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 2)
        strip = view.render_line(0)
        assert strip.text.startswith(" Catalog  plain")
        assert any(segment.style and segment.style.reverse for segment in strip)
        assert view.render_line(1).text.startswith("bad \ufffd ok")


def unsafe_characters(strip: Any) -> list[str]:
    """The control characters (C0, DEL, C1, ESC included) in a rendered strip's segments."""
    return [char for segment in strip for char in segment.text
            if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0]


@sync
async def test_no_escape_sequence_reaches_the_terminal_through_the_pane(tmp_path: Path) -> None:
    # Issue 11 item 14: only SGR colours and the cursor moves are interpreted, the rest dropped
    # whole, even when a string is longer than a read (64 KiB) and cut between reads.
    path = tmp_path / "1.out"
    hostile = (
        b"start\n"
        + b"clip\x1b]52;c;" + b"ZWNobyBwd25lZA==" * 10_000 + b"\x07board\n"  # 160 KB OSC 52
        + b"ti\x1b]0;pwned\x1b\\tle\x1b]2;x\x07\n"  # title changes
        + b"cl\x1b[2J\x1b[Hear\x1b[?1049h\x1b[?1000h\n"  # clear screen, alt screen, mouse
        + b"dc\x1bP+q544e\x1b\\s\x1b_Ga=T;AAAA\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\\n"  # DCS APC PM SOS
        + b"bell\x07\x00\x0e\xc2\x9b2J\x1b[31mred\x1b[0m\n"  # C0, C1 CSI, a real colour
        + progress(b"> Line: 1") + progress(b"> Line: 2") + b"\x1b[1M> done\n"
    )
    path.write_bytes(hostile)
    app = ViewApp(path)
    async with app.run_test(size=(100, 12)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 7)
        strips = [view.render_line(y) for y in range(7)]
        assert [strip.text.rstrip() for strip in strips] == [
            "start", "clipboard", "title", "clear", "dcs", "bell2Jred", "> done",
        ]
        for strip in strips:
            assert unsafe_characters(strip) == []
        assert any(segment.text == "red" and segment.style and segment.style.color
                   and segment.style.color.number == 1 for segment in strips[5])


@sync
async def test_a_path_with_escapes_is_shown_inert_in_the_notes(tmp_path: Path) -> None:
    path = tmp_path / "run\x1b]0;pwned\x07\x1b[2J" / "steps" / "1.out"
    app = ViewApp(path)
    async with app.run_test(size=(120, 8)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: "does not exist yet" in view.get_line(0))
        strip = view.render_line(0)
        assert unsafe_characters(strip) == []
        assert "run^[]0;pwned^G^[[2J" in strip.text


@sync
async def test_long_lines_scroll_horizontally(tmp_path: Path) -> None:
    path = tmp_path / "1.out"
    path.write_bytes(b"x" * 300 + b"END\n")
    app = ViewApp(path)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        view.focus()
        await wait_for(pilot, lambda: view.line_count == 1)
        await pilot.pause()
        assert view.virtual_size.width == 303
        view.scroll_to(x=view.max_scroll_x, animate=False)
        await pilot.pause()
        assert "END" in view.render_line(0).text


def test_snapshot_output_view(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "7.out"
    path.write_bytes(
        b"\n> WARNING: default.sex not found, using internal defaults\n\n"
        + progress(b"> ")
        + b"----- Source Extractor 2.25.0 started with 1 thread\n\n"
        + b"".join(progress(b"> Line: %4d  Objects: %8d detected" % (i, i)) for i in range(300))
        + b"      Objects: detected 859      / sextracted 779             \n\n"
        + b"\x1b[7m Catalog name \x1b[0m  \x1b[1;31mError\x1b[0m in red\n"
        + progress(b"> Closing files")
        + b"> All done (in 0.1 s)\n"
    )
    app = ViewApp(path)

    async def run_before(pilot: Pilot[None]) -> None:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.bytes_read == path.stat().st_size)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@sync
async def test_a_flood_shows_its_end_then_all_of_it(tmp_path: Path) -> None:
    """A tool printing faster than the view reads: while it floods, the view shows the
    end without interpreting the rest; once it settles, every line can be scrolled to."""
    path = tmp_path / "flood.out"
    path.write_bytes(b"start\n")
    app = ViewApp(path, jump_bytes=4096, tail_bytes=1024, stream_interval=0.05, settle=0.4)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.lines == ["start"])
        saw_flood = False
        written = 0
        deadline = time.monotonic() + 30
        # 1,000 lines every 30 ms: 20 bursts, and more if a loaded machine kept the view
        # from looking while they came.
        while written < 20_000 or not saw_flood:
            assert time.monotonic() < deadline, "the view never showed the flood"
            append(path, b"".join(b"flood line %06d\n" % (written + i) for i in range(1000)))
            written += 1000
            await pilot.pause(0.03)
            if view.line_count and view.get_line(0).startswith("… output arriving fast"):
                saw_flood = True
                # The end only: the last 1,024 bytes (~57 lines), plus at most one backlog
                # under jump_bytes (~228 lines) if the reader looked at a burst half written.
                # Not 20,000 lines, nor a burst that landed after the reader looked (1,057).
                assert view.line_count < 300
        assert saw_flood
        last = f"flood line {written - 1:06d}"
        await wait_for(pilot, lambda: view.line_count == written + 1, timeout=10)
        assert view.lines[0] == "start" and view.lines[-1] == last
        assert view.following
        await pilot.pause()
        assert visible(view)[-1] == last


@sync
async def test_a_flood_stays_skipped_when_more_lands_while_the_reader_looks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a loaded machine makes likely, made certain: the tool writes more between
    the reader's look at the file size and its read. The view still shows only the end
    (it once interpreted the late burst too, up to `tick_bytes`, while flagged as flooding)."""
    path = tmp_path / "flood.out"
    path.write_bytes(b"start\n")
    bursts = [b"".join(b"flood line %06d\n" % (burst * 1000 + i) for i in range(1000))
              for burst in range(2)]
    armed = threading.Event()
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        # Only the reader loop's size check: a flood arrives just before it, and more output
        # right after it, before the read.
        if not (armed.is_set() and sys._getframe(1).f_code.co_name == "_loop"):
            return real_fstat(fd)
        armed.clear()
        append(path, bursts[0])
        result = real_fstat(fd)
        append(path, bursts[1])
        return result

    monkeypatch.setattr(os, "fstat", fstat)
    app = ViewApp(path, jump_bytes=4096, tail_bytes=1024, stream_interval=0.05, settle=60)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.lines == ["start"])
        armed.set()
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == "flood line 001999")
        assert view.get_line(0).startswith("… output arriving fast")
        assert view.line_count < 100  # the last 1,024 bytes: ~57 lines, not 1,000 more


@sync
async def test_scrolling_up_in_a_flood_fills_it_in_and_keeps_the_place(tmp_path: Path) -> None:
    path = tmp_path / "flood.out"
    path.write_bytes(b"")
    app = ViewApp(path, jump_bytes=4096, tail_bytes=2048, stream_interval=0.05, settle=60)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        view.focus()
        await wait_for(pilot, lambda: "is empty" in view.get_line(0))
        append(path, b"".join(b"line %05d\n" % i for i in range(5000)))
        await wait_for(pilot, lambda: view.get_line(0).startswith("… output arriving fast"))
        assert view.line_count < 2500  # the end only (more if it saw the write half done)
        await pilot.pause()
        await pilot.press("k", "k", "k")  # the user scrolls up: read it all now
        assert not view.following
        in_sight = visible(view)
        await wait_for(pilot, lambda: view.line_count == 5000)
        await pilot.pause()
        assert visible(view) == in_sight  # the same lines stay in sight
        assert not view.following
        await pilot.press("g")
        assert visible(view)[0] == "line 00000"


@sync
async def test_a_big_finished_output_opens_at_its_end_then_fills_in(tmp_path: Path) -> None:
    path = tmp_path / "big.out"
    path.write_bytes(b"".join(b"row %06d\n" % i for i in range(100_000)))  # 1.1 MB
    app = ViewApp(path, jump_bytes=64 * 1024, tail_bytes=4096)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 100_000, timeout=10)
        assert not view.omitted
        assert view.get_line(0) == "row 000000"
        await pilot.pause()
        assert visible(view)[-1] == "row 099999"


class _FloodSeam:
    """A flood that grows at every look of the reader, counting the reader's reads.

    The reader loop's size check (``os.fstat`` called from ``_loop``) first appends a burst
    of lines while armed, so each look finds more output; ``os.pread`` calls from the
    reader thread are counted. Deterministic: no wall time decides what the reader sees.
    `disarm` waits for a burst under way, so `written` and `last` no longer move after it.
    """

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch, looks: int = 10**9) -> None:
        self.path = path
        self.armed = threading.Event()
        self.bursting = threading.Lock()  # a look's check and burst, against disarm()
        self.looks_left = looks
        self.written = 0
        self.reads = 0
        self.reads_while_armed = 0
        self.real_fstat = os.fstat
        self.real_pread = os.pread
        monkeypatch.setattr(os, "fstat", self.fstat)
        monkeypatch.setattr(os, "pread", self.pread)

    def burst(self) -> None:
        # 10,000 lines (~180 KB) per look: fast however long the look took (up to ~2 s).
        append(self.path, b"".join(b"flood line %06d\n" % (self.written + i)
                                   for i in range(10_000)))
        self.written += 10_000

    def fstat(self, fd: int) -> os.stat_result:
        if sys._getframe(1).f_code.co_name == "_loop":
            with self.bursting:
                if self.armed.is_set():
                    self.burst()
                    self.looks_left -= 1
                    if not self.looks_left:
                        self.armed.clear()
        return self.real_fstat(fd)

    def disarm(self) -> None:
        """Stop the flood; a burst already under way ends first (CI on 1315e75 read
        `last` while the reader's last burst was still being written)."""
        with self.bursting:
            self.armed.clear()

    def pread(self, fd: int, length: int, offset: int) -> bytes:
        if threading.current_thread().name.startswith("aw-tui output reader"):
            self.reads += 1
            if self.armed.is_set():
                self.reads_while_armed += 1
        return self.real_pread(fd, length, offset)

    @property
    def last(self) -> str:
        return f"flood line {self.written - 1:06d}"


@sync
async def test_a_flood_is_not_read_while_it_comes(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """While output floods in, the reader only looks at the file's size: no read. The pane
    says so (how much arrived, below the lines it holds); the moment the flood stops its
    end is shown, and output that then comes slowly is read as usual."""
    path = tmp_path / "flood.out"
    before = [f"before {i:02d}" for i in range(20)]
    path.write_bytes("".join(f"{line}\n" for line in before).encode())
    seam = _FloodSeam(path, monkeypatch)
    app = ViewApp(path, jump_bytes=4096, tail_bytes=1024, stream_interval=0.05, settle=60)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.lines == before)
        seam.armed.set()

        def arriving() -> str:
            last = view.get_line(view.line_count - 1)
            return last if last.startswith("… output arriving fast: ") else ""

        await wait_for(pilot, lambda: bool(arriving()))
        first = arriving()
        await wait_for(pilot, lambda: arriving() not in ("", first))  # the count moves on
        assert first.endswith("more so far, not read while it comes")
        lines = view.lines
        assert lines[0].startswith("… output arriving fast: not read while it comes")
        assert lines[1:-1] == before  # what was read before the flood, nothing of it
        await pilot.pause()
        # Following, the pane shows the end of what it holds: the count below is in sight.
        assert visible(view)[-2:] == [before[-1], arriving()]
        seam.disarm()
        assert seam.reads_while_armed == 0
        assert view.bytes_read == sum(len(line) + 1 for line in before)

        # The flood stops: its end is shown at the next look, the rest is skipped for now.
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == seam.last)
        assert view.get_line(0).startswith("… output arriving fast: its end is shown")
        assert view.line_count < 100  # the last 1,024 bytes: ~57 lines
        assert seam.reads > 0
        append(path, b"a slow line\n")
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == "a slow line")


@sync
async def test_a_flood_that_settles_shows_all_of_it(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """After a flood that was never read while it came, the whole output (up to the
    pane's limit) is read once it settles: every line, in order, the notes gone."""
    path = tmp_path / "flood.out"
    path.write_bytes(b"start\n")
    seam = _FloodSeam(path, monkeypatch, looks=6)
    app = ViewApp(path, jump_bytes=4096, tail_bytes=1024, stream_interval=0.05, settle=0.3)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.lines == ["start"])
        seam.armed.set()
        await wait_for(pilot, lambda: not seam.armed.is_set())
        assert seam.reads_while_armed == 0
        await wait_for(pilot, lambda: view.line_count == seam.written + 1, timeout=10)
        assert view.lines[0] == "start" and view.lines[-1] == seam.last
        assert view.lines[1:3] == ["flood line 000000", "flood line 000001"]
        assert view.following
        await pilot.pause()
        assert visible(view)[-1] == seam.last


@sync
async def test_scrolling_up_while_a_flood_is_not_read_keeps_the_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user who scrolls up while a flood is only looked at stays among the lines held;
    the output is then read on below them (not replaced by the flood's end)."""
    path = tmp_path / "flood.out"
    before = [f"before {i:02d}" for i in range(30)]
    path.write_bytes("".join(f"{line}\n" for line in before).encode())
    seam = _FloodSeam(path, monkeypatch)
    app = ViewApp(path, jump_bytes=4096, tail_bytes=1024, stream_interval=0.05, settle=60)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        view.focus()
        await wait_for(pilot, lambda: view.lines == before)
        seam.armed.set()
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1).startswith(
            "… output arriving fast: "))
        await pilot.pause()
        await pilot.press("k", "k", "k")
        assert not view.following
        held = [line for line in visible(view) if line.startswith("before ")]
        assert len(held) >= 5  # the user looks at lines held before the flood
        seam.disarm()
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == seam.last,
                       timeout=10)
        assert view.lines == before + [f"flood line {i:06d}" for i in range(seam.written)]
        await pilot.pause()
        assert visible(view)[:len(held)] == held  # still in sight, in the same place
        assert not view.following


@sync
async def test_a_long_note_is_cut_at_the_edge_and_brings_no_horizontal_scrollbar(
        tmp_path: Path) -> None:
    """A status line naming a long path is cut with "…" where the pane ends (it stays there
    when wide output is scrolled sideways); it never widens the scrollable area (issue 14: a
    horizontal scrollbar appearing with the flood note cost layouts of the whole screen)."""
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "steps"
    path = deep / "0.out"
    app = ViewApp(path)
    async with app.run_test(size=(60, 8)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: "does not exist yet" in view.get_line(0))
        await pilot.pause()
        note = view.get_line(0)
        assert len(note) > 60  # the whole note is still the line's text
        assert view.virtual_size.width <= view.size.width
        assert not view.show_horizontal_scrollbar
        shown = visible(view)[0]
        assert shown.endswith("…") and len(shown) == view.size.width
        assert note.startswith(shown[:-1])
        deep.mkdir(parents=True)
        path.write_bytes(b"x" * 200 + b"\nshort\n")  # wide output: sideways scrolling
        await wait_for(pilot, lambda: view.line_count >= 2 and view.get_line(
            view.line_count - 1) == "short")
        await pilot.pause()
        assert view.virtual_size.width == 200 and view.show_horizontal_scrollbar


@sync
async def test_output_that_grows_lays_out_the_screen_only_when_a_scrollbar_comes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pane's scrollable size follows the output, its scrollbars appear when the lines
    or a line outgrow it, and the end stays in sight; the whole screen is laid out again
    only when a scrollbar appears, not at each growth (Textual's layout of the screen for a
    changed virtual size cost 2-12 ms, several times a second, while a tool wrote)."""
    from textual.screen import Screen

    layouts: list[int] = []
    real = Screen._refresh_layout

    def counted(screen: Screen, *args: Any, **kwargs: Any) -> None:
        layouts.append(1)
        real(screen, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    path = tmp_path / "0.out"
    path.write_bytes(b"".join(b"line %02d\n" % i for i in range(3)))
    app = ViewApp(path)
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: view.line_count == 3)
        await pilot.pause()
        assert not view.show_vertical_scrollbar and not view.show_horizontal_scrollbar
        height = view.scrollable_content_region.height

        append(path, b"".join(b"line %02d\n" % i for i in range(3, 30)))
        await wait_for(pilot, lambda: view.line_count == 30)
        await pilot.pause()
        assert view.show_vertical_scrollbar  # the lines outgrew the pane: a bar came
        assert visible(view)[-1] == "line 29"

        written = 30
        for _ in range(5):  # growth under a bar already there: no layout of the screen
            await pilot.pause()
            before = len(layouts)
            append(path, b"".join(b"line %02d\n" % i for i in range(written, written + 7)))
            written += 7
            await wait_for(pilot, lambda n=written: view.line_count == n)
            await pilot.pause()
            assert len(layouts) == before
            assert view.virtual_size.height == written
            assert view.vertical_scrollbar.window_virtual_size == written
            assert view.max_scroll_y == written - height
            assert visible(view)[-1] == f"line {written - 1:02d}"

        append(path, b"w" * 200 + b"\n")  # a line wider than the pane: the other bar comes
        await wait_for(pilot, lambda: view.line_count == written + 1)
        await pilot.pause()
        assert view.show_horizontal_scrollbar
        assert visible(view)[-1].startswith("w" * 50)


@sync
async def test_a_quiet_file_is_looked_at_less_often_and_output_after_a_pause_still_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pane left on a quiet step (or on one whose output does not exist yet) looks at the
    file every `IDLE_POLL` seconds once nothing changed for `IDLE_AFTER` seconds, not every
    `poll_interval` (an idle TUI woke ~57 times a second, mostly for this); output that then
    comes shows within that pace, and the quick pace is back once it has come."""
    from aw_tui.tui.widgets import output_view

    monkeypatch.setattr(output_view, "IDLE_AFTER", 0.8)
    monkeypatch.setattr(output_view, "IDLE_POLL", 0.25)
    looks: list[float] = []
    real_fstat, real_open = os.fstat, os.open

    def fstat(fd: int) -> os.stat_result:
        if sys._getframe(1).f_code.co_name == "_loop":
            looks.append(time.monotonic())
        return real_fstat(fd)

    def opened(path: Any, *args: Any, **kwargs: Any) -> int:
        if sys._getframe(1).f_code.co_name == "_open":
            looks.append(time.monotonic())
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "fstat", fstat)
    monkeypatch.setattr(os, "open", opened)

    def gaps(start: float, end: float) -> list[float]:
        """The gaps between the looks of this stretch of time (from its start)."""
        times = [t for t in looks if start <= t <= end]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    path = tmp_path / "steps" / "0.out"
    app = ViewApp(path)  # poll_interval 0.02 s: 50 looks a second while something changes
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(OutputView)
        await wait_for(pilot, lambda: "does not exist yet" in view.get_line(0))
        start = time.monotonic()
        await pilot.pause(1.8)
        assert statistics.median(gaps(start + 1.0, time.monotonic())) >= 0.2  # missing, quiet
        path.parent.mkdir()
        path.write_bytes(b"first\n")
        await wait_for(pilot, lambda: view.lines == ["first"], timeout=2)
        shown = time.monotonic()
        await pilot.pause(0.6)  # quiet for less than IDLE_AFTER: the quick pace
        assert statistics.median(gaps(shown + 0.05, time.monotonic())) <= 0.1
        await pilot.pause(1.2)
        assert statistics.median(gaps(shown + 1.0, time.monotonic())) >= 0.2  # quiet again
        append(path, b"after a pause\n")  # seen within the idle pace
        await wait_for(pilot, lambda: view.get_line(view.line_count - 1) == "after a pause",
                       timeout=1)
