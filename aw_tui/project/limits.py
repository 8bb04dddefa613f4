"""Limits that keep bad input from breaking the loader or the run it describes.

A project file is checked against them before anything is evaluated or run, and each breach
is a :class:`~aw_tui.project.errors.ProjectError` entry naming the key and the fix (never a
traceback): how deep tables and arrays nest, how deep references go, NUL characters, where
the run directory may be, how many workers or jobs, and which characters names may use.
``docs/project-file.md`` ("Limits") documents each one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from aw_tui.project.errors import Reporter, visible

#: How deep tables and arrays may nest: in the file (counted from its top level), and in any
#: named value after interpolation (a var, an output, what ``{steps.NAME...}`` gives).
MAX_NESTING = 32
#: How deep references may go: ``{vars.a}`` -> ``{vars.b}`` -> ... (paths, vars, input sets
#: and outputs each count one).
MAX_REFERENCE_DEPTH = 32
#: The most workers, threads, jobs or steps in flight a project may ask for.
MAX_COUNT = 4096
#: Keys of ``[executor]`` that count something, with their least value; ``[pipeline] jobs``
#: is counted the same way (at least 1).
COUNT_KEYS = {
    "jobs": 1,
    "workers": 1,
    "threads_per_worker": 1,
    "scale": 1,
    "capacity": 1,
    "allowed_failures": 0,
}
#: The longest name of a run or a step.
MAX_NAME_LENGTH = 100
#: ``[pipeline] run_name``: letters, digits, ``.``, ``_``, ``-``, not starting with ``.``.
RUN_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
#: A step's ``name`` (also used in ``{steps.NAME...}``, hence no ``.``).
STEP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
#: Folders of the system that no ``[paths]`` value may be in (nor be).
SYSTEM_FOLDERS = ("/proc", "/dev", "/sys")
#: The longest path and file name most file systems take (PATH_MAX, NAME_MAX).
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
#: How many problems of nesting or NUL characters are listed (the rest are counted).
MAX_STRUCTURE_ERRORS = 20

_DOCS_LIMITS = "see 'Limits' in docs/project-file.md"


def too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether tables and arrays nest more than ``limit`` deep in ``value`` (no recursion)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _join(keypath: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{keypath}[{key}]"
    return f"{keypath}.{key}" if keypath else str(key)


def _shown(text: str) -> str:
    """:func:`~aw_tui.project.errors.visible` ``text``, shortened."""
    return visible(text[:60]) + ("..." if len(text) > 60 else "")


def check_structure(data: dict[str, Any], text: str, report: Reporter) -> None:
    """Report tables and arrays nested over :data:`MAX_NESTING` and NUL characters.

    A NUL can only come from a ``\\u0000`` escape (TOML refuses a raw one), so strings are
    looked at only when the text has such an escape.
    """
    nul_possible = "\\u0000" in text or "\\U00000000" in text
    found = 0
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack and found < MAX_STRUCTURE_ERRORS:
        current, depth, keypath = stack.pop()
        if isinstance(current, list) and not nul_possible:
            kinds = set(map(type, current))  # a long array of plain values: skipped at C speed
            if dict not in kinds and list not in kinds:
                continue
        pairs = current.items() if isinstance(current, dict) else enumerate(current)
        for key, child in pairs:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_NESTING:
                    found += 1
                    report.error(_join(keypath, key),
                                 f"tables and arrays nest more than {MAX_NESTING} deep here",
                                 f"flatten this value: at most {MAX_NESTING} levels of [...] "
                                 f"and {{...}} ({_DOCS_LIMITS})")
                    continue
                stack.append((child, depth + 1, _join(keypath, key)))
            elif nul_possible and isinstance(child, str) and "\x00" in child:
                found += 1
                report.error(_join(keypath, key),
                             f"the text '{_shown(child)}' holds a NUL character (\\u0000)",
                             "remove the \\u0000: no name, path or command can hold one")
            if nul_possible and isinstance(key, str) and "\x00" in key:
                found += 1
                report.error(_join(keypath, key),
                             f"the key '{_shown(key)}' holds a NUL character (\\u0000)",
                             "remove the \\u0000 from the key")


def deepest_line(text: str) -> int:
    """The line where ``[`` and ``{`` nest deepest in TOML ``text`` (strings skipped, best
    effort; for the message of a file too deep to parse)."""
    depth = best = 0
    line = best_line = 1
    quote = ""
    for char in text:
        if char == "\n":
            line += 1
            if quote in ('"', "'"):
                quote = ""
        elif quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif char in "]}":
            depth = max(depth - 1, 0)
    return best_line


def check_folder(path: str, keypath: str, report: Reporter, run_directory: bool) -> bool:
    """Report a ``[paths]`` folder that cannot be one: too long, an existing file, or (for
    the run directory) in a system folder. True when it is usable."""
    encoded = os.fsencode(path)
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES
                                            for part in encoded.split(b"/")):
        report.error(keypath, f"the path '{_shown(path)}' is too long for the file system",
                     f"use at most {MAX_NAME_BYTES} bytes per folder name and "
                     f"{MAX_PATH_BYTES} in all")
        return False
    if run_directory:
        real = os.path.realpath(path)
        for system in SYSTEM_FOLDERS:
            if any(p == system or p.startswith(system + "/") for p in (path, real)):
                report.error(keypath, f"the run directory '{visible(path)}' is in {system}, "
                             "a folder of the system",
                             'choose a folder of the project, e.g. log = "work/log"')
                return False
    if os.path.lexists(path) and not os.path.isdir(path):
        what = "the run directory" if run_directory else "this folder"
        report.error(keypath, f"{what} '{visible(path)}' exists and is not a folder",
                     "give the path of a folder (made when missing), not of a file")
        return False
    return True


def check_count(value: Any, keypath: str, report: Reporter, minimum: int) -> bool:
    """Report a count (workers, jobs...) that is not a whole number in
    [``minimum``, :data:`MAX_COUNT`]."""
    if isinstance(value, bool) or not isinstance(value, int):
        report.check_type(value, int, keypath)
        return False
    if value < minimum:
        report.error(keypath, f"must be {minimum} or more, got {value}",
                     f"give a whole number from {minimum} to {MAX_COUNT}")
        return False
    if value > MAX_COUNT:
        report.error(keypath, f"{value} is more than the limit of {MAX_COUNT}",
                     f"give a whole number from {minimum} to {MAX_COUNT}")
        return False
    return True


def run_name_problem(name: str) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``name`` is not a safe run name, else None.

    For every place a run name comes from (``[pipeline] run_name``, ``--run-name``).
    """
    if RUN_NAME_RE.match(name) and len(name) <= MAX_NAME_LENGTH:
        return None
    return (f"run_name '{_shown(name)}' is not a safe name",
            "use letters, digits, '.', '_' and '-', not starting with '.', at most "
            f"{MAX_NAME_LENGTH} characters: it becomes pipeline-<run_name>.p")


def check_run_name(name: str, keypath: str, report: Reporter) -> bool:
    """Report a run name that is not safe as part of a file name."""
    problem = run_name_problem(name)
    if problem is None:
        return True
    report.error(keypath, *problem)
    return False


def check_step_name(name: str, keypath: str, report: Reporter) -> bool:
    """Report a step name outside the safe set (it is used in references and the journal)."""
    if STEP_NAME_RE.match(name) and len(name) <= MAX_NAME_LENGTH:
        return True
    report.error(keypath, f"'{_shown(name)}' is not a usable step name",
                 "use letters, digits, '_' and '-', starting with a letter or '_', at most "
                 f"{MAX_NAME_LENGTH} characters (it is used in {{steps.NAME...}} references)")
    return False
