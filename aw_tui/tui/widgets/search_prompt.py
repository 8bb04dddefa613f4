"""A one-line prompt at the bottom of the screen: what to search for in the output pane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

__all__ = ["SearchPrompt"]


class SearchPrompt(ModalScreen[str | None]):
    """Ask for a search text; dismissed with the text (enter) or None (escape).

    Parameters
    ----------
    value : str, optional
        The text shown at first (the previous search).
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    SearchPrompt {
        align: left bottom;
        background: $background 0%;
    }
    SearchPrompt > Input {
        width: 100%;
        margin-bottom: 1;
    }
    """

    def __init__(self, value: str = "") -> None:
        super().__init__()
        self.value = value

    def compose(self) -> ComposeResult:
        yield Input(self.value, placeholder="search the output (enter searches, esc cancels)",
                    id="output-search")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Search for the text entered."""
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close without searching."""
        self.dismiss(None)
