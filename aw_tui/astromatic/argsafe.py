"""Get any file name through the AstrOmatic tools' own argument parsing.

The tools never see a shell, but they parse their arguments themselves: they split values
on space, tab, comma, semicolon and ``=``, read ``name[n]`` as a FITS extension, read
``@file`` as a list of files, and expand ``$VAR``. A name with such a character would be cut
up ("Too many input images") or silently changed. So:

* an *input* with such a name reaches the tool through a symbolic link with a safe name in
  the temp folder;
* an *output* is written under a safe name in the temp folder and moved into place after the
  tool ends (atomically when on the same file system);
* a folder (``RESAMPLE_DIR``, ``PSF_DIR``) with such a name is refused before the tool runs,
  with an error naming the character.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field

from aw_tui.base.atomic import fsync_dir

__all__ = ["SafeNames", "UnsafeNameError", "unsafe_char"]

_UNSAFE = re.compile(r"[\s,;=\[\]$@\"'`\\]")


class UnsafeNameError(ValueError):
    """A name the tools would mangle and that cannot be linked around."""


def unsafe_char(name: str) -> str | None:
    """The first character of ``name`` the tools would misread, or None."""
    match = _UNSAFE.search(name)
    if match:
        return match.group(0)
    return None


def describe_char(char: str) -> str:
    """A readable name for a character in an error message."""
    names = {" ": "a space", "\t": "a tab", "\n": "a newline", ",": "a comma",
             ";": "a semicolon", "=": "an equals sign", "$": "a dollar sign",
             "[": "a bracket", "]": "a bracket", "@": "an at sign",
             '"': "a double quote", "'": "a quote", "`": "a backquote", "\\": "a backslash"}
    return names.get(char, repr(char))


def _safe_basename(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or "file"
    cleaned = re.sub(r"[^A-Za-z0-9._+-]", "_", base).lstrip("-.") or "file"
    digest = hashlib.sha1(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{digest[:10]}_{cleaned}"


@dataclass
class SafeNames:
    """Links and renames for one tool run, in ``<temp>/safe-names/<tag>/``.

    Parameters
    ----------
    temp_dir : str
        The pipeline's temp folder (its own name must be safe).
    tag : str
        A folder name for this run (e.g. the step id and tool).
    """

    temp_dir: str
    tag: str
    moves: list[tuple[str, str]] = field(default_factory=list)
    #: Every input given a safe link: real name -> link. Tools write some outputs beside
    #: their inputs (SCAMP's ``.head``, PSFEx's ``.psf`` without PSF_DIR), i.e. beside the
    #: link: this is how callers find them.
    links: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        """Where the links and temporary outputs live."""
        return os.path.join(self.temp_dir, "safe-names", self.tag)

    def _ensure_folder(self) -> None:
        char = unsafe_char(self.temp_dir)
        if char is not None:
            raise UnsafeNameError(
                f"the temp folder {self.temp_dir!r} contains {describe_char(char)}, which the "
                "AstrOmatic tools split file names on; choose a temp path without it"
            )
        os.makedirs(self.folder, exist_ok=True)

    def input(self, path: str) -> str:
        """A name the tool reads correctly for the existing file ``path``."""
        if unsafe_char(path) is None:
            return path
        self._ensure_folder()
        link = os.path.join(self.folder, _safe_basename(path))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.abspath(path), link)
        self.links[path] = link
        return link

    def input_with_companions(self, path: str, companions: list[str]) -> str:
        """Like :meth:`input`, but also links companion files that the tool finds by name.

        ``companions`` are suffixes replacing the image's ``.fits`` (e.g. ``.wtmap.fits``,
        ``.head``) which the tool looks for beside the image.
        """
        if unsafe_char(path) is None:
            return path
        link = self.input(path)
        stem_real = os.path.splitext(path)[0]
        stem_link = os.path.splitext(link)[0]
        for suffix in companions:
            real = stem_real + suffix
            if os.path.exists(real):
                target = stem_link + suffix
                if os.path.lexists(target):
                    os.unlink(target)
                os.symlink(os.path.abspath(real), target)
        return link

    def output(self, path: str) -> str:
        """A name to give the tool for the output ``path``; moved into place by :meth:`finish`.

        Raises
        ------
        UnsafeNameError
            When ``path``'s folder does not exist or cannot be written: the tool would have
            failed to write it, and a safe name must not turn that into a success that
            creates folders.
        """
        if unsafe_char(path) is None:
            return path
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UnsafeNameError(f"cannot write {path!r}: the folder {folder!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise UnsafeNameError(f"cannot write {path!r}: the folder {folder!r} is not writable")
        self._ensure_folder()
        temp = os.path.join(self.folder, "out_" + _safe_basename(path))
        self.moves.append((temp, path))
        return temp

    def folder_arg(self, path: str, key: str) -> str:
        """A folder argument; refused when the tool would misread it."""
        char = unsafe_char(path)
        if char is not None:
            raise UnsafeNameError(
                f"{key} {path!r} contains {describe_char(char)}, which the AstrOmatic tools "
                f"split arguments on; choose a {key} without it"
            )
        return path

    def finish(self) -> list[str]:
        """Move every output written under a safe name to its real name.

        Returns
        -------
        list of str
            The real names of the outputs that were moved.
        """
        moved = []
        for temp, real in self.moves:
            if not os.path.exists(temp):
                continue
            move_into_place(temp, real)
            moved.append(real)
        self.moves.clear()
        return moved


def move_into_place(src: str, dst: str) -> None:
    """Move ``src`` to ``dst`` atomically (a copy to a temporary name first across devices)."""
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    try:
        os.replace(src, dst)
    except OSError:
        tmp = os.path.join(folder, f".{os.path.basename(dst)}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, dst)
        os.unlink(src)
    fsync_dir(folder)
