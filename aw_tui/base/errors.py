"""The root of aw-tui's errors: what is wrong, how to fix it, and the command's exit code.

Every error aw-tui raises on purpose derives from :class:`AwTuiError`, so the command line can
turn any of them into one paragraph and its documented exit code without knowing the room it
came from. Exit codes (README, "The command"): 0 done, 1 a step failed, 2 bad input, 130
interrupted.
"""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STEP_FAILED",
    "AwTuiError",
    "HintedError",
]

#: Every selected step ran.
EXIT_OK = 0
#: A step failed (an error result or an exception); the run can be resumed.
EXIT_STEP_FAILED = 1
#: Bad input: a project file, arguments, a checkpoint, a missing tool, a run directory in use.
EXIT_BAD_INPUT = 2
#: Interrupted by SIGINT, SIGTERM, SIGHUP or a stop request; the run can be resumed.
EXIT_INTERRUPTED = 130


class AwTuiError(Exception):
    """An error with a ``hint`` saying how to fix it and the exit code it ends a command with.

    Parameters
    ----------
    message : str
        What is wrong.
    hint : str
        How to fix it.

    Attributes
    ----------
    exit_code : int
        The exit code of a command that ends with this error (class attribute; subclasses
        set their own).
    """

    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


#: The name of the root before it owned exit codes (kept for the modules that use it).
HintedError = AwTuiError
