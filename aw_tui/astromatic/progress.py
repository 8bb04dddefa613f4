"""Progress inside a running tool step, read from the tool's raw output.

The AstrOmatic tools show what they are doing as ``ESC[1M> message`` lines on stderr
(deleted and rewritten in place on a terminal), and the run directory keeps those bytes in
``steps/<id>.out``. :class:`ProgressParser` reads them (in pieces, as they arrive) and
keeps the newest :class:`Progress`: the stage, and the fraction of it done when the
message counts (``Resampling line: 5720 / 8887`` -> 64 %). What each tool prints beyond
that is in its :class:`aw_tui.astromatic.registry.ProgressSpec` (SExtractor's
``Line:  250`` gets its total from the image height, a part is a file or an extension).
:class:`ProgressFile` follows one output file with small reads; :class:`ProgressTracker`
follows the running steps' files. ``docs/progress.md`` says which lines give what.

No Textual here: the TUI and ``--batch`` both show it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from aw_tui.astromatic.registry import ProgressSpec, ToolSpec, lookup

__all__ = ["Progress", "ProgressFile", "ProgressParser", "ProgressTracker"]

_ESC_ANY = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BANNER = re.compile(r"^-{5} (?P<name>.+?) \d[\w.\-]* started on ")
_COUNT = re.compile(r"(\d+)\s*/\s*(\d+)")
_PATH = re.compile(r"\S*/([^\s/]+)")
_DONE = re.compile(r"^> All done\b")
_LINE_WORDS = re.compile(r"(?:\s+at)?\s+line\s*$")
_STAGE_CHARS = 40
_BUFFER = 64 * 1024  # a longer line than this is no progress message
_MARK = b"\x1b[1M"  # starts a progress message (the tools' "delete line")
_NO_PLAIN_TEXT = (b"", b"\x1b[1A")  # what precedes a message on a line of its own


@dataclass(frozen=True)
class Progress:
    """Where a running tool is.

    Attributes
    ----------
    stage : str
        What it does now (``Resampling``, ``Solving the global astrometry matrix``).
    fraction : float or None
        The part of the stage done, 0 to 1 (None: the message has no count).
    part, parts : int or None
        Which part of the work (file, extension) and of how many (None: unknown).
    part_word : str
        What a part is (``file``, ``ext``).
    tool : str
        The tool's code (``SWarp``), or empty when its banner was not seen.
    """

    stage: str
    fraction: float | None = None
    part: int | None = None
    parts: int | None = None
    part_word: str = ""
    tool: str = ""

    @property
    def percent(self) -> int | None:
        """The fraction as a whole percentage (never 100 before the stage is done)."""
        if self.fraction is None:
            return None
        value = int(self.fraction * 100)
        return 100 if self.fraction >= 1 else min(value, 99)

    def label(self) -> str:
        """The stage and the part, e.g. ``Resampling (file 2)``, ``Scanning (ext 2/4)``."""
        if self.part is None or not self.part_word:
            return self.stage
        of = f"/{self.parts}" if self.parts else ""
        return f"{self.stage} ({self.part_word} {self.part}{of})"

    def text(self) -> str:
        """One line: the percentage (when known) and the label, e.g. ``64% Resampling``."""
        percent = self.percent
        return f"{percent}% {self.label()}" if percent is not None else self.label()


def _stage_name(message: str) -> str:
    """A stage named by a message: paths cut to their file names, ``...`` dropped."""
    text = _PATH.sub(r"\1", message)
    text = " ".join(text.split()).rstrip(". ")
    return text if len(text) <= _STAGE_CHARS else text[: _STAGE_CHARS - 1] + "…"


def _message_text(text: str) -> str:
    """A message as the tools print it after ``ESC[1M`` (``> Line:  250``), plain."""
    text = _ESC_ANY.sub("", text).strip()
    return text[1:].strip() if text.startswith(">") else text


def _message_of(raw: bytes) -> str:
    """The message of a raw output line (after its last ``ESC[1M``), or empty."""
    mark_at = raw.rfind(_MARK)
    if mark_at < 0:
        return ""
    return _message_text(_decoded(raw[mark_at + len(_MARK):]))


def _decoded(raw: bytes) -> str:
    """Raw output as text: undecodable bytes replaced, carriage returns dropped."""
    return raw.decode("utf-8", "replace").replace("\r", "")


def _counted_stage(message: str, start: int) -> str:
    """The stage of a message with a count at ``start``: the words before the first colon
    (or the count), without a trailing ``line`` (``Resampling line: 3 / 9``)."""
    head = message.split(":", 1)[0] if ":" in message[:start] else message[:start]
    return _stage_name(_LINE_WORDS.sub("", head.strip()))


class ProgressParser:
    """The newest progress in a tool's output, fed in pieces as it arrives.

    Parameters
    ----------
    tool : str or None, optional
        The tool whose output this is, when known beforehand; a ``----- NAME x.y started``
        banner in the output (a step may run several tools) sets it too.
    """

    def __init__(self, tool: str | None = None) -> None:
        self._spec: ToolSpec | None = lookup(tool) if tool else None
        self._rest = b""
        self._skip_line = False
        self._reset_tool_state()

    def _reset_tool_state(self) -> None:
        self.progress: Progress | None = None
        """The newest progress (None: nothing seen yet)."""
        self._total: int | None = None
        self._part: int | None = None
        self._parts: int | None = None
        self._counted_parts = 0

    @property
    def tool(self) -> str:
        """The tool's code, or empty."""
        return self._spec.code if self._spec else ""

    def feed(self, data: bytes) -> Progress | None:
        """Read the next bytes of the output; return the newest progress."""
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        if len(self._rest) > _BUFFER:
            self._rest, self._skip_line = b"", True
        # Only the last message of a piece can be the newest progress: a message sets
        # `progress` from the state the plain lines before it left, and nothing else, so
        # each earlier one is replaced by it. Their lines are read for plain text only, and
        # a line that is nothing but a message (the bulk of a tool's output) is passed over
        # undecoded: a flood's tail costs a scan, not a parse, of each line.
        last_message = len(lines) - 1
        while last_message >= 0 and not _message_of(lines[last_message]):
            last_message -= 1
        for index, raw in enumerate(lines):
            if self._skip_line:  # the end of a line whose start was not read
                self._skip_line = False
                continue
            if index < last_message:
                mark_at = raw.rfind(_MARK)
                if mark_at >= 0 and raw[:mark_at] in _NO_PLAIN_TEXT:
                    continue
            self._line(_decoded(raw), message=index >= last_message)
        return self.progress

    def skip(self) -> None:
        """Bytes are left out before the next :meth:`feed`: its first line is partial."""
        self._rest = b""
        self._skip_line = True

    def _line(self, line: str, *, message: bool = True) -> None:
        """One line of output: its plain text, then its message (when `message`: a later
        one replaces it otherwise)."""
        before, mark, text = line.rpartition("\x1b[1M")
        plain = _ESC_ANY.sub("", before if mark else line).strip()
        if plain:
            self._plain(plain)
        if mark and message:
            text = _message_text(text)
            if text:
                self._message(text)

    def _plain(self, line: str) -> None:
        """An ordinary output line: a banner, a part, a total, the end."""
        banner = _BANNER.match(line)
        if banner:
            self._spec = lookup(banner["name"]) or self._spec
            self._reset_tool_state()
            return
        if _DONE.match(line):
            self.progress = Progress("done", 1.0, tool=self.tool)
            return
        spec = self._spec.progress if self._spec else ProgressSpec()
        if spec.part:
            found = re.search(spec.part, line)
            if found:
                self._new_part(found)
                return
        if spec.part_end and re.search(spec.part_end, line):
            self._part = self._parts = None
            return
        if spec.total:
            found = re.search(spec.total, line)
            if found:
                self._total = int(found["total"])

    def _new_part(self, found: re.Match[str]) -> None:
        self._total = None
        groups = found.re.groupindex
        if "index" in groups:
            if found["index"]:
                self._part, self._parts = int(found["index"]), int(found["of"])
            else:
                self._part = self._parts = None
        else:
            self._counted_parts += 1
            self._part, self._parts = self._counted_parts, None

    def _message(self, text: str) -> None:
        """A progress message (``> text`` after ``ESC[1M``)."""
        spec = self._spec.progress if self._spec else ProgressSpec()
        stage, fraction = None, None
        for pattern, name in spec.counts:
            found = re.search(pattern, text)
            if found:
                done = int(found["done"])
                total = found.groupdict().get("total")
                total = int(total) if total else self._total
                stage = name
                fraction = min(done / total, 1.0) if total else None
                break
        if stage is None:
            counts = [c for c in _COUNT.finditer(text) if int(c[2]) > 0]
            if counts:
                last = counts[-1]
                stage = _counted_stage(text, counts[0].start())
                fraction = min(int(last[1]) / int(last[2]), 1.0)
            else:
                stage = _stage_name(text)
        part_word = spec.part_word if self._part is not None else ""
        self.progress = Progress(stage, fraction, self._part, self._parts, part_word,
                                 self.tool)


class ProgressFile:
    """Follow one output file with small reads and keep its newest progress.

    Each :meth:`poll` reads what was added since the last one; when more than
    `max_read` bytes were added, only the first `head` bytes (once: the banner and the
    headers) and the last `tail` bytes are read.

    Parameters
    ----------
    path : str
        ``steps/<id>.out``; it may not exist yet.
    tool : str or None, optional
        The tool, when known (the banner tells otherwise).
    """

    def __init__(self, path: str, tool: str | None = None, *, head: int = 16 * 1024,
                 tail: int = 16 * 1024, max_read: int = 256 * 1024) -> None:
        self.path = path
        self.tool = tool
        self.head, self.tail, self.max_read = head, tail, max_read
        self._parser = ProgressParser(tool)
        self._offset = 0
        self._ident: tuple[int, int] | None = None
        self.bytes_read = 0
        """Bytes read so far (for tests: a flood is not read whole)."""

    @property
    def progress(self) -> Progress | None:
        """The newest progress read."""
        return self._parser.progress

    def poll(self) -> Progress | None:
        """Read what was added; return the newest progress (None: none yet)."""
        try:
            with open(self.path, "rb") as handle:
                info = os.fstat(handle.fileno())
                ident = (info.st_dev, info.st_ino)
                if ident != self._ident or info.st_size < self._offset:  # replaced, truncated
                    self._ident, self._offset = ident, 0
                    self._parser = ProgressParser(self.tool)
                size = info.st_size
                if size - self._offset > self.max_read:
                    if self._offset == 0:
                        self._parser.feed(self._read(handle, 0, self.head))
                    self._parser.skip()
                    self._offset = max(size - self.tail, self._offset)
                if size > self._offset:
                    self._parser.feed(self._read(handle, self._offset, size - self._offset))
                    self._offset = size
        except FileNotFoundError:  # not started yet, or removed for a rerun
            self._ident, self._offset = None, 0
            self._parser = ProgressParser(self.tool)
        except OSError:
            pass
        return self._parser.progress

    def _read(self, handle: Any, offset: int, count: int) -> bytes:
        handle.seek(offset)
        data = handle.read(count)
        self.bytes_read += len(data)
        return data


class ProgressTracker:
    """The progress of the running steps, each from its output file.

    :meth:`poll` is given the running steps' output files; it follows those and forgets
    the others (a step that ended).
    """

    def __init__(self) -> None:
        self._files: dict[int, ProgressFile] = {}

    def poll(self, outputs: dict[int, str]) -> dict[int, Progress]:
        """Read the output files of the running steps (``step id -> path``).

        Returns
        -------
        dict
            step id -> its newest progress (steps without any are left out).
        """
        for step_id in list(self._files):
            if step_id not in outputs or self._files[step_id].path != outputs[step_id]:
                del self._files[step_id]
        found: dict[int, Progress] = {}
        for step_id, path in outputs.items():
            follower = self._files.setdefault(step_id, ProgressFile(path))
            progress = follower.poll()
            if progress is not None:
                found[step_id] = progress
        return found
