"""Modal screens: confirm, stop, run tags, edit kwargs, help."""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from aw_tui.base.text import inert
from aw_tui.project.tomledit import loads
from aw_tui.tui.step_groups import split_identity

__all__ = [
    "ConfirmScreen", "EditScreen", "HelpScreen", "ScopeScreen", "StopScreen", "TagsScreen",
]


def shown(value: object) -> str:
    """``value`` as Rich markup that shows it as is: control characters made visible
    (:func:`aw_tui.base.text.inert`) and markup escaped. For any text from a file, a tool
    or a project."""
    return escape(inert(value))


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question (y / n / escape)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class StopScreen(ModalScreen[str | None]):
    """Stop now, after the current step, or not at all."""

    BINDINGS = [
        Binding("n", "choose('now')", "Now"),
        Binding("a", "choose('after_step')", "After step"),
        Binding("escape,c", "choose(None)", "Cancel"),
    ]

    def __init__(self, running: str = "") -> None:
        super().__init__()
        self.running = running
        """The step (or steps) it stops, e.g. ``step 4 (step3 SWarp)``; empty if unknown."""

    def compose(self) -> ComposeResult:
        running = f"\nIt is running [b]{shown(self.running)}[/b]." if self.running else ""
        with Vertical(classes="dialog"):
            yield Static(
                f"Stop the live run?{running}\n\n"
                "[b]n[/b]  now: kill the running tool; that step is recorded as interrupted "
                "and runs again on continue\n"
                "[b]a[/b]  after the current step ends\n"
                "[b]esc[/b]  keep running",
                classes="question",
            )
            with Horizontal(classes="buttons"):
                yield Button("Now (n)", id="now", variant="error")
                yield Button("After step (a)", id="after_step", variant="warning")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, value: str | None) -> None:
        self.dismiss(value)


class ScopeScreen(ModalScreen[str | None]):
    """Where an edit of a ``foreach`` member goes: ``template`` (t, every member) or
    ``member`` (m, only this one); escape cancels."""

    BINDINGS = [
        Binding("t", "choose('template')", "Template"),
        Binding("m", "choose('member')", "Only this member"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, identity: str, members: int, file_name: str) -> None:
        super().__init__()
        self.identity = identity
        self.members = members
        self.file_name = file_name

    def compose(self) -> ComposeResult:
        name, key = split_identity(self.identity)
        with Vertical(classes="dialog"):
            yield Static(
                f"Edit {shown(self.identity)}, one of the {self.members} members of "
                f"{shown(name)}, in {shown(self.file_name)}:\n\n"
                "[b]t[/b]  the step's template: every member ("
                + escape("[steps.kwargs]") + ")\n"
                "[b]m[/b]  only this member (its "
                + escape(f'[steps.items."{inert(key)}".kwargs]') + " override)\n"
                "[b]esc[/b]  cancel",
                classes="question",
            )
            with Horizontal(classes="buttons"):
                yield Button("Template (t)", id="template", variant="primary")
                yield Button("This member (m)", id="member")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, value: str | None) -> None:
        self.dismiss(value)


class TagsScreen(ModalScreen[tuple[list[str], list[str]] | None]):
    """Run tags and ignore tags for the next run."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_tags: list[str], ignore_tags: list[str], known: list[str]) -> None:
        super().__init__()
        self.run_tags = run_tags
        self.ignore_tags = ignore_tags
        self.known = known

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # Static, not Label: a line too long for the dialog (80 columns) wraps.
            yield Static("Run only steps with one of these tags (comma-separated; empty = "
                         "all):")
            yield Input(",".join(self.run_tags), id="run-tags")
            yield Static("Never run steps with these tags (they win over the above):")
            yield Input(",".join(self.ignore_tags), id="ignore-tags")
            yield Static("Tags in this pipeline: " + shown(", ".join(self.known[:40])),
                         classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Apply (enter)", id="apply", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def _result(self) -> tuple[list[str], list[str]]:
        def split(text: str) -> list[str]:
            return [t.strip() for t in text.split(",") if t.strip()]

        return (split(self.query_one("#run-tags", Input).value),
                split(self.query_one("#ignore-tags", Input).value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._result() if event.button.id == "apply" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_AT_END = re.compile(r"\s*\(at end of document\)")


def toml_error_position(text: str, error: ValueError) -> tuple[str, int, int]:
    """The message of a TOML syntax error and its 1-based line and column.

    ``tomllib`` says "(at end of document)" instead of a line and column for errors at the
    end (an unfinished value, an unclosed string or array): those get the position of the
    end of the text, so the user is always told where.
    """
    message = str(error)
    line, column = getattr(error, "lineno", None), getattr(error, "colno", None)
    found = _AT_LINE.search(message)
    if found:
        line, column = int(found[1]), int(found[2])
        message = message[: found.start()]
    elif _AT_END.search(message):
        message = _AT_END.sub("", message)
        line = text.count("\n") + 1
        column = len(text.rsplit("\n", 1)[-1]) + 1
    if line is None or column is None:
        return message, 1, 1
    return message, int(line), int(column)


class EditScreen(ModalScreen[dict[str, Any] | None]):
    """Edit a step's kwargs as TOML; ctrl+s validates and saves, escape cancels."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, title: str, text: str, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog editor"):
            yield Static(self.title_text, classes="question")
            yield TextArea(self.text, language=None, id="toml", show_line_numbers=True)
            yield Static(self.note or "ctrl+s save · esc cancel", id="edit-status",
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text
        try:
            data = loads(text)
        except ValueError as exc:
            message, line, column = toml_error_position(text, exc)
            self.query_one("#edit-status", Static).update(
                f"[b red]not saved:[/b red] {shown(message)} at line {line}, column {column}"
                " — fix it, then ctrl+s (esc cancels)"
            )
            area = self.query_one(TextArea)
            area.move_cursor((line - 1, column - 1))
            return
        self.dismiss(data)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP_KEYS: list[tuple[str, str]] = [
    ("r", "[b]run[/b] from the start index with the run tags (confirms)"),
    ("c", "[b]continue[/b]: resume from the checkpoint or start index"),
    ("s", "set (again: clear) the [b]start index[/b] at this step"),
    ("t", "run tags / ignore tags for the next run"),
    ("e", "[b]edit[/b] the step's kwargs as TOML (live run: at its start)"),
    ("x", "[b]stop[/b] the live run: now, or after the current step"),
    ("enter", "focus the step's output (escape: back to the table)"),
    ("f", "follow the running step"),
    ("d", "show / hide details (kwargs, command line, errors)"),
    ("y", "copy the step's command line to the clipboard"),
    ("p", "[b]products[/b]: files, FITS header, thumbnail, catalog rows"),
    ("R", "[b]results[/b] of the step's group: outliers marked, s sorts"),
    ("L", "show runner.log in the output pane"),
    ("/", "filter the steps by tag or text (escape clears)"),
    ("/ n N", "in the output pane: search it, next / previous match"),
    ("] [", "in the output pane: next / previous error or warning"),
    ("j k g G", "down, up, first, last step (arrows, home, end too)"),
    ("→ ←", "unfold / fold the group of a [b]foreach[/b] step's members (l h, enter)"),
    ("+ -", "unfold / fold every group"),
    ("ctrl+p", "command palette"),
    ("?", "this help (escape closes)"),
    ("q", "quit: a live run goes on (aw-tui PROJECT attaches again)"),
]
"""The help screen's keys: (key, what it does) with Rich markup."""

HELP_NOTE = (
    "Runs happen in a separate [b]aw-tui PROJECT --batch[/b] process: closing this window, "
    "losing SSH or killing tmux never stops them. Its log is runner.log in the run "
    "directory; each step's raw tool output is steps/<id>.out."
)


def help_table() -> Table:
    """The keys as a two-column table, one key per row (fits 80x24)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, text in HELP_KEYS:
        table.add_row(escape(key), text)
    return table


class HelpScreen(ModalScreen[None]):
    """The keys and what they do."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Static("[b]aw-tui keys[/b]", classes="question")
            yield Static(help_table())
            yield Static(HELP_NOTE, classes="hint note")

    def action_close(self) -> None:
        self.dismiss(None)
