"""Storage of the completed lines of `aw_tui.base.terminal_text.TerminalText`.

Completed lines never change again; they are packed `BLOCK_LINES` at a time into one string and
an offset array (`LineBlock`), which costs far less memory than a list of strings. A
`TextSnapshot` is an immutable view of the lines at one moment, shared with the interpreter.

This module imports nothing from Textual or Rich.
"""

from __future__ import annotations

from array import array
from itertools import accumulate

__all__ = ["BLOCK_LINES", "LineBlock", "TextSnapshot"]

BLOCK_LINES = 1024
"""Number of completed lines packed into one storage block."""


class LineBlock:
    """`BLOCK_LINES` completed lines packed in one string with an offset array.

    Parameters
    ----------
    lines : list of str
        The lines; none may contain a newline.
    """

    __slots__ = ("offsets", "text")

    def __init__(self, lines: list[str]) -> None:
        self.text = "\n".join(lines)
        offsets = array("L", [0])
        offsets.extend(accumulate(len(line) + 1 for line in lines))
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, index: int) -> str:
        """Return line `index` of the block.

        Parameters
        ----------
        index : int
            Line number within the block.

        Returns
        -------
        str
            The line.
        """
        offsets = self.offsets
        return self.text[offsets[index] : offsets[index + 1] - 1]


class TextSnapshot:
    """An immutable view of the lines of a `TerminalText` at one moment.

    A snapshot shares the (immutable) packed blocks with the interpreter, so it is cheap to
    take and safe to read from another thread while the interpreter goes on.

    Parameters
    ----------
    blocks : tuple of LineBlock
        Packed completed lines.
    done : tuple of str
        Completed lines not packed yet.
    live : tuple of str
        The live lines (that may still change), trailing empty row removed.
    omitted : int
        Number of lines dropped before the first retained one.
    max_width : int
        Widest line, in columns (SGR codes excluded).
    completed : int
        Number of retained lines that can no longer change.
    """

    __slots__ = ("_block_lines", "_blocks", "_done", "_live", "completed", "max_width", "omitted")

    def __init__(
        self,
        blocks: tuple[LineBlock, ...],
        done: tuple[str, ...],
        live: tuple[str, ...],
        omitted: int,
        max_width: int,
        completed: int,
    ) -> None:
        self._blocks = blocks
        self._done = done
        self._live = live
        self._block_lines = len(blocks) * BLOCK_LINES
        self.omitted = omitted
        self.max_width = max_width
        self.completed = completed

    @property
    def line_count(self) -> int:
        """Number of retained lines."""
        return self._block_lines + len(self._done) + len(self._live)

    def __len__(self) -> int:
        return self.line_count

    def get_line(self, index: int) -> str:
        """Return one retained line.

        Parameters
        ----------
        index : int
            0-based index among the retained lines (the first retained line is the one after
            the `omitted` dropped ones).

        Returns
        -------
        str
            The line, possibly with SGR sequences.

        Raises
        ------
        IndexError
            When `index` is out of range.
        """
        if index < 0:
            raise IndexError(index)
        if index < self._block_lines:
            return self._blocks[index // BLOCK_LINES].get(index % BLOCK_LINES)
        index -= self._block_lines
        if index < len(self._done):
            return self._done[index]
        return self._live[index - len(self._done)]

    @property
    def lines(self) -> list[str]:
        """All retained lines, as a new list."""
        out: list[str] = []
        for block in self._blocks:
            out.extend(block.text.split("\n"))
        out.extend(self._done)
        out.extend(self._live)
        return out
