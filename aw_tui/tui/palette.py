"""The command palette (``ctrl+p``): the app's commands, found by their title or by what
they do (``resu`` finds Continue, "Resume from the checkpoint"), and a screenshot saved
where the run is."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from textual.app import SystemCommand
from textual.command import Hit, Hits
from textual.system_commands import SystemCommandsProvider

__all__ = ["CommandsProvider", "app_commands", "screenshot_folder"]


class CommandsProvider(SystemCommandsProvider):
    """Textual's system commands provider, matching descriptions too (a title match ranks
    first)."""

    async def search(self, query: str) -> Hits:
        """The commands whose title, else whose description, matches ``query``."""
        matcher = self.matcher(query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
            elif (score := matcher.match(help_text)) > 0:
                yield Hit(score / 2, name, callback, help=matcher.highlight(help_text))


def screenshot_folder(log_dir: str | None) -> str:
    """Where the palette's Screenshot saves: the run directory, else the current folder."""
    return log_dir if log_dir and os.path.isdir(log_dir) else os.getcwd()


def app_commands(app: Any, textual_commands: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
    """Textual's commands (its Screenshot replaced by one that saves into the run directory
    and says where), then the app's, one per key."""
    for command in textual_commands:
        if command.title != "Screenshot":
            yield command
    yield SystemCommand("Screenshot", "Save an SVG screenshot into the run directory (or the "
                        "current folder) and say where", app.action_save_screenshot)
    for title, help_text, action in (
        ("Run", "Run from the start index with the run tags (r)", app.action_run),
        ("Continue", "Resume from the checkpoint (c)", app.action_continue_run),
        ("Set start index", "Start at the selected step (s)", app.action_set_start),
        ("Run tags", "Choose run / ignore tags (t)", app.action_tags),
        ("Edit step", "Edit the selected step's kwargs (e)", app.action_edit),
        ("Stop run", "Stop the live run (x)", app.action_stop),
        ("Filter", "Filter the steps by tag or text (/)", app.action_filter),
        ("Unfold all groups", "Show each member of the foreach steps (+)",
         lambda: app.query_one("StepTable").action_unfold_all()),
        ("Fold all groups", "One row per foreach step, its counts per state (-)",
         lambda: app.query_one("StepTable").action_fold_all()),
        ("Follow running step", "Show the running step's output (f)",
         app.action_follow_running),
        ("Toggle details", "Show the step details (d)", app.action_toggle_detail),
        ("Copy command line", "Copy the step's tool command line (y)",
         app.action_copy_command),
        ("Products", "The step's files: FITS header, thumbnail, catalog rows (p)",
         app.action_products),
        ("Results", "Results of the step's group, outliers marked, sortable (R)",
         app.action_results),
        ("Runner log", "Show runner.log in the output pane (L)", app.action_runner_log),
        ("Help", "Keys and what they do (?)", app.action_help),
    ):
        yield SystemCommand(title, help_text, action)
