"""The one door through which aw-tui unpickles a file: only files that are yours.

Unpickling runs code. Run directories live on shared file systems, often in group-writable
project folders, so every pickle aw-tui reads (checkpoints, ``steps/<id>.result.p``,
``steps/<id>.kwargs.p``, the Dask context files) goes through :func:`load_trusted`, which

- opens the file once, with ``O_NOFOLLOW`` (a symbolic link is refused), and checks the open
  descriptor with ``fstat`` (no check-then-open race: what is checked is what is read);
- refuses it unless it is a regular file owned by the current user that neither group nor
  others can write;
- refuses it unless the folder that holds it (and the run directory above ``steps/``) is owned
  by the current user and not writable by others;
- maps the module paths of aw-tui before its reorganisation into rooms (``aw_tui.store``,
  ``aw_tui.funcref``, ``aw_tui.api`` private names...) to their new homes, so checkpoints
  written before the move still load.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import stat
from typing import Any

import dill

from aw_tui.base.errors import AwTuiError
from aw_tui.rundir.layout import STEPS_DIR

__all__ = [
    "MOVED_MODULES",
    "UntrustedFileError",
    "check_folder",
    "load_trusted",
    "load_trusted_bytes",
    "open_trusted",
    "read_own_json",
]


class UntrustedFileError(AwTuiError):
    """A file aw-tui would unpickle (or obey) is not provably yours: it is refused."""


#: Module paths of aw-tui before the rooms (``git log --follow``) -> where their names live now.
MOVED_MODULES: dict[str, tuple[str, ...]] = {
    "aw_tui.engine": ("aw_tui.engine.loop", "aw_tui.engine.steps", "aw_tui.engine.errors"),
    "aw_tui.pipeline": ("aw_tui.engine.steps", "aw_tui.engine.errors", "aw_tui.engine.loop"),
    "aw_tui.store": ("aw_tui.rundir.store", "aw_tui.rundir.checkpoint", "aw_tui.rundir.lock"),
    "aw_tui.replay": ("aw_tui.rundir.checkpoint",),
    "aw_tui.journal": ("aw_tui.rundir.journal",),
    "aw_tui.funcref": ("aw_tui.project.funcref",),
    "aw_tui.api": ("aw_tui.astromatic.steps",),
    "aw_tui.project": ("aw_tui.project.loader",),
    "aw_tui.tools": ("aw_tui.astromatic.registry",),
    "aw_tui.summary": ("aw_tui.astromatic.summaries",),
    "aw_tui.votable": ("aw_tui.astromatic.xmllog",),
    "aw_tui.argsafe": ("aw_tui.astromatic.argsafe",),
    "aw_tui.diagnose": ("aw_tui.astromatic.diagnose",),
    "aw_tui.ldac": ("aw_tui.astromatic.ldac",),
    "aw_tui.sky": ("aw_tui.demo.sky",),
    "aw_tui.demo": ("aw_tui.demo.writer",),
    "aw_tui.runner": ("aw_tui.launch", "aw_tui.rundir.control"),
    "aw_tui.commands": ("aw_tui.cli.main",),
    "aw_tui.batch": ("aw_tui.cli.batch",),
    "aw_tui.dask_executor": ("aw_tui.engine.dask_cluster",),
    "aw_tui.executors": ("aw_tui.engine.executors",),
    "aw_tui.process": ("aw_tui.base.process",),
    "aw_tui.stepcontext": ("aw_tui.base.stepcontext",),
    "aw_tui.errors": ("aw_tui.base.errors",),
    "aw_tui.atomic": ("aw_tui.base.atomic",),
    "aw_tui.gcpause": ("aw_tui.base.gcpause",),
    "aw_tui.terminal_text": ("aw_tui.base.terminal_text",),
    "aw_tui.interpolate": ("aw_tui.project.interpolate",),
    "aw_tui.tomlwrite": ("aw_tui.project.tomledit",),
}


class _Unpickler(dill.Unpickler):
    """dill's unpickler, which finds names moved by the reorganisation into rooms."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            for new in MOVED_MODULES.get(module, ()):
                try:
                    return getattr(importlib.import_module(new), name)
                except (ImportError, AttributeError):
                    continue
            raise


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def check_folder(folder: str, what: str) -> None:
    """Refuse to read code from ``folder`` unless it is yours and others cannot write it.

    Raises
    ------
    UntrustedFileError
        With the ``chown``/``chmod`` that would make it safe.
    """
    try:
        st = os.stat(folder)
    except OSError as exc:
        raise UntrustedFileError(f"cannot read {folder}: {exc.strerror}") from None
    if st.st_uid != os.getuid():
        raise UntrustedFileError(
            f"refusing to load {what}: its folder {folder} is owned by uid {st.st_uid}, not "
            f"by you (uid {os.getuid()}), so its owner could have put any code there. Use a "
            "run directory ('log' path) of your own."
        )
    if st.st_mode & stat.S_IWOTH:
        raise UntrustedFileError(
            f"refusing to load {what}: anyone can write to its folder {folder} (mode "
            f"{_mode(st)}), so anyone could have put code there. Check its files, then "
            f"`chmod o-w {folder}`."
        )


def _folders_of(path: str) -> list[str]:
    folder = os.path.dirname(os.path.abspath(path))
    folders = [folder]
    if os.path.basename(folder) == STEPS_DIR:
        folders.append(os.path.dirname(folder))  # the run directory above steps/
    return folders


def open_trusted(path: str, what: str = "file") -> int:
    """Open ``path`` for reading if it is provably yours; return the descriptor.

    The file is opened once (``O_NOFOLLOW``; non-blocking, so a FIFO cannot hang the caller)
    and the checks are made on the open descriptor.

    Raises
    ------
    UntrustedFileError
        When it is a link, not a regular file, not yours, or writable by group or others, or
        when its folder is not yours or is writable by others.
    FileNotFoundError
        When it does not exist.
    """
    for folder in _folders_of(path):
        check_folder(folder, what)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise UntrustedFileError(
                f"refusing to load {what} {path}: it is a symbolic link (to "
                f"{os.readlink(path)}); aw-tui only loads files it wrote. Remove the link."
            ) from None
        raise UntrustedFileError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedFileError(
                f"refusing to load {what} {path}: it is not a regular file. Remove it."
            )
        if st.st_uid != os.getuid():
            raise UntrustedFileError(
                f"refusing to load {what} {path}: it is owned by uid {st.st_uid}, not by you "
                f"(uid {os.getuid()}); loading it would run code its owner chose. Remove it "
                "(or copy it, check it, and load your copy if you trust it)."
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UntrustedFileError(
                f"refusing to load {what} {path}: group or others can write to it (mode "
                f"{_mode(st)}), so anyone could have changed the code it runs. Check it, "
                f"then `chmod go-w {path}`."
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def load_trusted(path: str, what: str = "file") -> Any:
    """Unpickle ``path`` (dill, cloudpickle or pickle) after :func:`open_trusted`.

    The one function in aw-tui that unpickles a file.

    Parameters
    ----------
    path : str
        The pickle.
    what : str
        What it is, for the messages (``checkpoint``, ``step result``...).

    Raises
    ------
    UntrustedFileError
        When the file is not provably yours (see :func:`open_trusted`).
    FileNotFoundError
        When it does not exist.
    Exception
        Whatever the unpickling of a damaged file raises.
    """
    fd = open_trusted(path, what)
    with os.fdopen(fd, "rb") as handle:
        return _Unpickler(handle).load()


def load_trusted_bytes(data: bytes) -> Any:
    """Unpickle ``data`` read from a descriptor :func:`open_trusted` gave (the caller's
    part: e.g. one line of the TUI's light data, :mod:`aw_tui.tui.light`), as
    :func:`load_trusted` unpickles a file."""
    return _Unpickler(io.BytesIO(data)).load()


def read_own_json(path: str, limit: int = 64 * 1024) -> Any:
    """The JSON in ``path`` if it is a regular file of yours of at most ``limit`` bytes, else
    None (missing, a link, a FIFO, another user's, too long, or not JSON).

    For the small JSON files the runner and its workers leave for each other (the
    ``steps/<id>.started`` markers): opened once, non-blocking, checked with ``fstat``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None
