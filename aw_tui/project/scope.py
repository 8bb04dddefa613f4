"""Where a value of a project file is evaluated: the items of input sets, the scope that
``{item...}``, ``{outputs...}`` and ``{steps...}`` references see, and one evaluation run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Silent(Exception):
    """A reference to something whose own error is already reported."""


#: Markers of :meth:`Item.lookup` and of the memo of named values (see ``Evaluator.lazy``).
MISSING = object()
BUSY = object()
FAILED = object()


#: The file-name shortcuts of ``{item.X}``, computed from the item's main field, in order.
SHORTCUTS: dict[str, Callable[[str], str]] = {
    "path": lambda main: main,
    "name": os.path.basename,
    "stem": lambda main: os.path.splitext(os.path.basename(main))[0],
    "parent": lambda main: os.path.dirname(main) or ".",
    "suffix": lambda main: os.path.splitext(main)[1],
}


@dataclass(slots=True)
class Item:
    """One item of an input set."""

    set_name: str
    index: int
    primary: str
    fields: dict[str, Any]
    explicit: frozenset[str] = frozenset()
    #: The shortcuts computed so far, and the main field they are of.
    shortcuts: tuple[str, dict[str, str]] | None = field(default=None, repr=False,
                                                          compare=False)

    def view(self) -> dict[str, Any]:
        """What ``{item.X}`` can name: file-name shortcuts, ``index`` and the fields."""
        out: dict[str, Any] = {}
        main = self.fields.get(self.primary)
        if isinstance(main, str):
            out.update((key, shortcut(main)) for key, shortcut in SHORTCUTS.items())
        out.update(self.fields)
        out["index"] = self.index
        return out

    def lookup(self, key: str) -> Any:
        """``self.view()[key]`` (or ``MISSING``), computing only that entry.

        The fields win over the shortcuts and ``index`` over both, as in :meth:`view`; the
        fields are read at each call, so fields added later (derived ones) are seen. A
        shortcut is computed once per item (again if the main field is replaced).
        """
        if key == "index":
            return self.index
        fields = self.fields
        if key in fields:
            return fields[key]
        shortcut = SHORTCUTS.get(key)
        if shortcut is None:
            return MISSING
        main = fields.get(self.primary)
        if not isinstance(main, str):
            return MISSING
        known = self.shortcuts
        if known is None or known[0] is not main:
            known = self.shortcuts = (main, {})
        values = known[1]
        if key not in values:
            values[key] = shortcut(main)
        return values[key]


#: A compiled value (see ``Evaluator.compile``): called with a :class:`Run`.
Node = Callable[["Run"], Any]


@dataclass(slots=True)
class Scope:
    """What references can see where a value is evaluated.

    ``outputs_nodes`` holds the compiled ``outputs_raw`` values (at ``outputs_kp.NAME``).
    """

    where: str = "global"
    item: Item | None = None
    entry: int | None = None
    outputs_raw: dict[str, Any] | None = None
    outputs_kp: str = ""
    memo: dict[str, Any] = field(default_factory=dict)
    outputs_nodes: dict[str, Node] | None = None


class Run:
    """An evaluation of compiled values: its scope, and whether all went well (``ok``, reset
    by whoever reuses it)."""

    __slots__ = ("ok", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.ok = True


#: The scope of values outside any step or input set.
GLOBAL = Scope()
