"""A virtualised table of pipeline steps.

`StepTable` is a `ScrollView` that renders only the rows on screen (the Line API), from a list
of plain `StepRow` objects. Painting 50,000 rows costs the same as painting 50; replacing one
row repaints one line; filtering 50,000 rows takes milliseconds. (Textual's stock `DataTable`
needs seconds for 10,000 rows.)

The members of a ``foreach`` step fold into one row (:mod:`aw_tui.tui.step_groups`), with
their counts per state; ``→``/``l`` or enter unfold it, ``←``/``h`` fold it again, ``+``/``-``
unfold or fold every group. A filter shows the matching members themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.color import Color
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from aw_tui.tui.progress_view import progress_bar
from aw_tui.tui.step_groups import GroupIndex, display_order, has_label, step_label
from aw_tui.tui.step_rows import (
    STATUS_COLORS,
    StepRow,
    display_status,
    format_duration,
    row_search_text,
    status_symbol,
)

__all__ = ["StepTable"]

_START_MARK = "»"
_STATUS_WORD = 11  # len("interrupted")
_DURATION = 6
_BAR = 10  # cells of a running step's progress bar
_SUMMARY = 40  # the summary width that the tags and function columns shrink for
_LABEL = 28  # the widest step name (name · item) shown
_FOLDED, _UNFOLDED = "▸", "▾"
_COLUMNS = ("index", "step_id", "status", "label", "tags", "func", "duration", "summary")
_PRINTABLE = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0))}


@dataclass(frozen=True)
class _Layout:
    """Column widths for one table width (0 means the column is hidden)."""

    width: int
    index: int
    step_id: int
    status: int
    label: int
    func: int
    duration: int
    tags: int
    summary: int


def _fit(text: str, width: int) -> str:
    """Pad or truncate (with an ellipsis) `text` to exactly `width` cells.

    Parameters
    ----------
    text : str
        Single-line text.
    width : int
        Target width.

    Returns
    -------
    str
        The fitted text.
    """
    if len(text) <= width:
        return text.ljust(width)
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"



class _Positions:
    """step id -> index in the table's rows: the index itself for a row whose id is its
    place (most: no dict of 100,000 ints), a dict for the others."""

    def __init__(self, rows: list[StepRow]) -> None:
        self._rows = rows
        self._other = {row.step_id: i for i, row in enumerate(rows) if row.step_id != i}

    def get(self, step_id: Any, default: int | None = None) -> int | None:
        found = self._other.get(step_id)
        if found is not None:
            return found
        rows = self._rows
        if type(step_id) is int and 0 <= step_id < len(rows) and rows[step_id].step_id == step_id:
            return step_id
        return default

    def __setitem__(self, step_id: int, position: int) -> None:
        if position == step_id:
            self._other.pop(step_id, None)
        else:
            self._other[step_id] = position

    def __delitem__(self, step_id: int) -> None:
        self._other.pop(step_id, None)

class StepTable(ScrollView, can_focus=True):
    """A fast table of steps: start marker, index, id, status, name, tags, function, time,
    summary; the members of a ``foreach`` step folded into one row.

    Parameters
    ----------
    rows : iterable of StepRow, optional
        Initial rows.
    name : str or None, optional
        Widget name.
    id : str or None, optional
        Widget id.
    classes : str or None, optional
        CSS classes.
    disabled : bool, optional
        Whether the widget is disabled.

    Notes
    -----
    The cursor moves with up/down, ``j``/``k``, ``g``/``G`` (home/end), page up/down, and a
    click; each move posts `StepTable.Highlighted`; enter (or a click) posts
    `StepTable.Selected`, or on a folded group unfolds it. Rows are replaced with `set_rows`
    or, one at a time, `update_row`.

    The ``#`` column (the position in the run order) shows only when it differs from a
    step's id somewhere (a run of some tags, steps added): otherwise it says the same.
    """

    BINDINGS: list[BindingType] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("home,g", "cursor_first", "First", show=False),
        Binding("end,G", "cursor_last", "Last", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("enter", "select", "Select", show=False),
        Binding("right,l", "unfold", "Unfold group", show=False),
        Binding("left,h", "fold", "Fold group", show=False),
        Binding("plus", "unfold_all", "Unfold all groups", show=False),
        Binding("minus", "fold_all", "Fold all groups", show=False),
    ]

    COMPONENT_CLASSES = {
        "step-table--header",
        "step-table--group",
        "step-table--cursor",
        "step-table--dim",
        "step-table--start",
    }

    SCOPED_CSS = False  # the NO_COLOR rules below start at the App

    DEFAULT_CSS = """
    StepTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .step-table--header {
            text-style: bold;
            background: $panel;
        }
        & > .step-table--cursor {
            background: $foreground 15%;
        }
        &:focus > .step-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .step-table--dim {
            color: $foreground 50%;
        }
        & > .step-table--group {
            text-style: bold;
        }
        & > .step-table--start {
            color: $warning;
            text-style: bold;
        }
    }
    /* NO_COLOR (colours greyed or dropped) and ANSI themes (terminal colours, which cannot be
       blended): the cursor row is marked with a text style, its colours kept. */
    App:nocolor StepTable > .step-table--cursor, App:ansi StepTable > .step-table--cursor {
        text-style: underline;
    }
    App:nocolor StepTable:focus > .step-table--cursor {
        text-style: bold reverse;
    }
    """

    class Highlighted(Message):
        """The cursor moved to another step.

        Parameters
        ----------
        table : StepTable
            The table.
        step_id : int
            The step under the cursor.
        row : StepRow
            Its row.
        group : str or None, optional
            The name of the folded group under the cursor (the step is the member it stands
            for: its running or failed one...), None on a step's own row.
        """

        def __init__(self, table: StepTable, step_id: int, row: StepRow,
                     group: str | None = None) -> None:
            super().__init__()
            self.table = table
            self.step_id = step_id
            self.row = row
            self.group = group

        @property
        def control(self) -> StepTable:
            """The table that sent the message."""
            return self.table

        def can_replace(self, message: Message) -> bool:
            """A later highlight from the same table supersedes this one."""
            return isinstance(message, StepTable.Highlighted) and message.table is self.table

    class Selected(Message):
        """A step was chosen (enter or click).

        Parameters
        ----------
        table : StepTable
            The table.
        step_id : int
            The chosen step.
        row : StepRow
            Its row.
        """

        def __init__(self, table: StepTable, step_id: int, row: StepRow) -> None:
            super().__init__()
            self.table = table
            self.step_id = step_id
            self.row = row

        @property
        def control(self) -> StepTable:
            """The table that sent the message."""
            return self.table

    def __init__(
        self,
        rows: Iterable[StepRow] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._rows: list[StepRow] = []
        self._position = _Positions(self._rows)  # step id -> index in _rows
        self._haystack: list[str] | None = None
        self._filter_terms: tuple[str, ...] = ()
        # What is shown, in order: indices into _rows, and ~g for the header of group g.
        self._display: Sequence[int] = range(0)
        self._display_pos: dict[int, int] | None = None  # entry of _display -> position
        self._groups = GroupIndex(())
        self._group_number: dict[str, int] = {}
        self._cursor_group_name: str | None = None  # the group whose row has the cursor
        self._unfolded: set[str] = set()  # names of the groups shown member by member
        self._group_tags: dict[int, list[str]] = {}
        self._starts: set[int] = set()  # rows with the start marker (a group's row shows it)
        self._refilter_scheduled = False
        self._cursor = 0
        self._cursor_id: int | None = None
        self._max_index = 0
        self._max_id = 0
        self._max_func = 0
        self._max_label = 0
        self._index_differs = False  # a row whose run position is not its id
        self._max_tags = 0
        self._max_summary = 0
        self._layout: _Layout | None = None
        self._cache: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self._header: Strip | None = None
        self._styles: dict[str, Style] = {}
        self._progress: dict[int, tuple[float | None, str]] = {}
        self.set_rows(rows)

    # ------------------------------------------------------------------ public API

    @property
    def rows(self) -> Sequence[StepRow]:
        """All rows (filtered or not), in order; read only."""
        return self._rows

    @property
    def row_count(self) -> int:
        """Number of rows shown (after the filter)."""
        return len(self._display)

    @property
    def filter_text(self) -> str:
        """The current filter (terms joined by spaces; empty when there is none)."""
        return " ".join(self._filter_terms)

    @property
    def cursor_row(self) -> int:
        """Display position of the cursor (0 is the first row shown)."""
        return self._cursor

    @property
    def cursor_step_id(self) -> int | None:
        """Id of the step under the cursor, None when no row is shown; on a folded group,
        the member it stands for (see `Highlighted`)."""
        if not self._display:
            return None
        entry = self._display[self._cursor]
        if entry < 0:
            return self._cursor_id
        return self._rows[entry].step_id

    @property
    def cursor_step(self) -> StepRow | None:
        """The row under the cursor (on a folded group: the member it stands for), None
        when no row is shown."""
        step_id = self.cursor_step_id
        return None if step_id is None else self.get_row(step_id)

    @property
    def cursor_group(self) -> str | None:
        """The name of the group whose header row has the cursor, None elsewhere."""
        if not self._display:
            return None
        entry = self._display[self._cursor]
        return self._groups.groups[~entry].name if entry < 0 else None

    @property
    def group_names(self) -> list[str]:
        """The names of the groups (``foreach`` steps of two members or more), in order."""
        return [group.name for group in self._groups.groups]

    def is_unfolded(self, name: str) -> bool:
        """Whether group ``name`` shows its members (False: one row for all of them)."""
        return name in self._unfolded

    def set_folded(self, name: str, folded: bool) -> None:
        """Fold (one row) or unfold (a row per member, under the group's row) a group.

        Parameters
        ----------
        name : str
            The group's step name.
        folded : bool
            Fold it (True) or unfold it (False).
        """
        if folded == (name not in self._unfolded):
            return
        if folded:
            self._unfolded.discard(name)
        else:
            self._unfolded.add(name)
        self._apply_filter()

    def get_row(self, step_id: int) -> StepRow | None:
        """Return the row of a step.

        Parameters
        ----------
        step_id : int
            The step id.

        Returns
        -------
        StepRow or None
            Its row, or None when the table has no such step.
        """
        position = self._position.get(step_id)
        return None if position is None else self._rows[position]

    def set_rows(self, rows: Iterable[StepRow]) -> None:
        """Replace all rows (the cursor stays on the same step when it is still there).

        Parameters
        ----------
        rows : iterable of StepRow
            The new rows, in display order.
        """
        self._rows = list(rows)
        self._position = _Positions(self._rows)
        self._haystack = None
        self._max_index = max((row.index for row in self._rows if row.index is not None), default=0)
        self._max_id = max((row.step_id for row in self._rows), default=0)
        self._index_differs = any(row.index != row.step_id for row in self._rows)
        # "detect · 206401" is one cell longer than "detect[206401]" (and for the names of
        # script steps or unnamed tables, shorter): a bound, without parsing 100,000 names.
        identities = [row.identity for row in self._rows]
        named = any(has_label(identity) for identity in identities)
        self._max_label = max(map(len, identities)) + 1 if named else 0
        self._regroup()
        self._starts = {i for i, row in enumerate(self._rows) if row.is_start}
        self._max_func = max((len(row.func) for row in self._rows), default=0)
        self._max_tags = max((len(",".join(row.tags)) for row in self._rows), default=0)
        self._max_summary = max((len(row.summary) for row in self._rows), default=0)
        self._layout = None
        self._apply_filter()

    def update_row(self, step_id: int, row: StepRow) -> None:
        """Replace (or add at the end) the row of one step; repaints only that line.

        Parameters
        ----------
        step_id : int
            The step whose row changes.
        row : StepRow
            Its new row (normally with the same `step_id`).
        """
        position = self._position.get(step_id)
        group = None
        if position is None:
            position = len(self._rows)
            self._rows.append(row)
            if self._haystack is not None:
                self._haystack.append(row_search_text(row))
            if self._groups.groups or "[" in row.identity:  # it may start or join a group
                self._regroup()
                self._schedule_refilter()
        else:
            group = self._groups.replace(position, self._rows[position], row)
            if row.is_start != self._rows[position].is_start and group is not None:
                self._repaint_entry(~group)
            self._rows[position] = row
            if self._haystack is not None:
                self._haystack[position] = row_search_text(row)
            if row.step_id != step_id:
                del self._position[step_id]
        self._position[row.step_id] = position
        if row.is_start:
            self._starts.add(position)
        else:
            self._starts.discard(position)
        self._cache.discard((position, False))
        self._cache.discard((position, True))
        if self._grow_maxima(row):
            self._layout = None
            self._cache.clear()
            self.refresh()
        if self._filter_terms:
            matches = self._matches(position)
            shown = self._display_pos is not None and position in self._display_pos
            if matches != shown:
                self._schedule_refilter()
                return
        elif self._display_pos is None and position >= len(self._display):
            self._display = range(len(self._rows))
            self._update_virtual_size()
        if group is not None:  # the group's row counts it
            self._repaint_entry(~group)
        display_position = self._display_position(position)
        if display_position is not None:
            self.refresh_line(display_position + 1)
            if display_position == self._cursor and step_id != row.step_id:
                self._cursor_id = row.step_id

    def set_filter(self, text: str) -> None:
        """Show only the rows that contain every word of `text`.

        Words are matched, case-insensitively, as substrings of the id, status, function,
        tags and summary. An empty text shows every row.

        Parameters
        ----------
        text : str
            The filter.
        """
        terms = tuple(text.lower().split())
        if terms == self._filter_terms:
            return
        self._filter_terms = terms
        self._apply_filter()

    def set_progress(self, progress: dict[int, tuple[float | None, str]]) -> None:
        """Show the progress of running steps in their summary cells (a bar and a text);
        the steps not in `progress` show their summary again.

        Parameters
        ----------
        progress : dict
            step id -> (fraction done or None, text such as ``64% Resampling (file 2)``).
        """
        changed = {sid for sid in progress.keys() | self._progress.keys()
                   if progress.get(sid) != self._progress.get(sid)}
        self._progress = dict(progress)
        for step_id in changed:
            position = self._position.get(step_id)
            if position is None:
                continue
            self._cache.discard((position, False))
            self._cache.discard((position, True))
            display = self._display_position(position, own_row=True)
            if display is not None:
                self.refresh_line(display + 1)
            group = self._groups.group_of(position)
            if group is not None:  # a folded group's row shows its running member's too
                self._repaint_entry(~group)

    def move_cursor_to_step(self, step_id: int, unfold: bool = False) -> bool:
        """Put the cursor on a step (and scroll to it).

        Parameters
        ----------
        step_id : int
            The step.
        unfold : bool, optional
            When the step is a member of a folded group: unfold the group and put the cursor
            on the step's own row (True), or on the group's row, which then stands for this
            member (False: following a run keeps the groups folded).

        Returns
        -------
        bool
            False when the step is not shown (unknown or filtered out).
        """
        position = self._position.get(step_id)
        if position is None:
            return False
        if unfold and not self._filter_terms:
            number = self._groups.group_of(position)
            if number is not None and self._groups.groups[number].name not in self._unfolded:
                self._unfolded.add(self._groups.groups[number].name)
                self._apply_filter()
        display_position = self._display_position(position)
        if display_position is None:
            return False
        self._move_cursor(display_position, member=step_id)
        return True

    # ------------------------------------------------------------------ actions

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self._move_cursor(self._cursor + 1)

    def action_cursor_first(self) -> None:
        """Move the cursor to the first row."""
        self._move_cursor(0)

    def action_cursor_last(self) -> None:
        """Move the cursor to the last row."""
        self._move_cursor(len(self._display) - 1)

    def action_page_up(self) -> None:
        """Move the cursor one page up."""
        self._move_cursor(self._cursor - self._page_rows())

    def action_page_down(self) -> None:
        """Move the cursor one page down."""
        self._move_cursor(self._cursor + self._page_rows())

    def action_select(self) -> None:
        """Post `Selected` for the step under the cursor; on a folded group, unfold it."""
        name = self.cursor_group
        if name is not None and name not in self._unfolded:
            self.set_folded(name, False)
            return
        row = self.cursor_step
        if row is not None:
            self.post_message(self.Selected(self, row.step_id, row))

    def action_unfold(self) -> None:
        """Unfold the group under the cursor (its members appear under its row)."""
        name = self.cursor_group
        if name is not None:
            self.set_folded(name, False)

    def action_fold(self) -> None:
        """Fold the group under the cursor, or the group of the member under it (the cursor
        goes to the group's row)."""
        if not self._display or self._filter_terms:
            return
        entry = self._display[self._cursor]
        number = ~entry if entry < 0 else self._groups.group_of(entry)
        if number is None:
            return
        name = self._groups.groups[number].name
        member = None if entry < 0 else self._rows[entry].step_id
        self._unfolded.discard(name)
        self._apply_filter()
        header = self._display_pos.get(~number) if self._display_pos else None
        if header is not None:
            self._move_cursor(header, force=True, member=member)

    def action_unfold_all(self) -> None:
        """Unfold every group."""
        self._unfolded.update(self.group_names)
        self._apply_filter()

    def action_fold_all(self) -> None:
        """Fold every group."""
        self._unfolded.clear()
        self._apply_filter()

    # ------------------------------------------------------------------ events

    def on_click(self, event: events.Click) -> None:
        """Move the cursor to the clicked row and select it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        position = int(self.scroll_y) + offset.y - 1
        if 0 <= position < len(self._display):
            event.stop()
            self._move_cursor(position)
            self.action_select()

    def on_mount(self) -> None:
        """Announce the step under the cursor."""
        row = self.cursor_step
        if row is not None:
            self.post_message(self.Highlighted(self, row.step_id, row))

    def on_resize(self, event: events.Resize) -> None:
        """Keep the cursor visible when the table changes size."""
        self._scroll_to_cursor()

    def on_focus(self, event: events.Focus) -> None:
        """Repaint the cursor row in its focused style."""
        self._repaint_cursor()

    def on_blur(self, event: events.Blur) -> None:
        """Repaint the cursor row in its unfocused style."""
        self._repaint_cursor()

    def notify_style_update(self) -> None:
        """Drop rendered lines when the styles (theme, CSS) change."""
        super().notify_style_update()
        self._styles = {}
        self._cache.clear()
        self._header = None

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        """Render one screen line: the header at the top, then the rows.

        Parameters
        ----------
        y : int
            Line of the widget's content area.

        Returns
        -------
        Strip
            The line.
        """
        layout = self._get_layout()
        width = layout.width
        if y == 0:
            if self._header is None:
                self._header = self._render_header(layout)
            return self._header
        position = int(self.scroll_y) + y - 1
        if position >= len(self._display) or position < 0:
            return Strip.blank(width, self.rich_style)
        index = self._display[position]
        cursor = position == self._cursor
        key = (index, cursor)
        strip = self._cache.get(key)
        if strip is None:
            if index < 0:
                strip = self._render_group(~index, layout, cursor)
            else:
                strip = self._render_row(self._rows[index], layout, cursor)
            self._cache[key] = strip
        return strip

    def _style(self, name: str) -> Style:
        """Return (cached) the Rich style of a component class or a status."""
        style = self._styles.get(name)
        if style is None:
            if name.startswith("step-table--"):
                style = self._component_style(name)
            else:
                style = Style.parse(STATUS_COLORS.get(name, "yellow"))
            self._styles[name] = style
        return style

    def _component_style(self, name: str) -> Style:
        """The Rich style of a component class, a translucent background blended.

        A partial component style drops the alpha of ``$foreground 15%``: the unfocused cursor
        then had the text's own colour as background (unreadable when the output pane had the
        focus). A background with alpha is blended here onto the table's background.
        """
        style = self.get_component_rich_style(name, partial=True)
        styles = self.get_component_styles(name)
        base = self.rich_style
        background = Color.from_rich_color(base.bgcolor) if base.bgcolor else None
        if background is None:
            return style
        if styles.has_rule("background") and styles.background.a < 1:
            background = background + styles.background
            style = style + Style(bgcolor=background.rich_color)
        return style

    def _cells(self, layout: _Layout, values: dict[str, str]) -> list[tuple[str, str]]:
        """Return (text, column name) pairs fitted to the layout, separators included."""
        cells: list[tuple[str, str]] = [(_fit(values["mark"], 1), "mark")]
        for column in _COLUMNS:
            width = getattr(layout, column)
            if width <= 0:
                continue
            text = values[column]
            if column in ("index", "step_id", "duration"):
                fitted = text.rjust(width)[:width]
            else:
                fitted = _fit(text, width)
            cells.append((" ", ""))
            cells.append((fitted, column))
        used = sum(len(text) for text, _ in cells)
        if used < layout.width:
            cells.append((" " * (layout.width - used), ""))
        return cells

    def _render_header(self, layout: _Layout) -> Strip:
        """Render the column titles."""
        values = {
            "mark": " ",
            "index": "#",
            "step_id": "id",
            "status": "status" if layout.status > 1 else "s",
            "label": "step",
            "func": "function",
            "duration": "time",
            "tags": "tags",
            "summary": "summary",
        }
        base = self.rich_style + self._style("step-table--header")
        segments = [Segment(text, base) for text, _ in self._cells(layout, values)]
        return Strip(segments, layout.width)

    def _render_row(self, row: StepRow, layout: _Layout, cursor: bool) -> Strip:
        """Render one row."""
        # The word is the step's status; the symbol and colour say "warn" for a success that
        # came with warnings (never a plain tick for it).
        status = display_status(row)
        symbol = status_symbol(status)
        values = {
            "mark": _START_MARK if row.is_start else " ",
            "index": "" if row.index is None else str(row.index),
            "step_id": str(row.step_id),
            "status": f"{symbol} {row.status}" if layout.status > 1 else symbol,
            "label": step_label(row).translate(_PRINTABLE),
            "func": row.func.translate(_PRINTABLE),
            "duration": format_duration(row.duration),
            "tags": ",".join(row.tags).translate(_PRINTABLE),
            "summary": row.summary.translate(_PRINTABLE),
        }
        progress = self._progress.get(row.step_id) if row.status == "running" else None
        bar = ""
        if progress is not None and layout.summary:
            if progress[0] is not None:  # a stage without a count: its name alone
                cells = min(_BAR, max(layout.summary - len(progress[1]) - 1, 4))
                bar = progress_bar(progress[0], cells) + " "  # the text fits, if it can
            values["summary"] = bar + progress[1].translate(_PRINTABLE)
        base = self.rich_style
        if row.index is None:
            base = base + self._style("step-table--dim")
        cursor_style = self._style("step-table--cursor") if cursor else None
        segments = []
        for text, column in self._cells(layout, values):
            style = base
            if column == "status":
                style = style + self._style(status)
            elif column == "summary" and bar:  # the bar in the status colour, then its text
                bar_style = style + self._style(status)
                if cursor_style is not None:
                    bar_style, style = bar_style + cursor_style, style + cursor_style
                segments.append(Segment(text[: len(bar)], bar_style))
                segments.append(Segment(text[len(bar):], style))
                continue
            elif column == "mark" and row.is_start:
                style = style + self._style("step-table--start")
            if cursor_style is not None:
                style = style + cursor_style
            segments.append(Segment(text, style))
        return Strip(segments, layout.width)

    def _render_group(self, number: int, layout: _Layout, cursor: bool) -> Strip:
        """Render the row of a group: its state, name and size, and its members' counts."""
        group = self._groups.groups[number]
        status = group.status
        tags = self._group_tags.get(number)
        if tags is None:
            tags = self._group_tags[number] = self._groups.tags(self._rows, number)
        fold = _UNFOLDED if group.name in self._unfolded else _FOLDED
        word = "success" if status == "warn" else status
        start = any(group.start <= position < group.stop for position in self._starts)
        parts = group.summary_parts()
        running = [(self._position.get(sid, -1), text) for sid, (_, text) in
                   self._progress.items()]
        running = sorted((pos, text) for pos, text in running if group.start <= pos < group.stop)
        if running:  # the first running member's progress, after the counts
            parts.append((running[0][1].translate(_PRINTABLE), "running"))
        values = {
            "mark": _START_MARK if start else " ",
            "index": "",
            "step_id": "",
            "status": (f"{status_symbol(status)} {word}" if layout.status > 1
                       else status_symbol(status)),
            "label": f"{fold} {group.name} ({group.size})".translate(_PRINTABLE),
            "func": self._rows[group.start].func.translate(_PRINTABLE),
            "duration": format_duration(group.duration) if group.timed else "",
            "tags": ",".join(tags).translate(_PRINTABLE),
            "summary": "  ".join(part for part, _ in parts),
        }
        base = self.rich_style + self._style("step-table--group")
        cursor_style = self._style("step-table--cursor") if cursor else None
        segments = []
        for text, column in self._cells(layout, values):
            if column == "mark" and start:
                text_style = base + self._style("step-table--start")
                segments.append(Segment(text, text_style + cursor_style
                                        if cursor_style else text_style))
                continue
            if column == "summary":  # each count in its state's colour: "1 ✘" in red
                start = 0
                for part, part_status in parts:
                    piece = text[start:start + len(part) + 2]
                    start += len(piece)
                    if piece:
                        style = base + self._style(part_status)
                        segments.append(Segment(piece, style + cursor_style
                                                if cursor_style else style))
                text = text[start:]
            style = base + self._style(status) if column == "status" else base
            if cursor_style is not None:
                style = style + cursor_style
            segments.append(Segment(text, style))
        return Strip(segments, layout.width)

    def _get_layout(self) -> _Layout:
        """Return the column widths for the current width (computed when it changes)."""
        width = max(self.scrollable_content_region.width, 1)
        layout = self._layout
        if layout is None or layout.width != width:
            layout = self._compute_layout(width)
            self._layout = layout
            self._cache.clear()
            self._header = None
        return layout

    def _compute_layout(self, width: int) -> _Layout:
        """Share `width` among the columns, shrinking summary and tags first.

        Parameters
        ----------
        width : int
            Available cells.

        Returns
        -------
        _Layout
            The widths.
        """
        index = len(str(self._max_index)) if self._index_differs else 0
        step_id = max(len(str(self._max_id)), 2)
        status = 2 + _STATUS_WORD
        label = min(max(self._max_label, 4), _LABEL) if self._max_label else 0
        func = min(max(self._max_func, 8), 28)
        tags = min(max(self._max_tags, 4), 24) if self._max_tags else 0
        duration = _DURATION
        min_summary = 16

        def summary_width() -> int:
            columns = [index, step_id, status, label, func, duration, tags]
            used = 1 + sum(w + 1 for w in columns if w > 0)
            return width - used - 1

        def shrink(column: int, floor: int, wanted: int) -> int:
            missing = wanted - summary_width()
            return max(floor, column - missing) if missing > 0 and column > floor else column

        # The summary takes the free width; for the summaries (up to _SUMMARY cells) the tags
        # and the function shrink, then the tags go. Then, in order: the status word, the
        # function (it says less than the step's name) and the time go.
        wanted = min(max(self._max_summary, min_summary), _SUMMARY)
        tags = shrink(tags, 8, wanted)
        func = shrink(func, 8 if label else 10, wanted)  # the name says what it runs
        if summary_width() < wanted and label:  # the step's name says more than a few
            tags = 0                                # cells of tags: the summary gets them
        tags = shrink(tags, 10, min_summary)
        if summary_width() < min_summary and tags:
            tags = 0
        if summary_width() < min_summary:
            status = 1
        label = shrink(label, 14, min_summary)
        if label and summary_width() < min_summary and func:
            func = 0
        func = shrink(func, 12, min_summary)
        if summary_width() < 8:
            duration = 0
        label = shrink(label, 8, 8)
        summary = summary_width()
        if summary < 4:
            summary = 0
            fixed = (index, step_id, status, duration, label)
            spare = width - (1 + sum(w + 1 for w in fixed if w))
            func = max(min(func, spare - 1), 0)
        return _Layout(width, index, step_id, status, label, func, duration, tags,
                       max(summary, 0))

    # ------------------------------------------------------------------ internals

    def _grow_maxima(self, row: StepRow) -> bool:
        """Update the column maxima with a new row; True when a column gets wider."""
        changed = False
        if row.index is not None and row.index > self._max_index:
            changed = len(str(row.index)) > len(str(self._max_index))
            self._max_index = row.index
        if row.step_id > self._max_id:
            changed = changed or len(str(row.step_id)) > len(str(self._max_id))
            self._max_id = row.step_id
        if row.index != row.step_id and not self._index_differs:
            changed = self._index_differs = True
        label = len(step_label(row)) if row.identity else 0
        if label > self._max_label:
            changed = changed or self._max_label < _LABEL
            self._max_label = label
        if len(row.func) > self._max_func:
            changed = changed or self._max_func < 28
            self._max_func = len(row.func)
        tags = len(",".join(row.tags))
        if tags > self._max_tags:
            changed = changed or self._max_tags < 24
            self._max_tags = tags
        if len(row.summary) > self._max_summary:
            changed = changed or self._max_summary < _SUMMARY
            self._max_summary = len(row.summary)
        return changed

    def _matches(self, position: int) -> bool:
        """Does row `position` match the filter?"""
        if self._haystack is None:
            self._haystack = [row_search_text(row) for row in self._rows]
        text = self._haystack[position]
        return all(term in text for term in self._filter_terms)

    def _apply_filter(self) -> None:
        """Recompute the rows shown, keep the cursor on its step when possible."""
        self._refilter_scheduled = False
        terms = self._filter_terms
        if not terms and not self._groups.groups:
            self._display = range(len(self._rows))
            self._display_pos = None
        elif not terms:
            self._display = display_order(len(self._rows), self._groups, self._unfolded)
            self._display_pos = {entry: pos for pos, entry in enumerate(self._display)}
        else:
            if self._haystack is None:
                self._haystack = [row_search_text(row) for row in self._rows]
            if len(terms) == 1:
                term = terms[0]
                display = [i for i, text in enumerate(self._haystack) if term in text]
            else:
                display = [
                    i
                    for i, text in enumerate(self._haystack)
                    if all(term in text for term in terms)
                ]
            self._display = display
            self._display_pos = {index: pos for pos, index in enumerate(display)}
        self._cache.clear()
        self._update_virtual_size()
        target = 0
        header = self._group_number.get(self._cursor_group_name or "")
        if header is not None and self._display_pos and ~header in self._display_pos:
            target = self._display_pos[~header]  # the cursor stays on its group's row
        elif self._cursor_id is not None:
            position = self._position.get(self._cursor_id)
            found = None if position is None else self._display_position(position)
            target = min(self._cursor, len(self._display) - 1) if found is None else found
        self._move_cursor(max(target, 0), force=True, member=self._cursor_id)
        self.refresh()

    def _regroup(self) -> None:
        """Find the groups of the rows again (after `set_rows` or a new row)."""
        self._groups = GroupIndex(self._rows)
        self._group_number = {group.name: n for n, group in enumerate(self._groups.groups)}
        self._group_tags = {}
        for group in self._groups.groups:  # the group's row names it: "▸ detect (3)"
            self._max_label = max(self._max_label, len(group.name) + len(str(group.size)) + 5)

    def _display_position(self, position: int, own_row: bool = False) -> int | None:
        """Where row ``position`` is shown: its own line, or (unless ``own_row``) its folded
        group's; None when it is not shown (filtered out)."""
        if self._display_pos is None:
            return position if position < len(self._display) else None
        found = self._display_pos.get(position)
        if found is None and not own_row and not self._filter_terms:
            number = self._groups.group_of(position)
            if number is not None:
                found = self._display_pos.get(~number)
        return found

    def _repaint_entry(self, entry: int) -> None:
        """Render one entry of the display (a row index, or ~g for group g's row) again."""
        self._cache.discard((entry, False))
        self._cache.discard((entry, True))
        if self._display_pos is not None:
            found = self._display_pos.get(entry)
            if found is not None:
                self.refresh_line(found + 1)

    def _schedule_refilter(self) -> None:
        """Re-apply the filter once, after the current batch of updates."""
        if not self._refilter_scheduled:
            self._refilter_scheduled = True
            if self.is_attached:
                self.call_later(self._refilter_if_scheduled)
            else:
                self._apply_filter()

    def _refilter_if_scheduled(self) -> None:
        """Apply a scheduled re-filter."""
        if self._refilter_scheduled:
            self._apply_filter()

    def _update_virtual_size(self) -> None:
        """Set the scrollable height: the header plus the rows shown."""
        self.virtual_size = Size(0, len(self._display) + 1)

    def _page_rows(self) -> int:
        """Rows per page (the header excluded)."""
        return max(self.scrollable_content_region.height - 2, 1)

    def _move_cursor(self, position: int, force: bool = False,
                     member: int | None = None) -> None:
        """Move the cursor to a display position, scroll to it, post `Highlighted`.

        On a group's row the cursor stands for one member: ``member`` when it is one of the
        group's, else the one it stood for when it stays on this row, else the group's most
        pressing member (:meth:`aw_tui.tui.step_groups.GroupIndex.representative`).
        """
        count = len(self._display)
        position = min(max(position, 0), max(count - 1, 0))
        old = self._cursor
        if position != old or force:
            self._cursor = position
            if old < count:
                self._cache.discard((self._display[old], True))
                self.refresh_line(old + 1)
            self.refresh_line(position + 1)
        self._scroll_to_cursor()
        entry = self._display[position] if count else 0
        group = None
        self._cursor_group_name = None
        if count and entry < 0:
            group = self._groups.groups[~entry]
            self._cursor_group_name = group.name
            stays = member if member is not None else (
                self._cursor_id if position == old else None)
            found = None if stays is None else self._position.get(stays)
            if found is None or not group.start <= found < group.stop:
                found = self._groups.representative(self._rows, ~entry)
            new_id: int | None = self._rows[found].step_id
        else:
            new_id = self._rows[entry].step_id if count else None
        if new_id != self._cursor_id:
            self._cursor_id = new_id
            row = None if new_id is None else self.get_row(new_id)
            if row is not None and self.is_mounted:
                self.post_message(self.Highlighted(self, row.step_id, row,
                                                   None if group is None else group.name))

    def _repaint_cursor(self) -> None:
        """Repaint the cursor row (its style depends on focus)."""
        if self._display:
            self._cache.discard((self._display[self._cursor], True))
            self.refresh_line(self._cursor + 1)

    def _scroll_to_cursor(self) -> None:
        """Scroll so that the cursor row is visible below the header."""
        height = self.scrollable_content_region.height - 1
        if height <= 0:
            return
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True, force=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True, force=True)
