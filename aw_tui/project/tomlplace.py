"""Change a tomlkit document in place, so that the rest of the file reads as before.

:mod:`aw_tui.project.fileedit` sets and removes keys of a project file with these helpers.
tomlkit keeps every comment, blank line and value as written; what it does not do is place a
*new* key where a person would: it appends after the comments and blank lines that end a
table, and those belong to the next ``[header]`` (``# step2: ...`` above ``[[steps]]``). So:

- a new key of a table goes right after the table's last ``key = value`` line;
- a new table goes after its parent's last table, and the comments and blank lines that
  ended the parent move after it, so they stay above the header they describe;
- a removed table leaves those comments above the header that follows it.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import (
    AoT,
    Comment,
    InlineTable,
    Item,
    KeyType,
    Null,
    SingleKey,
    Table,
    Whitespace,
)

__all__ = ["TomlEditor", "delete_key", "is_table", "quoted_key"]


def quoted_key(key: str) -> SingleKey:
    """``key`` as a TOML key that is always written in double quotes (``"206401"``)."""
    return SingleKey(key, t=KeyType.Basic)


def is_table(value: Any) -> bool:
    """Whether ``value`` is a table or an inline table of a tomlkit document."""
    return isinstance(value, (Table, InlineTable)) or (
        isinstance(value, dict) and not isinstance(value, Item))


def _body(table: Any) -> list[tuple[Any, Item]] | None:
    """The body (entries in file order) of a ``[table]``, or None for anything else."""
    return table.value.body if isinstance(table, Table) else None


def _last_rendered(table: Any) -> Any:
    """The table written last in the file among ``table`` and its sub-tables."""
    while True:
        body = _body(table)
        if body is None:
            return table
        last = next(((k, v) for k, v in reversed(body) if k is not None), None)
        if last is None or not isinstance(last[1], Table) or last[0].is_dotted():
            return table
        table = last[1]


def _detach_trailer(table: Any) -> list[Item]:
    """Take the comments and blank lines that end ``table``'s last written table (they
    precede the next header) out of the document; return them in order."""
    body = _body(_last_rendered(table))
    if body is None:
        return []
    trailer: list[Item] = []
    for index in range(len(body) - 1, -1, -1):
        key, item = body[index]
        if key is not None or not isinstance(item, (Whitespace, Comment, Null)):
            break
        if not isinstance(item, Null):
            trailer.insert(0, item)
        body[index] = (None, Null())  # in place: keyless entries are not indexed
    return trailer


def _attach_trailer(table: Any, trailer: list[Item]) -> None:
    """Put ``trailer`` back at the end of ``table``'s last written table."""
    last = _last_rendered(table)
    for item in trailer:
        last.add(item)


def _insert_value(table: Any, key: Any, item: Item) -> None:
    """Add ``key = item`` to ``table`` right after its last ``key = value`` line."""
    body = _body(table)
    if body is None:
        table[key] = item
        return
    index = 0
    for position, (entry_key, entry) in enumerate(body):
        if entry_key is not None and not isinstance(entry, (Table, AoT)):
            index = position + 1
    if index >= len(body):
        table.append(key, item)
        return
    # tomlkit has no public way to insert at a position; Container._insert_at is what its
    # own append uses for the same purpose. Without it, append (after the comments).
    insert_at = getattr(table.value, "_insert_at", None)
    if insert_at is None:  # pragma: no cover - another tomlkit
        table.append(key, item)
    else:
        insert_at(index, key, item)


def _append_table(parent: Any, key: Any, table: Table) -> None:
    """Add the sub-table ``key`` after ``parent``'s last table, keeping the comments that
    ended ``parent`` above the header that follows."""
    trailer = _detach_trailer(parent)
    parent.append(key, table)
    _attach_trailer(parent, trailer)


class TomlEditor:
    """Sets keys of one tomlkit document, placing what is new as a person would.

    Call :meth:`finish` after the last change: it gives the tables made here their blank
    line above (those that write a ``[header]``) or none (those that only prefix the
    headers of their sub-tables).
    """

    def __init__(self) -> None:
        self.created: list[Table] = []

    def to_item(self, value: Any, inline: bool = False) -> Item:
        """A tomlkit item for a plain value: a dict becomes a ``[table]`` (``inline`` or
        empty: an inline table), a list an array (its tables inline), anything else
        ``tomlkit.item``."""
        if isinstance(value, dict):
            if inline or not value:
                table: Any = tomlkit.inline_table()
                for key, sub in value.items():
                    table[key] = self.to_item(sub, inline=True)
                return table
            table = tomlkit.table()
            self.created.append(table)
            for key, sub in value.items():  # plain values first: they belong under the header
                if not isinstance(sub, dict) or not sub:
                    table.add(key, self.to_item(sub, inline=True))
            for key, sub in value.items():
                if isinstance(sub, dict) and sub:
                    table.add(key, self.to_item(sub))
            return table
        if isinstance(value, (list, tuple)):
            array = tomlkit.array()
            for sub in value:
                array.append(self.to_item(sub, inline=True))
            return array
        return tomlkit.item(value)

    def ensure_table(self, parent: Any, keys: list[Any]) -> Any:
        """The table at ``keys`` under ``parent``, made (empty) where missing.

        Raises
        ------
        KeyError
            When a key on the way holds something else than a table.
        """
        table = parent
        for key in keys:
            name = key.key if isinstance(key, SingleKey) else key
            if name in table:
                found = table[name]
                if not is_table(found):
                    raise KeyError(name)
                table = found
                continue
            if isinstance(table, Table):
                new: Any = tomlkit.table()
                self.created.append(new)
                _append_table(table, key, new)
            else:
                table[key] = tomlkit.inline_table()
            table = table[name]
        return table

    def set_key(self, table: Any, key: str, value: Any) -> None:
        """Set ``key`` of ``table`` to the plain ``value``, keeping the line's comment.

        A value that replaces another keeps its place (a table that replaces a plain value
        is written inline there); a new key goes after the last ``key = value`` line, a new
        table after the last sub-table.
        """
        inline = not isinstance(table, Table)
        if key in table:
            if isinstance(table[key], Table):
                delete_key(table, key)
            else:
                table[key] = self.to_item(value, inline=True)
                return
        item = self.to_item(value, inline=inline)
        if isinstance(item, Table):
            _append_table(table, key, item)
        else:
            _insert_value(table, key, item)

    def finish(self) -> None:
        """A blank line above each new ``[header]``, none above a table without one."""
        for table in self.created:
            table.trivia.indent = "" if table.is_super_table() else "\n"


def _drop_blank_lines_before(parent: Table, position: int) -> None:
    """Remove the blank lines written just above the header of ``parent``'s entry at
    ``position`` (those that separated it from what precedes; comments stay)."""
    body = parent.value.body
    index = position - 1
    while index >= 0 and body[index][0] is None and isinstance(body[index][1],
                                                                 (Whitespace, Null)):
        body[index] = (None, Null())
        index -= 1
    if index < 0 or body[index][0] is None or not isinstance(body[index][1], Table):
        return
    last = _body(_last_rendered(body[index][1])) or []
    for at in range(len(last) - 1, -1, -1):
        key, item = last[at]
        if key is not None or not isinstance(item, (Whitespace, Null)):
            break
        last[at] = (None, Null())


def delete_key(table: Any, key: str) -> None:
    """Remove ``key`` from ``table``; the comments that ended a removed ``[table]`` stay
    above the header that followed it, without doubling the blank line above it."""
    old = table[key]
    if not isinstance(old, Table) or not isinstance(table, Table):
        del table[key]
        return
    trailer = _detach_trailer(old)
    body = table.value.body
    names = [k.key if k is not None else None for k, _ in body]
    position = max(i for i, name in enumerate(names) if name == key)
    if not trailer or isinstance(trailer[0], Whitespace):
        _drop_blank_lines_before(table, position)
    following = [v for k, v in body[position + 1:] if k is not None and isinstance(v, Table)]
    del table[key]
    if not following:
        _attach_trailer(table, trailer)
        return
    header = following[0]
    while header.is_super_table() and not any(
            k is not None and not isinstance(v, (Table, AoT)) for k, v in header.value.body):
        children = [v for k, v in header.value.body if k is not None and isinstance(v, Table)]
        if not children:
            break
        header = children[0]
    header.trivia.indent = "".join(item.as_string() for item in trailer) + header.trivia.indent
