"""The run's exceptions and warnings, and how a step's exception is written down."""

from __future__ import annotations

import traceback

from aw_tui.base.errors import EXIT_STEP_FAILED, AwTuiError

__all__ = ["PipelineError", "PipelineWarning", "RunInterrupted", "format_exception"]

DONE_STATUSES = ("success", "unknown")


class PipelineError(AwTuiError):
    """A step returned an ``error`` result or raised, and the run stopped."""

    exit_code = EXIT_STEP_FAILED


class PipelineWarning(UserWarning):
    """A problem the pipeline recorded and went on past."""


class RunInterrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM, SIGHUP) or a stop request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def format_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` as text."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

