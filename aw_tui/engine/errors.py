"""The run's exceptions and warnings, and how a step's exception is written down."""

from __future__ import annotations

import errno
import os
import traceback

from aw_tui.base.errors import EXIT_BAD_INPUT, EXIT_STEP_FAILED, AwTuiError

__all__ = [
    "DISK_ERRNOS",
    "PipelineError",
    "PipelineWarning",
    "RunDirectoryError",
    "RunInterrupted",
    "format_exception",
    "is_disk_error",
    "run_directory_error",
]

#: ``errno`` values meaning "the run directory cannot be written": full, over quota, file
#: too large, read-only file system, no permission.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
DISK_ERRNOS = frozenset((*_FULL, errno.EROFS, errno.EACCES, errno.EPERM))

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



class RunDirectoryError(AwTuiError):
    """The run directory could not be written (disk full, over quota, read-only, no permission).

    The run stopped where it was; what it recorded before is intact (the checkpoint is
    written atomically, the step being written is run again), so it can be resumed once the
    folder is writable.
    """

    exit_code = EXIT_BAD_INPUT


def is_disk_error(exc: BaseException) -> bool:
    """Whether ``exc`` says a file could not be written for lack of space or permission."""
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def run_directory_error(exc: OSError, log_dir: str) -> RunDirectoryError:
    """A :class:`RunDirectoryError` naming ``log_dir``, what is wrong with it and the fix."""
    where = f", writing {exc.filename}" if exc.filename else ""
    reason = f"{exc.strerror or os.strerror(exc.errno or 0)}{where}"
    if exc.errno in _FULL:
        problem = f"the file system of the run directory {log_dir} is full ({reason})"
        fix = f"free some space there (df -h {log_dir}) or raise your quota"
    elif exc.errno == errno.EROFS:
        problem = f"the run directory {log_dir} is on a read-only file system ({reason})"
        fix = "remount it read-write, or set another log folder ([paths] log)"
    else:
        problem = f"the run directory {log_dir} is not writable by you ({reason})"
        fix = (f"make it writable (ls -ld {log_dir}; chmod u+w), or set another log "
               "folder ([paths] log)")
    return RunDirectoryError(
        f"{problem}. The run stopped; the steps recorded before are kept",
        f"{fix}, then resume (aw-tui PROJECT --batch --resume, or run(resume=True))",
    )
