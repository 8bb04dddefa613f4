"""The key bar: one line of the keys the focused screen offers, like Textual's ``Footer``.

Textual's ``Footer`` mounts one widget per key and composes them all again each time the
bindings change (focus moves, a dialog opens): on a 2-core login node that cost a few
hundred milliseconds of a big project's first paint. This bar is a single widget that
renders one line, recomputed only when the set of keys changes. A click on a key presses it.
Given `priorities`, a bar too narrow for every key drops the least important keys whole
(``?`` help and ``q`` quit stay visible at 80 columns).
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyBar"]


class _Key(NamedTuple):
    """One key shown: what to press, what it does, whether it can be used now."""

    key: str
    display: str
    description: str
    enabled: bool
    action: str = ""

    @property
    def width(self) -> int:
        """Cells the key takes on the bar."""
        return cell_len(f" {self.display} {self.description} ")


class KeyBar(Widget):
    """One line listing the current screen's shown key bindings, palette key on the right.

    Parameters
    ----------
    priorities : sequence of str, optional
        Actions from the most important; when the keys do not fit, the keys of the actions
        not listed drop first (the rightmost first), then the listed ones from the end. No
        priorities: the line is cut at the right edge.
    name : str or None, optional
        Widget name.
    id : str or None, optional
        Widget id.
    classes : str or None, optional
        CSS classes.
    """

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-bar--key {
            color: $footer-key-foreground;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
        }
        & > .key-bar--disabled {
            text-style: dim;
        }
    }
    """

    def __init__(
        self, priorities: tuple[str, ...] = (), *, name: str | None = None,
        id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.priorities = tuple(priorities)
        self._keys: tuple[_Key, ...] = ()
        self._palette: _Key | None = None
        self._spans: list[tuple[int, int, str]] = []

    @property
    def keys(self) -> list[str]:
        """The keys shown, as displayed (for tests and the help screen)."""
        return [key.display for key in self._keys]

    def on_mount(self) -> None:
        """Follow the bindings of the screen this bar is on."""
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        """Stop following the screen's bindings."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        """Recompute the keys; repaint only when they changed."""
        if not self.is_attached or screen is not self.screen:
            return
        keys: list[_Key] = []
        seen: set[str] = set()
        palette: _Key | None = None
        palette_binding = getattr(self.app, "COMMAND_PALETTE_BINDING", None)
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            display = self.app.get_key_display(binding)
            if binding.key == palette_binding and self.app.ENABLE_COMMAND_PALETTE:
                palette = _Key(binding.key, display, binding.description, enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            keys.append(_Key(binding.key, display, binding.description, enabled, binding.action))
        if tuple(keys) != self._keys or palette != self._palette:
            self._keys, self._palette = tuple(keys), palette
            self.refresh()

    def render(self) -> Text:
        """The line: `` key description`` for each key, the palette key at the right."""
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        text_style = self.get_component_rich_style("key-bar--description", partial=True)
        dim = self.get_component_rich_style("key-bar--disabled", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, str]] = []
        keys = self._keys
        if self.priorities:
            palette = cell_len(self._palette_label()) if self._palette is not None else 0
            keys = self._fitting(self.size.width - palette)
        for key in keys:
            start = line.cell_len
            extra = dim if not key.enabled else None
            line.append(f" {key.display}", key_style + extra if extra else key_style)
            line.append(f" {key.description} ", text_style + extra if extra else text_style)
            spans.append((start, line.cell_len, key.key))
        if self._palette is not None:
            # The palette key stays at the right edge; keys that do not fit are cut.
            label = self._palette_label()
            room = self.size.width - cell_len(label)
            if line.cell_len > room:
                line.truncate(max(0, room))
                spans = [(a, min(b, room), k) for a, b, k in spans if a < room]
            line.append(" " * (room - line.cell_len))
            start = line.cell_len
            line.append(label[:1], text_style)
            line.append(self._palette.display, key_style)
            line.append(label[1 + len(self._palette.display) :], text_style)
            spans.append((start, line.cell_len, self._palette.key))
        self._spans = spans
        return line

    def _palette_label(self) -> str:
        assert self._palette is not None
        return f"▏{self._palette.display} {self._palette.description.lower()} "

    def _fitting(self, room: int) -> tuple[_Key, ...]:
        """The keys that fit in `room` cells, the least important dropped first."""
        keys = list(self._keys)
        listed = {action: rank for rank, action in enumerate(self.priorities)}
        # The least important last: unlisted keys (the rightmost last), then by priority.
        order = sorted(range(len(keys)), key=lambda i: (
            listed.get(keys[i].action, len(listed)), i if keys[i].action not in listed else 0))
        used = sum(key.width for key in keys)
        dropped: set[int] = set()
        for index in reversed(order):
            if used <= room:
                break
            dropped.add(index)
            used -= keys[index].width
        return tuple(key for i, key in enumerate(keys) if i not in dropped)

    def on_click(self, event: events.Click) -> None:
        """Press the key that was clicked."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
