"""The ``aw-tui`` command (filled in by the command-line module)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``aw-tui``."""
    from aw_tui.commands import main as run_main

    return run_main(argv)
