"""A base for errors that carry a fix: what is wrong, and how to fix it."""

from __future__ import annotations

__all__ = ["HintedError"]


class HintedError(Exception):
    """An error with a ``hint`` saying how to fix it.

    Parameters
    ----------
    message : str
        What is wrong.
    hint : str
        How to fix it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
