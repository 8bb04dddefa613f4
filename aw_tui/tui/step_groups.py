"""Groups of the step table: the members of a ``foreach`` step, folded into one row.

A group is a run of consecutive rows whose identities share a step name and carry an item
key (``detect[206401]``, ``detect[206402]``...: :attr:`aw_tui.tui.step_rows.StepRow.identity`).
The table shows a folded group as one row with the members' counts per state; its display
list (:func:`display_order`) holds a row's index for a step and ``~g`` (a negative number)
for the header of group ``g``.

Nothing here imports Textual: the counts are kept up to date one row at a time
(:meth:`GroupIndex.replace`), so a row that changes in a group of 100,000 members costs the
same as in a group of 3.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from aw_tui.tui.step_rows import StepRow, display_status, status_symbol

__all__ = [
    "GROUP_PRIORITY",
    "GroupIndex",
    "StepGroup",
    "display_order",
    "has_label",
    "split_identity",
    "step_label",
]

GROUP_PRIORITY: tuple[str, ...] = (
    "running", "error", "interrupted", "unknown", "stale", "pending", "unchecked", "warn",
    "success", "skipped",
)
"""The display statuses from the most to the least pressing: a group shows the first one
any member has (one failed member of 10,000 makes the group's status ``error``)."""

_OK = ("success", "warn")
_UNNAMED = re.compile(r"steps\[\d+\]")


def split_identity(identity: str) -> tuple[str, str]:
    """Split a step identity into its step name and item key.

    Parameters
    ----------
    identity : str
        ``name[key]`` for a member of a ``foreach`` step, ``name`` for another step
        (``steps[N]`` for the N-th ``[[steps]]`` table when it has no ``name``:
        :attr:`aw_tui.project.model.ExpandedStep.identity`), or a step id (a pipeline built
        in a script).

    Returns
    -------
    tuple of str
        (name, key); the key is empty when the step has none.

    Examples
    --------
    >>> split_identity("detect[206401]")
    ('detect', '206401')
    >>> split_identity("astrometry")
    ('astrometry', '')
    >>> split_identity("steps[3]"), split_identity("steps[3][f[1].fits]")
    (('steps[3]', ''), ('steps[3]', 'f[1].fits'))
    """
    unnamed = _UNNAMED.match(identity)
    base = unnamed.group(0) if unnamed else ""
    rest = identity[len(base):]
    if rest.endswith("]"):
        name, bracket, key = rest[:-1].partition("[")
        if bracket and not (base and name):
            return base + name, key
    return identity, ""


def has_label(identity: str) -> bool:
    """Whether a step with this identity has a name to show (:func:`step_label`): not a
    script step's (its id) nor an unnamed ``[[steps]]`` table's without an item."""
    return bool(identity) and not identity.isdigit() and not (
        identity.startswith("steps[") and _UNNAMED.fullmatch(identity))


def step_label(row: StepRow) -> str:
    """The name a row shows: ``detect · 206401`` for a member, the step name otherwise
    (nothing for a step of a script's pipeline, whose identity is its id, or for a
    ``[[steps]]`` table without a name, whose identity is its place in the file)."""
    if row.identity == str(row.step_id):
        return ""
    name, key = split_identity(row.identity)
    if _UNNAMED.fullmatch(name):  # a [[steps]] table without a name: its item, if any
        return key
    return f"{name} · {key}" if key else name


@dataclass
class StepGroup:
    """The members of one ``foreach`` step: rows ``start`` to ``stop - 1`` of the table.

    Parameters
    ----------
    name : str
        The step name the members share.
    start, stop : int
        The first member's row index and one past the last's.
    counts : collections.Counter
        Members per display status (:func:`aw_tui.tui.step_rows.display_status`).
    duration : float
        The members' durations added up (seconds).
    timed : int
        How many members have a duration.
    """

    name: str
    start: int
    stop: int
    counts: Counter[str] = field(default_factory=Counter)
    duration: float = 0.0
    timed: int = 0

    @property
    def size(self) -> int:
        """How many members the group has."""
        return self.stop - self.start

    @property
    def status(self) -> str:
        """The most pressing display status of a member (:data:`GROUP_PRIORITY`)."""
        for status in GROUP_PRIORITY:
            if self.counts.get(status):
                return status
        return next(iter(self.counts), "pending")

    def summary(self) -> str:
        """The counts the folded row shows: ``3/3 ✔``, ``1/3 ✔  1 ▶  1 ·``...

        The members that succeeded (with or without warnings) over all members, then how
        many are in each other state, the most pressing first.
        """
        return "  ".join(part for part, _ in self.summary_parts())

    def summary_parts(self) -> list[tuple[str, str]]:
        """The parts of :meth:`summary`, each with the status it counts."""
        done = sum(self.counts.get(status, 0) for status in _OK)
        parts = [(f"{done}/{self.size} {status_symbol('success')}", "success")]
        for status in GROUP_PRIORITY:
            count = self.counts.get(status, 0)
            if count and status != "success":
                parts.append((f"{count} {status_symbol(status)}", status))
        return parts

    def add(self, row: StepRow, sign: int = 1) -> None:
        """Count a member in (``sign=1``) or out (``sign=-1``)."""
        self.counts[display_status(row)] += sign
        if row.duration is not None:
            self.duration += sign * row.duration
            self.timed += sign


class GroupIndex:
    """The groups of a list of rows, and which group each row belongs to.

    Parameters
    ----------
    rows : sequence of StepRow
        The table's rows, in order.
    """

    def __init__(self, rows: Sequence[StepRow]) -> None:
        self.groups: list[StepGroup] = []
        self._starts: list[int] = []  # each group's first row index, ascending
        # The group name of each row ("" for none), as split_identity gives it but without
        # a call per row (100,000 rows: 0.02 s instead of 0.3 s).
        names = [
            "" if not identity.endswith("]")
            else identity.partition("[")[0] if not identity.startswith("steps[")
            else self._unnamed_group(identity)
            for identity in [row.identity for row in rows]
        ]
        start = 0
        for name, run in groupby(names):
            size = len(list(run))
            if name and size > 1:
                self._add_group(rows, name, start, start + size)
            start += size

    @staticmethod
    def _unnamed_group(identity: str) -> str:
        """The group name of a member of a ``[[steps]]`` table without a name, or ""."""
        name, key = split_identity(identity)
        return name if key else ""

    def _add_group(self, rows: Sequence[StepRow], name: str, start: int, stop: int) -> None:
        group = StepGroup(name, start, stop)
        self.groups.append(group)
        self._starts.append(start)
        members = rows[start:stop]
        counts = Counter(row.status for row in members)
        warned = sum(1 for row in members if row.status == "success" and (  # display_status
            row.verdict == "warn" or row.warnings)) if counts.get("success") else 0
        if warned:
            counts["success"] -= warned
            counts["warn"] = warned
        durations = [row.duration for row in members if row.duration is not None]
        group.duration, group.timed = float(sum(durations)), len(durations)
        group.counts = +counts  # no zero counts

    def group_of(self, position: int) -> int | None:
        """The group number of row ``position``, None for a step in no group."""
        number = bisect_right(self._starts, position) - 1
        if number >= 0 and position < self.groups[number].stop:
            return number
        return None

    def replace(self, position: int, old: StepRow, new: StepRow) -> int | None:
        """Count a member's new row instead of its old one; return its group number."""
        number = self.group_of(position)
        if number is not None:
            group = self.groups[number]
            group.add(old, -1)
            group.add(new)
        return number

    def tags(self, rows: Sequence[StepRow], number: int) -> list[str]:
        """The tags every member of a group has (in the first member's order)."""
        group = self.groups[number]
        common = set(rows[group.start].tags)
        for position in range(group.start + 1, group.stop):
            if not common:
                break
            common.intersection_update(rows[position].tags)
        return [tag for tag in rows[group.start].tags if tag in common]

    def representative(self, rows: Sequence[StepRow], number: int) -> int:
        """The row index a folded group stands for: its first member in the most pressing
        state (the running one, else a failed one...), so the output and details of a
        folded group show what needs attention."""
        group = self.groups[number]
        wanted = group.status
        for position in range(group.start, group.stop):
            if display_status(rows[position]) == wanted:
                return position
        return group.start


def display_order(count: int, index: GroupIndex, unfolded: Container[str]) -> list[int]:
    """The rows the table shows, in order, groups folded unless named in ``unfolded``.

    Parameters
    ----------
    count : int
        How many rows there are.
    index : GroupIndex
        Their groups.
    unfolded : container of str
        The names of the groups shown member by member (under their header).

    Returns
    -------
    list of int
        A row index per step shown and ``~g`` for the header of group ``g``.
    """
    order: list[int] = []
    position = 0
    for number, group in enumerate(index.groups):
        order.extend(range(position, group.start))
        order.append(~number)
        if group.name in unfolded:
            order.extend(range(group.start, group.stop))
        position = group.stop
    order.extend(range(position, count))
    return order
