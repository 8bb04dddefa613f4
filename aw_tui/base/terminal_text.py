"""Turn raw tool output bytes into the lines a terminal would finally show.

The AstrOmatic tools draw their progress with cursor movements instead of carriage returns:
every update is ``ESC[1M> message\\nESC[1A`` (delete the line, print, go back up). Shown raw, a
SExtractor run is thousands of lines of progress; on a terminal it is a dozen. `TerminalText`
is a small, incremental interpreter of the few controls such tools use, fast enough to follow
a log as it is written (well over 10 MB/s on progress-heavy output).

What it understands:

- ``\\n`` (and VT/FF) start a new line (column 0, as a terminal with ``onlcr`` shows a file);
  ``\\r`` goes back to column 0 so that the next text overwrites; ``\\b`` moves one column
  left; ``\\t`` moves to the next multiple of 8.
- CSI cursor movement ``A`` (up), ``B`` (down), ``C`` (right), ``D`` (left), ``G`` (column),
  line editing ``M`` (delete lines), ``L`` (insert lines), ``K`` (erase in line: 0, 1, 2) and
  ``J`` with parameter 0 (erase below).
- SGR (``ESC[...m``) is kept: every character is drawn in the SGR state in effect when it was
  written (overwriting recolours, as on a terminal), and a line holds an SGR change just
  before the characters it applies to, so a view can render colours line by line (e.g. with
  ``rich.text.Text.from_ansi``). A state still active at a line break applies to the next
  line too.
- Everything else is dropped whole: control strings (OSC such as a title or an ``OSC 52``
  clipboard write, DCS, SOS, PM, APC, up to their ST or BEL, even across chunks and at any
  length), CSI sequences with a private marker (``ESC[?25l``) or intermediate bytes, other
  CSI (``ESC[2J``, ``ESC[H``...), two-character escapes, and every other C0 control, DEL and
  C1 control. Bytes that are not UTF-8 become U+FFFD. Nothing but SGR sequences ever reaches
  the caller, so the lines are safe to print.

Rows the cursor can still move back into are *live* (the last `live_rows` rows at least);
older rows are *completed* and never change again. Cursor-up is clamped at the top of the live
rows, as a terminal clamps it at the top of its screen. Lines longer than `wrap_width` columns
are wrapped. Completed lines are packed into blocks of 1024 lines (one string and an offset
array per block) and, when `max_chars` is set, the oldest blocks are dropped once the retained
text exceeds it (`omitted_lines` counts them).

Feeding is chunk-boundary independent: splitting the input anywhere, even inside an escape
sequence or a UTF-8 character, gives the same lines as feeding it whole.

The SGR state of a row lives in :mod:`aw_tui.base.terminal_pen`, the packed storage of the
completed lines and the snapshots in :mod:`aw_tui.base.terminal_lines`; their public names used
by callers (`BLOCK_LINES`, `TextSnapshot`, `strip_sgr`) are importable from here too.

This module imports nothing from Textual or Rich.
"""

from __future__ import annotations

import codecs
import re

from aw_tui.base.terminal_lines import BLOCK_LINES, LineBlock, TextSnapshot
from aw_tui.base.terminal_pen import (
    end_pen,
    join_cells,
    next_pen,
    pen_change,
    split_cells,
    strip_sgr,
    truncate_row,
)

__all__ = [
    "BLOCK_LINES",
    "TerminalText",
    "TextSnapshot",
    "render_final_lines",
    "strip_sgr",
]

_MAX_SEQUENCE = 512
"""Longest escape sequence held back at a chunk end while waiting for its end."""

_MAX_REPEAT = 10_000
"""Upper bound for a CSI repeat count (``ESC[99999A`` is treated as this)."""

# Text printed between controls: anything but C0, DEL and C1.
_CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f"

# One AstrOmatic progress update is ``ESC[1M`` + message + ``\n`` + ``ESC[1A``. A run of
# them, when nothing is below the cursor, leaves only the last message: it is matched whole.
_PROGRESS = rf"(?:\x1b\[1M(?P<msg>[^{_CONTROL_CLASS}]*)\n\x1b\[1A)+"
_GENERIC = (
    r"(?P<nl>\n)"
    r"|\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~])"
    r"|(?P<cr>\r)"
    # A control string (OSC, DCS, SOS, PM, APC) ends at ST (ESC \\), BEL, CAN or SUB; an ESC of
    # another sequence ends it too, as on a terminal. Without an end it goes on in the next chunk.
    r"|(?P<string>\x1b[\]PX^_][^\x07\x18\x1a\x1b]*(?P<st>[\x07\x18\x1a]|\x1b\\)?)"
    r"|(?P<esc>\x1b[ -/]*[0-~]|\x1b)"
    r"|(?P<ctl>[\x00-\x09\x0b-\x1a\x1c-\x1f\x7f-\x9f])"
)
_TOKEN = re.compile(f"(?P<prog>{_PROGRESS})|{_GENERIC}")
# Whole plain lines after a line break, appended in one go when the cursor is on a new row.
_LINES = re.compile(rf"(?:[^{_CONTROL_CLASS}]*\n)+").match
_TOKEN_GENERIC = re.compile(_GENERIC)

# An escape sequence cut by the end of the data received so far.
# (A control string cut by a chunk end is not held back: `TerminalText` drops it as it comes
# and remembers that it is inside one.)
_INCOMPLETE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|[ -/]*)?")
# Where a control string that began in an earlier chunk ends.
_STRING_END = re.compile(r"[\x07\x18\x1a\x1b]").search
# The parameters of a real SGR sequence (no private marker).
_SGR_PARAMS = re.compile(r"[0-9;:]*").fullmatch

def _repeat(params: str) -> int:
    """Return the repeat count of a CSI sequence (missing or 0 means 1).

    Parameters
    ----------
    params : str
        The parameter bytes of the sequence.

    Returns
    -------
    int
        The count, at least 1 and at most ``_MAX_REPEAT``.
    """
    if not params:
        return 1
    head = params.split(";", 1)[0]
    if not head.isdigit():
        return 1
    return min(max(int(head), 1), _MAX_REPEAT)


def _erase_mode(params: str) -> int:
    """Return the mode of an erase sequence (``K`` or ``J``); missing means 0.

    Parameters
    ----------
    params : str
        The parameter bytes of the sequence.

    Returns
    -------
    int
        The mode, or -1 when it is not a plain number.
    """
    if not params:
        return 0
    return int(params) if params.isdigit() else -1


class TerminalText:
    """Incremental interpreter of tool output into the lines a terminal would show.

    Parameters
    ----------
    live_rows : int, optional
        How many of the last rows stay editable (the cursor can move up into them).
        Must be at least 2.
    max_chars : int or None, optional
        When set, keep at most about this many characters of completed lines: the oldest
        blocks of `BLOCK_LINES` lines are dropped (counted in `omitted_lines`).
    wrap_width : int, optional
        Lines are wrapped at this many columns (bounds the memory of a line without newline).

    Examples
    --------
    >>> text = TerminalText()
    >>> text.feed(b"\\x1b[1M> Line:  25\\n\\x1b[1A\\x1b[1M> Line:  50\\n\\x1b[1A")
    >>> text.feed(b"\\x1b[1M> All done\\n")
    >>> text.lines
    ['> All done']
    """

    def __init__(
        self,
        *,
        live_rows: int = 64,
        max_chars: int | None = None,
        wrap_width: int = 4096,
    ) -> None:
        if live_rows < 2:
            raise ValueError("live_rows must be at least 2")
        if wrap_width < 1:
            raise ValueError("wrap_width must be positive")
        self.live_rows = live_rows
        self.max_chars = max_chars
        self.wrap_width = wrap_width
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._carry = ""
        self._in_string = False  # inside a control string (OSC, DCS...) cut by a chunk end
        self._rows: list[str] = [""]
        self._widths: list[int] = [0]
        self._y = 0
        self._x = 0
        self._pen = ""
        self._end_cache = ("", "")  # a row and the SGR state at its end
        self._blocks: list[LineBlock] = []
        self._done: list[str] = []
        self._stored_chars = 0
        self._omitted = 0
        self._max_width = 0
        self.bytes_fed = 0
        """Total number of bytes given to `feed`."""

    # ------------------------------------------------------------------ public API

    def feed(self, data: bytes) -> None:
        """Interpret more output.

        Parameters
        ----------
        data : bytes
            The next bytes of the output, cut anywhere.
        """
        if not data:
            return
        self.bytes_fed += len(data)
        text = self._decoder.decode(data)
        if self._carry:
            text = self._carry + text
            self._carry = ""
        if self._in_string:
            text = self._skip_string(text)
        cut = text.rfind("\x1b", max(0, len(text) - _MAX_SEQUENCE))
        if cut != -1 and _INCOMPLETE.fullmatch(text, cut):
            self._carry = text[cut:]
            text = text[:cut]
        if text:
            self._run(text, _TOKEN)

    def flush(self) -> None:
        """Declare the end of the output.

        An incomplete UTF-8 character at the end becomes U+FFFD and an incomplete escape
        sequence is dropped. Feeding more afterwards is allowed.
        """
        text = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        self._carry = ""
        if self._in_string:
            text = self._skip_string(text)
            self._carry = ""
            self._in_string = False
        if text:
            self._run(text, _TOKEN)

    @property
    def line_count(self) -> int:
        """Number of retained visible lines (omitted ones excluded)."""
        return len(self._blocks) * BLOCK_LINES + len(self._done) + self._live_count()

    def get_line(self, index: int) -> str:
        """Return one retained visible line.

        Parameters
        ----------
        index : int
            0-based index among the retained lines.

        Returns
        -------
        str
            The line, SGR sequences included.

        Raises
        ------
        IndexError
            When `index` is out of range.
        """
        if index < 0 or index >= self.line_count:
            raise IndexError(index)
        packed = len(self._blocks) * BLOCK_LINES
        if index < packed:
            return self._blocks[index // BLOCK_LINES].get(index % BLOCK_LINES)
        index -= packed
        if index < len(self._done):
            return self._done[index]
        return self._rows[index - len(self._done)]

    @property
    def lines(self) -> list[str]:
        """All retained visible lines, as a new list."""
        return self.snapshot().lines

    @property
    def completed_count(self) -> int:
        """Number of retained lines that can no longer change."""
        return len(self._blocks) * BLOCK_LINES + len(self._done)

    @property
    def live_lines(self) -> list[str]:
        """The visible lines that the cursor can still move back into and rewrite."""
        return self._rows[: self._live_count()]

    @property
    def omitted_lines(self) -> int:
        """Number of completed lines dropped to respect `max_chars`."""
        return self._omitted

    @property
    def max_width(self) -> int:
        """Width in columns of the widest line seen (SGR sequences excluded)."""
        return max(self._max_width, max(self._widths))

    def snapshot(self) -> TextSnapshot:
        """Return an immutable view of the current lines, safe to read from another thread.

        Returns
        -------
        TextSnapshot
            The lines as they are now.
        """
        return TextSnapshot(
            tuple(self._blocks),
            tuple(self._done),
            tuple(self._rows[: self._live_count()]),
            self._omitted,
            self.max_width,
            self.completed_count,
        )

    # ------------------------------------------------------------------ internals

    def _live_count(self) -> int:
        """Return the number of live rows that are visible (a last empty row is not)."""
        rows = self._rows
        return len(rows) - 1 if self._widths[-1] == 0 else len(rows)

    def _run(self, text: str, pattern: re.Pattern[str]) -> None:
        """Interpret decoded text holding only complete escape sequences.

        Parameters
        ----------
        text : str
            The text.
        pattern : re.Pattern
            `_TOKEN` (with the progress fast path) or `_TOKEN_GENERIC`.
        """
        rows = self._rows
        widths = self._widths
        wrap = self.wrap_width
        live2 = 2 * self.live_rows
        pos = 0
        search = pattern.search
        while (match := search(text, pos)) is not None:
            start = match.start()
            if start != pos:
                # Plain text: append at the end of the row when the cursor is there.
                run = text[pos:start]
                y = self._y
                x = self._x
                row = rows[y]
                if x == widths[y] and x + len(run) <= wrap and not self._pen and "\x1b" not in row:
                    rows[y] = row + run
                    widths[y] = x + len(run)
                    self._x = x + len(run)
                else:
                    self._put(run)
            pos = match.end()
            kind = match.lastgroup
            if kind == "nl":
                y = self._y + 1
                self._y = y
                self._x = 0
                if y == len(rows):
                    rows.append("")
                    widths.append(0)
                    if y >= live2:
                        self._commit()
                    if not self._pen and (lines := _LINES(text, pos)) is not None:
                        # Whole plain lines follow: append them in one go.
                        parts = lines.group().split("\n")
                        lengths = list(map(len, parts))
                        if max(lengths) <= wrap:
                            y = self._y
                            rows[y:] = parts
                            widths[y:] = lengths
                            self._y = len(rows) - 1
                            if len(rows) > live2:
                                self._commit(self._steady_length(len(rows)))
                            pos = lines.end()
            elif kind == "final":
                self._csi(match.group("params"), match.group("final"), match.group())
            elif kind == "prog":
                y = self._y
                msg = match.group("msg")
                if len(msg) <= wrap and (
                    y == len(rows) - 1 or (y == len(rows) - 2 and rows[-1] == "")
                ):
                    rows[y:] = [self._pen + msg if self._pen and msg else msg, ""]
                    widths[y:] = [len(msg), 0]
                    self._x = 0
                    if len(rows) > live2:
                        self._commit()
                else:
                    self._run(match.group(), _TOKEN_GENERIC)
            elif kind == "cr":
                self._x = 0
            elif kind == "ctl":
                self._control(match.group())
            elif kind == "string":
                # Dropped whole; one cut by the end of the text goes on in the next chunk.
                self._in_string = pos == len(text) and match.group("st") is None
            # kind == "esc": other escape sequences are dropped
        if pos < len(text):
            self._put(text[pos:])

    def _skip_string(self, text: str) -> str:
        """Drop the rest of a control string begun in an earlier chunk; return what follows.

        Parameters
        ----------
        text : str
            The next decoded text.

        Returns
        -------
        str
            The text after the end of the string (empty while the string goes on; a last ESC
            that may begin its ST is kept in the carry).
        """
        end = _STRING_END(text)
        if end is None:
            return ""
        index = end.start()
        self._in_string = False
        if text[index] != "\x1b":
            return text[index + 1 :]
        if index + 1 == len(text):
            self._in_string = True
            self._carry = "\x1b"
            return ""
        return text[index + 2 :] if text[index + 1] == "\\" else text[index:]

    def _put(self, text: str) -> None:
        """Write plain text at the cursor, in the current SGR state.

        Overwrites what is under the cursor, pads with spaces when the cursor is beyond the
        end of the row, and wraps at `wrap_width`.

        Parameters
        ----------
        text : str
            Text without controls.
        """
        rows = self._rows
        widths = self._widths
        wrap = self.wrap_width
        pen = self._pen
        while text:
            x = self._x
            if x >= wrap:
                self._newline()
                continue
            y = self._y
            piece = text[: wrap - x]
            text = text[wrap - x :]
            row = rows[y]
            width = widths[y]
            if x >= width:
                # Append: pad (in the row's own state), then change state, then the text.
                if x > width:
                    row += " " * (x - width)
                if pen or "\x1b" in row:
                    cached_row, end = self._end_cache
                    if cached_row is not row:
                        end = end_pen(row)
                    if end != pen:
                        row += pen_change(end, pen)
                row += piece
                rows[y] = row
                widths[y] = x + len(piece)
                self._end_cache = (row, pen)
            elif not pen and "\x1b" not in row:
                rows[y] = row[:x] + piece + row[x + len(piece) :]
                widths[y] = max(width, x + len(piece))
            else:
                cells = split_cells(row)
                cells[x : x + len(piece)] = [(char, pen) for char in piece]
                rows[y] = join_cells(cells)
                widths[y] = len(cells)
            self._x = x + len(piece)

    def _newline(self) -> None:
        """Move to column 0 of the next row, creating it at the end."""
        rows = self._rows
        self._y += 1
        self._x = 0
        if self._y == len(rows):
            rows.append("")
            self._widths.append(0)
            if len(rows) > 2 * self.live_rows:
                self._commit()

    def _ensure_row(self) -> None:
        """Create rows up to the cursor's (rows below the last are blank on a terminal)."""
        grew = False
        while len(self._rows) <= self._y:
            self._rows.append("")
            self._widths.append(0)
            grew = True
        if grew and len(self._rows) > 2 * self.live_rows:
            self._commit()

    def _control(self, char: str) -> None:
        """Apply TAB, BS, VT or FF; drop any other C0/C1 control (LF, CR and ESC are not here).

        Parameters
        ----------
        char : str
            The character.
        """
        code = ord(char)
        if code == 0x09:  # TAB
            self._x = min((self._x // 8 + 1) * 8, self.wrap_width)
        elif code == 0x08:  # BS
            self._x = max(self._x - 1, 0)
        elif code in (0x0B, 0x0C):  # VT, FF: a line feed on a terminal
            self._newline()
        # Any other control (NUL, BEL, DEL, C1...) is dropped.

    def _csi(self, params: str, final: str, sequence: str) -> None:
        """Apply a CSI sequence.

        Parameters
        ----------
        params : str
            Its parameter bytes.
        final : str
            Its final byte.
        sequence : str
            The whole sequence (for SGR, added to the current state).
        """
        if len(sequence) != len(params) + 3 or (params and params[0] in "<=>?"):
            return  # private (ESC[?25l...) or with intermediate bytes: dropped
        rows = self._rows
        widths = self._widths
        if final == "m":
            if not _SGR_PARAMS(params):
                return
            self._pen = next_pen(self._pen, params, sequence)
        elif final == "A":
            self._y = max(self._y - _repeat(params), 0)
        elif final == "M":
            count = _repeat(params)
            y = self._y
            del rows[y : y + count]
            del widths[y : y + count]
            self._x = 0
            if len(rows) <= y:
                rows.append("")
                widths.append(0)
        elif final == "K":
            mode = _erase_mode(params)
            y = self._y
            x = self._x
            if mode == 0:
                if x < widths[y]:
                    rows[y] = truncate_row(rows[y], x)
                    widths[y] = x
            elif mode == 1:
                count = min(x + 1, widths[y])
                if count:
                    cells = split_cells(rows[y])
                    cells[:count] = [(" ", "")] * count
                    rows[y] = join_cells(cells)
            elif mode == 2:
                rows[y] = ""
                widths[y] = 0
        elif final == "B":
            self._y += _repeat(params)
            self._ensure_row()
        elif final == "C":
            self._x = min(self._x + _repeat(params), self.wrap_width)
        elif final == "D":
            self._x = max(self._x - _repeat(params), 0)
        elif final == "G":
            self._x = min(_repeat(params) - 1, self.wrap_width)
        elif final == "L":
            count = min(_repeat(params), 2 * self.live_rows)
            y = self._y
            rows[y:y] = [""] * count
            widths[y:y] = [0] * count
            self._x = 0
            if len(rows) > 2 * self.live_rows:
                self._commit()
        elif final == "J" and _erase_mode(params) == 0:
            y = self._y
            x = self._x
            if x < widths[y]:
                rows[y] = truncate_row(rows[y], x)
                widths[y] = x
            del rows[y + 1 :]
            del widths[y + 1 :]
        # Any other CSI (cursor position, screen clear, modes...) is dropped.

    def _steady_length(self, length: int) -> int:
        """Return how many rows one-by-one line feeds would have left live.

        Feeding rows one at a time commits down to `live_rows` whenever there are more than
        twice as many; this gives the row count that leaves for `length` rows fed in one go,
        so that both ways end in the same state.

        Parameters
        ----------
        length : int
            Number of rows after appending them all, before committing.

        Returns
        -------
        int
            Number of rows to keep live.
        """
        live = self.live_rows
        if length <= 2 * live:
            return length
        return live + (length - 2 * live - 1) % (live + 1)

    def _commit(self, keep: int | None = None) -> None:
        """Move the rows above the live window to the completed lines.

        Parameters
        ----------
        keep : int or None, optional
            Number of rows to leave live (default `live_rows`).
        """
        rows = self._rows
        count = len(rows) - (self.live_rows if keep is None else keep)
        if count <= 0:
            return
        widths = self._widths
        widest = max(widths[:count])
        if widest > self._max_width:
            self._max_width = widest
        done = self._done
        done.extend(rows[:count])
        del rows[:count]
        del widths[:count]
        self._y -= count
        if len(done) >= BLOCK_LINES:
            self._pack()

    def _pack(self) -> None:
        """Pack completed lines into blocks and drop old blocks beyond `max_chars`."""
        done = self._done
        full = len(done) - len(done) % BLOCK_LINES
        for start in range(0, full, BLOCK_LINES):
            block = LineBlock(done[start : start + BLOCK_LINES])
            self._blocks.append(block)
            self._stored_chars += len(block.text)
        del done[:full]
        if self.max_chars is not None:
            blocks = self._blocks
            drop = 0
            while self._stored_chars > self.max_chars and drop < len(blocks) - 1:
                self._stored_chars -= len(blocks[drop].text)
                drop += 1
            if drop:
                del blocks[:drop]
                self._omitted += drop * BLOCK_LINES


def render_final_lines(data: bytes) -> list[str]:
    """Return the lines a terminal would finally show for some tool output.

    Parameters
    ----------
    data : bytes
        The complete raw output.

    Returns
    -------
    list of str
        The visible lines, SGR sequences included (see `strip_sgr`).

    Examples
    --------
    >>> render_final_lines(b"10%\\r50%\\r100%\\ndone\\n")
    ['100%', 'done']
    """
    text = TerminalText()
    text.feed(data)
    text.flush()
    return text.lines
