"""Problems in a project file: :class:`ProjectError`, the key path -> line finder, and the
:class:`Reporter` every part of the loader records its problems with.

Each problem names the file, the line (when the key is found in the text), the key path
(``steps[3].kwargs.api_kwargs.config.CATALOG_NAME``) and a fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from aw_tui.base.errors import AwTuiError
from aw_tui.project.interpolate import did_you_mean, type_name
from aw_tui.project.schema import DOCS, NAME_RE


def visible(text: str) -> str:
    """``text`` with its control characters made visible (``\\x1b``, ``\\t``), so that a
    message never sends a terminal escape from a file to the user's terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ProjectError(AwTuiError):
    """A project file that cannot be used, with every problem found.

    Parameters
    ----------
    errors : list of str
        One entry per problem: ``"<file>[:line]: <key path>: <what>"`` and, on a second
        line, ``"    fix: <how>"``.
    path : str, optional
        The project file.

    Attributes
    ----------
    errors : list of str
        As given.
    """

    def __init__(self, errors: Iterable[str], path: str | os.PathLike[str] | None = None) -> None:
        self.errors = list(errors)
        self.path = os.fspath(path) if path is not None else None
        super().__init__(self.errors[0] if self.errors else "invalid project")

    def __str__(self) -> str:
        count = len(self.errors)
        where = f"{self.path}: " if self.path else ""
        head = (
            f"{where}{count} problem{'s' if count != 1 else ''} in the project file "
            "(nothing was run):"
        )
        lines = [visible(head)]
        for error in self.errors:
            first, *rest = error.split("\n")
            lines.append(f"  - {visible(first)}")
            lines.extend(f"  {visible(line)}" for line in rest)
        return "\n".join(lines)




SYNTAX_HINTS = (
    ("twice", "a table is declared twice: merge the two [sections] (use [[name]] for an "
              "array of tables such as [[steps]])"),
    ("overwrite", "a key is given twice (or a key and a table of the same name): keep one"),
    ("Illegal character '\\n'", "a string is not closed on this line: add the closing quote "
                                "(use \"\"\"triple quotes\"\"\" for text over several lines)"),
    ("Invalid value", "a value must be a \"quoted string\", a number, true/false, an array "
                      "[...] or an inline table {...}"),
    ("Expected '=' after a key", "write key = value (quote keys with spaces or dots)"),
    ("Unclosed array", "close the array with ']' (separate elements with commas)"),
    ("Unclosed inline table", "close the inline table with '}' on the same line"),
)


def syntax_error(display: str, text: str, message: str) -> str:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    lines = text.splitlines()
    if match:
        line, col = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
        if "overwrite" in message:
            keys = [key for at, _, key in Locator(text).duplicates if at == line]
            if keys:
                message += f": '{keys[0]}' is given a second time here"
    else:
        message = re.sub(r"\s*\(at end of document\)\s*$", "", message)
        duplicates = Locator(text).duplicates if "overwrite" in message else []
        if duplicates:
            line, col, key = duplicates[0]
            message += f": '{key}' is given a second time here"
        else:
            line = max(len(lines), 1)
            col = len(lines[-1]) + 1 if lines else 1
            message += " (at the end of the file)"
    hint = "see https://toml.io/en/v1.0.0 for the TOML syntax"
    for needle, text_hint in SYNTAX_HINTS:
        if needle in message:
            hint = text_hint
            break
    shown = ""
    if 1 <= line <= len(lines):
        source = lines[line - 1]
        caret = len(visible(source[: max(col - 1, 0)]))
        shown = f"\n    | {visible(source)}\n    | {' ' * caret}^"
    return f"{display}:{line}:{col}: TOML syntax error: {message}{shown}\n    fix: {hint}"



# -- key paths to line numbers ---------------------------------------------------------------
_KEY_PART = r"(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')"
_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(_KEY_PART, text)]


class Locator:
    """Finds the line of a key path (best effort: headers and ``key =`` lines)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[int, int, str]] = []
        arrays: dict[str, int] = {}
        current = ""
        multiline: str | None = None
        for lineno, line in enumerate(text.splitlines(), 1):
            if multiline is not None:
                if multiline in line:
                    multiline = None
                continue
            stripped = line.strip()
            if stripped.startswith("[["):
                match = re.match(r"\[\[\s*(.+?)\s*\]\]", stripped)
                if not match:
                    continue
                parts = _split_key(match.group(1))
                if not parts:
                    continue
                prefix = self._resolve(parts[:-1], arrays)
                full = f"{prefix}.{parts[-1]}" if prefix else parts[-1]
                arrays[full] = arrays.get(full, -1) + 1
                current = f"{full}[{arrays[full]}]"
                self.lines.setdefault(current, lineno)
            elif stripped.startswith("["):
                match = re.match(r"\[\s*(.+?)\s*\]", stripped)
                if not match:
                    continue
                current = self._resolve(_split_key(match.group(1)), arrays)
                self.lines.setdefault(current, lineno)
            else:
                match = _KEY_RE.match(line)
                if not match:
                    continue
                key = ".".join(_split_key(match.group(1)))
                full_key = f"{current}.{key}" if current else key
                if full_key in self.lines and self.lines[full_key] != lineno:
                    column = len(line) - len(line.lstrip()) + 1
                    self.duplicates.append((lineno, column, full_key))
                self.lines.setdefault(full_key, lineno)
                rest = line[match.end():].strip()
                for quote in ('"""', "'''"):
                    if rest.startswith(quote) and rest.count(quote) == 1:
                        multiline = quote

    @staticmethod
    def _resolve(parts: list[str], arrays: dict[str, int]) -> str:
        current = ""
        for part in parts:
            candidate = f"{current}.{part}" if current else part
            if candidate in arrays:
                candidate = f"{candidate}[{arrays[candidate]}]"
            current = candidate
        return current

    def line_of(self, keypath: str) -> int | None:
        """The line of ``keypath`` or of its closest parent found in the file."""
        while keypath:
            if keypath in self.lines:
                return self.lines[keypath]
            shorter = re.sub(r"(\.[^.\[\]]*|\[-?\d+\])$", "", keypath)
            if shorter == keypath:
                return None
            keypath = shorter
        return None



class Reporter:
    """The problems found in one project file, each recorded once, in the order found.

    Parameters
    ----------
    display : str
        The file as the user named it (starts every message).
    text : str
        Its text (to find the line of a key path, at the first problem only).
    """

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.text = text
        self.errors: list[str] = []
        self._seen: set[str] = set()
        self._locator: Locator | None = None

    @property
    def locator(self) -> Locator:
        """The key path -> line finder of the file, made at the first error."""
        if self._locator is None:
            self._locator = Locator(self.text)
        return self._locator

    def error(self, keypath: str, message: str, hint: str = "", at: str | None = None) -> None:
        """Record a problem at ``keypath`` (its line: that of ``at`` when given, a key path
        below it that the file spells out, e.g. a ``[table.header]``)."""
        where_kp = at or keypath
        line = self.locator.line_of(where_kp) if where_kp else None
        where = f"{self.display}:{line}" if line else self.display
        text = f"{where}: {keypath}: {message}" if keypath else f"{where}: {message}"
        if hint:
            text += f"\n    fix: {hint}"
        if text not in self._seen:
            self._seen.add(text)
            self.errors.append(text)

    def unknown_keys(self, table: dict[str, Any], allowed: Iterable[str], keypath: str,
                     what: str) -> None:
        """Report keys of ``table`` not in ``allowed``."""
        allowed = list(allowed)
        for key in table:
            if key in allowed:
                continue
            hint = did_you_mean(key, allowed)
            self.error(
                f"{keypath}.{key}" if keypath else key,
                f"unknown key '{key}' in {what}",
                (hint + " " if hint else "") + "allowed keys: " + ", ".join(allowed),
            )

    def check_name(self, name: str, keypath: str, what: str) -> bool:
        if NAME_RE.match(name):
            return True
        self.error(
            keypath,
            f"'{name}' is not a usable {what} name",
            "use letters, digits, '_' and '-', starting with a letter or '_' (it is used in "
            "{...} references)",
        )
        return False


    def check_type(self, value: Any, kind: type | tuple[type, ...], keypath: str) -> bool:
        """Report ``value`` when it is not of ``kind`` (bool is not an int here)."""
        kinds = kind if isinstance(kind, tuple) else (kind,)
        good = isinstance(value, kinds) and not (
            isinstance(value, bool) and bool not in kinds
        )
        if good:
            return True
        expected = {
            str: ('a string', 'text in quotes: key = "..."'),
            bool: ("true or false", "write true or false without quotes"),
            int: ("an integer", "write a whole number without quotes"),
            list: ("an array", "write [a, b, ...]"),
            dict: ("a table", "write a [section] or an inline table {k = v}"),
        }
        names = " or ".join(expected.get(k, (k.__name__, ""))[0] for k in kinds)
        hint = expected.get(kinds[0], ("", "see " + DOCS))[1]
        self.error(keypath, f"must be {names}, got {type_name(value)} ({value!r})", hint)
        return False
