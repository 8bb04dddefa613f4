"""The results screen (``R``): one row per step of a group, outliers marked, sortable.

The rows come from `aw_tui.report.results.results` (the journal only: no pickle). The group
is the selected step's label (the members of a ``foreach`` share it); ``a`` shows every step.
Each numeric column also gets a `Sparkline` of its values in the order shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static

from aw_tui.base.text import inert
from aw_tui.tui.screens import shown

__all__ = ["GroupResults", "ResultsScreen", "group_results"]

#: Columns never shown (the label is the group; the rest are long lists as text).
HIDDEN = {"label", "extensions", "fields", "groups", "inputs", "catalogs", "first_warning"}
#: Longest text shown in a cell.
MAX_CELL = 40
_OUTLIER = "_outlier"


@dataclass
class GroupResults:
    """The results of one group, as plain values.

    Parameters
    ----------
    label : str
        The group ('' for every step).
    columns : list of str
        Column names shown.
    rows : list of list
        One list of values per step (None for a missing value).
    outliers : list of set of str
        Per row, the columns whose value is an outlier of the group.
    numeric : list of str
        The columns holding numbers (those get a sparkline).
    """

    label: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    outliers: list[set[str]] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)


def _value(column: Any, i: int) -> Any:
    if getattr(column, "mask", None) is not None and bool(column.mask[i]):
        return None
    value = column[i]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def group_results(table: Any, label: str | None) -> GroupResults:
    """The rows of one group of a results table (every row with `label` None).

    Parameters
    ----------
    table : astropy.table.Table
        From `aw_tui.report.results.results`.
    label : str or None
        The group's label.

    Returns
    -------
    GroupResults
        Its columns with at least one value, rows, outliers and numeric columns.
    """
    names = list(table.colnames)
    members = [i for i in range(len(table))
               if label is None or str(table["label"][i]) == label]
    flags = {name[: -len(_OUTLIER)] for name in names if name.endswith(_OUTLIER)}
    columns, numeric = [], []
    for name in names:
        if name in HIDDEN or name.endswith(_OUTLIER):
            continue
        values = [_value(table[name], i) for i in members]
        present = [v for v in values if v is not None and v != ""]
        if not present:
            continue
        if all(isinstance(v, str) for v in present) and max(len(v) for v in present) > MAX_CELL \
                and name not in ("status", "verdict", "tool", "image", "weight"):
            continue
        columns.append(name)
        if (name not in ("index", "step_id")
                and all(isinstance(v, int | float) and not isinstance(v, bool)
                        for v in present)):
            numeric.append(name)
    rows = [[_value(table[name], i) for name in columns] for i in members]
    outliers = [{name for name in flags if name in columns and bool(table[name + _OUTLIER][i])}
                for i in members]
    return GroupResults(label or "", columns, rows, outliers, numeric)


def cell_text(value: Any, outlier: bool = False) -> Text:
    """A value as a cell: ``n/a`` when missing, numbers right-aligned, outliers marked."""
    if value is None or value == "":
        return Text("n/a", style="dim", justify="right")
    if isinstance(value, float):
        text = Text(f"{value:.4g}", justify="right")
    elif isinstance(value, int) and not isinstance(value, bool):
        text = Text(str(value), justify="right")
    else:
        value = str(value)
        text = Text(inert(value if len(value) <= MAX_CELL else "…" + value[-MAX_CELL:],
                          one_line=True))
    if outlier:
        text.stylize("bold reverse red")
        text.append(" !")
    return text


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (2, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


class ResultsScreen(Screen[None]):
    """One row per step of a group with its summary fields (see the module).

    Parameters
    ----------
    group : GroupResults
        What to show.
    everything : GroupResults or None, optional
        Every step's results, for ``a``.
    """

    BINDINGS = [
        Binding("escape,q,R", "close", "Back"),
        Binding("s", "sort", "Sort by this column"),
        Binding("a", "toggle_all", "Group / all steps"),
    ]

    DEFAULT_CSS = """
    ResultsScreen { layout: vertical; }
    ResultsScreen > #results-title { height: 1; background: $primary-background; }
    ResultsScreen > #results { height: 1fr; }
    ResultsScreen > #sparklines { height: auto; max-height: 40%; }
    ResultsScreen .spark-row { height: 1; }
    ResultsScreen .spark-name { width: 24; }
    ResultsScreen Sparkline { width: 1fr; height: 1; }
    ResultsScreen .spark-range { width: 22; color: $text-muted; }
    ResultsScreen > #results-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, group: GroupResults, everything: GroupResults | None = None) -> None:
        super().__init__()
        self.group = group
        self.everything = everything
        self.shown_group = group
        self.sort_column: str | None = None
        self.sort_reverse = False

    def compose(self) -> ComposeResult:
        yield Static("", id="results-title")
        yield DataTable(id="results", cursor_type="cell", zebra_stripes=True)
        yield VerticalScroll(id="sparklines")
        yield Static("s sort by the cursor's column (again: reverse) · click a header · "
                     "a group/all · esc back", id="results-keys")

    def on_mount(self) -> None:
        self._fill()
        self.query_one("#results", DataTable).focus()

    @property
    def order(self) -> list[int]:
        """The rows' indices in the order shown."""
        group = self.shown_group
        indices = list(range(len(group.rows)))
        if self.sort_column in group.columns:
            col = group.columns.index(self.sort_column)
            indices.sort(key=lambda i: _sort_key(group.rows[i][col]), reverse=self.sort_reverse)
        return indices

    def _fill(self) -> None:
        group = self.shown_group
        what = f"group {group.label}" if group.label else "all steps"
        sort = ""
        if self.sort_column:
            sort = f" · sorted by {self.sort_column}{' (desc)' if self.sort_reverse else ''}"
        marked = sum(1 for flags in group.outliers if flags)
        self.query_one("#results-title", Static).update(
            f"[b]results: {shown(what)}[/b] · {len(group.rows)} step(s) · "
            f"{marked} with outliers (> 5 MAD from the group's median){shown(sort)}")
        table = self.query_one("#results", DataTable)
        table.clear(columns=True)
        for name in group.columns:
            arrow = ("▼" if self.sort_reverse else "▲") if name == self.sort_column else ""
            table.add_column(inert(name, one_line=True) + arrow, key=name)
        for i in self.order:
            table.add_row(*(cell_text(value, name in group.outliers[i])
                            for name, value in zip(group.columns, group.rows[i], strict=True)),
                          key=str(i))
        self._fill_sparklines()

    def _fill_sparklines(self) -> None:
        box = self.query_one("#sparklines", VerticalScroll)
        box.remove_children()
        group = self.shown_group
        order = self.order
        rows = []
        for name in group.numeric:
            col = group.columns.index(name)
            values = [group.rows[i][col] for i in order]
            present = [float(v) for v in values if v is not None]
            if len(present) < 2 or min(present) == max(present):
                continue  # nothing to see in a line
            rows.append(Horizontal(
                Static(inert(name, one_line=True), classes="spark-name"),
                Sparkline([float(v) if v is not None else min(present) for v in values],
                          summary_function=max),
                Static(f"{min(present):.4g} … {max(present):.4g}", classes="spark-range"),
                classes="spark-row"))
        if rows:
            box.mount_all(rows)

    def action_sort(self) -> None:
        """``s``: sort by the column under the cursor (again: the other way)."""
        table = self.query_one("#results", DataTable)
        if not self.shown_group.columns:
            return
        self.sort_by(self.shown_group.columns[table.cursor_column])

    def sort_by(self, name: str) -> None:
        """Sort the rows by a column; sorting by it again reverses the order.

        Parameters
        ----------
        name : str
            The column.
        """
        if self.sort_column == name:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = name, False
        table = self.query_one("#results", DataTable)
        column = table.cursor_column
        self._fill()
        table.move_cursor(column=column)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_toggle_all(self) -> None:
        """``a``: between the group and every step of the run."""
        if self.everything is None:
            return
        self.shown_group = self.everything if self.shown_group is self.group else self.group
        self.sort_column = None
        self._fill()

    def action_close(self) -> None:
        """Back to the steps."""
        self.dismiss(None)
