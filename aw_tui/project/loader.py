"""TOML project files: validate, expand and build a :class:`~aw_tui.pipeline.Pipeline`.

A project file describes a whole pipeline run without Python: named folders (``[paths]``),
tool commands (``[build_paths]``), values (``[vars]``), input sets of files (``[inputs.NAME]``)
and the steps (``[[steps]]``), with ``{...}`` references between them and ``foreach``
expansion of a step over an input set. ``docs/project-file.md`` documents every key.

Everything is checked before anything runs and every problem is reported at once, each with
the file, the key path (``steps[3].kwargs.api_kwargs.config.CATALOG_NAME``) and a fix, as one
:class:`ProjectError`.

Example
-------
>>> project = load_project("project.toml")          # doctest: +SKIP
>>> pipeline = project.build_pipeline()             # doctest: +SKIP
>>> pipeline.run()                                  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import glob
import hashlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from aw_tui.base.errors import AwTuiError
from aw_tui.base.gcpause import gc_paused
from aw_tui.project.funcref import BUILTIN_FUNCS, FuncRef, FuncRefError
from aw_tui.project.interpolate import (
    Expr,
    InterpolationError,
    Ref,
    bind_template,
    compile_template,
    did_you_mean,
    has_refs,
    navigate,
    stringify,
    type_name,
)

__all__ = [
    "ExpandedStep",
    "Project",
    "ProjectError",
    "StepRow",
    "load_project",
]

#: Top-level tables of a project file.
TOP_KEYS = ("pipeline", "paths", "build_paths", "vars", "executor", "inputs", "steps")
#: Keys of ``[pipeline]`` and their types.
PIPELINE_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "create_paths": bool,
    "run_name": str,
    "jobs": int,
}
#: Keys of an ``[inputs.NAME]`` table.
INPUT_KEYS = ("items", "glob", "exclude", "field", "fields", "required", "text_fields")
#: Keys of a ``[[steps]]`` table.
STEP_KEYS = (
    "name",
    "func",
    "tags",
    "ignore_errors",
    "ignore_exceptions",
    "foreach",
    "independent",
    "group",
    "kwargs",
    "outputs",
)
#: Executor kinds accepted in ``[executor] kind``.
EXECUTOR_KINDS = ("serial", "local", "dask")
#: Names a reference can start with.
ROOTS = ("paths", "vars", "env", "inputs", "item", "steps", "outputs")
#: Tool names of ``[build_paths]`` (compared without case); close misspellings are errors.
KNOWN_TOOLS = (
    "SExtractor",
    "SCAMP",
    "SWarp",
    "PSFEx",
    "STIFF",
    "MissFITS",
    "SkyMaker",
    "WeightWatcher",
    "sex",
    "source-extractor",
)
#: kwargs the pipeline itself passes to a step function.
RESERVED_KWARGS = ("pipeline", "step_id")
#: kwargs shown as a step's "key inputs" by :meth:`Project.steps_table`, in this order.
KEY_INPUT_KWARGS = ("files", "filenames", "catalogs", "images", "image", "filename", "catalog")

_NAME_RE = re.compile(r"^[A-Za-z_][\w-]*$")
_DOCS = "docs/project-file.md"


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
        lines = [head]
        for error in self.errors:
            first, *rest = error.split("\n")
            lines.append(f"  - {first}")
            lines.extend(f"  {line}" for line in rest)
        return "\n".join(lines)


@dataclass
class ExpandedStep:
    """One pipeline step of a project, after ``foreach`` expansion and interpolation.

    Attributes
    ----------
    index : int
        Position in the pipeline (also the ``step_id`` of a freshly built pipeline).
    entry : int
        Position of its ``[[steps]]`` table in the file (``steps[entry]``).
    name : str or None
        The entry's ``name``.
    item : int or None
        The index of the item of a ``foreach`` step.
    func : FuncRef
        The step function.
    tags : list of str
    ignore_errors, ignore_exceptions, independent : bool
    group : str or None
    kwargs : dict
        The step's ``func_kwargs``.
    outputs : dict
        The entry's ``outputs`` for this item.
    """

    index: int
    entry: int
    name: str | None
    item: int | None
    func: FuncRef
    tags: list[str]
    ignore_errors: bool
    ignore_exceptions: bool
    independent: bool
    group: str | None
    kwargs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def keypath(self) -> str:
        """``steps[entry]``, the key path of its table."""
        return f"steps[{self.entry}]"


class StepRow(NamedTuple):
    """A row of :meth:`Project.steps_table`."""

    index: int
    step_id: int
    tags: list[str]
    func: str
    inputs: str


class Project:
    """A validated project file, ready to build its pipeline.

    Create it with :func:`load_project`.

    Attributes
    ----------
    path : pathlib.Path
        The project file (absolute).
    base_dir : str
        Its folder: relative paths in the file are relative to it.
    name : str
        ``[pipeline] name`` (default: the folder's name).
    description : str or None
    create_paths : bool
        ``[pipeline] create_paths``.
    run_name : str or None
        ``[pipeline] run_name``.
    jobs : int or None
        ``[pipeline] jobs``.
    paths : dict
        ``[paths]``, absolute.
    build_paths : dict
        ``[build_paths]``.
    vars : dict
        ``[vars]``, interpolated.
    inputs : dict
        Each input set as a list of items (dicts of fields; paths absolute).
    executor_config : dict
        ``[executor]``, interpolated (empty when the file has none).
    steps : list of ExpandedStep
        The expanded steps, in order.
    func_files : list of str
        The ``file.py`` files step functions come from.
    fingerprint : str
        sha256 of the project file's bytes and of the ``func_files`` (see
        :func:`project_fingerprint`).
    complete : bool
        False for ``load_project(..., steps=False)``: no inputs, steps or fingerprint.
    """

    def __init__(self, **fields: Any) -> None:
        self.path: Path = fields["path"]
        self.base_dir: str = fields["base_dir"]
        self.name: str = fields["name"]
        self.description: str | None = fields.get("description")
        self.create_paths: bool = fields["create_paths"]
        self.run_name: str | None = fields.get("run_name")
        self.jobs: int | None = fields.get("jobs")
        self.paths: dict[str, str] = fields["paths"]
        self.build_paths: dict[str, str] = fields["build_paths"]
        self.vars: dict[str, Any] = fields["vars"]
        self.inputs: dict[str, list[dict[str, Any]]] = fields["inputs"]
        self.executor_config: dict[str, Any] = fields["executor_config"]
        self.steps: list[ExpandedStep] = fields["steps"]
        self.func_files: list[str] = fields["func_files"]
        self.fingerprint: str = fields["fingerprint"]
        self.complete: bool = fields.get("complete", True)

    def __repr__(self) -> str:
        return f"<Project {self.name!r} {self.path} steps={len(self.steps)}>"

    @property
    def log_dir(self) -> str | None:
        """The run directory (``[paths] log``, absolute) or None."""
        return self.paths.get("log")

    def build_pipeline(self, create_paths: bool | None = None) -> Any:
        """Make the :class:`~aw_tui.pipeline.Pipeline` this project describes.

        Parameters
        ----------
        create_paths : bool, optional
            Create missing ``[paths]`` folders without asking; None uses
            ``[pipeline] create_paths``.

        Returns
        -------
        Pipeline
            A new pipeline with one step per expanded step (``step_id`` = index). It also
            carries ``project_path`` and ``project_fingerprint`` attributes, so a resumed
            checkpoint can tell whether the project file changed since.

        Raises
        ------
        PipelineError
            When a path is missing and may not be created (see ``Pipeline``).
        """
        from aw_tui.pipeline import Pipeline

        if not self.complete:
            raise ValueError(f"{self.path} was loaded without its steps: load it with steps")
        pipeline = Pipeline(
            dict(self.paths),
            pipeline_name=self.name,
            create_paths=self.create_paths if create_paths is None else create_paths,
            build_paths=dict(self.build_paths),
            project_path=str(self.path),
            project_fingerprint=self.fingerprint,
        )
        for step in self.steps:
            added = pipeline.add_step(
                step.func,
                list(step.tags),
                step.ignore_errors,
                step.ignore_exceptions,
                independent=step.independent,
                group=step.group,
            )
            # Set afterwards: a function may take kwargs named like add_step's parameters.
            added.func_kwargs = copy.deepcopy(step.kwargs)
        return pipeline

    def steps_table(self) -> list[StepRow]:
        """One row per expanded step: index, step id, tags, function and key inputs.

        The key inputs are the first of the kwargs ``files``, ``filenames``, ``catalogs``,
        ``images``, ``image``, ``filename``, ``catalog`` that the step has (file names only),
        else its first path-like string kwarg.
        """
        return [
            StepRow(step.index, step.index, list(step.tags), step.func.label,
                    key_inputs(step.kwargs))
            for step in self.steps
        ]

    def format_steps_table(self) -> str:
        """:meth:`steps_table` as aligned plain text (for ``aw-tui check``)."""
        header = ("#", "id", "tags", "func", "inputs")
        rows = [
            (str(r.index), str(r.step_id), ",".join(r.tags), r.func, r.inputs)
            for r in self.steps_table()
        ]
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
                  for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, str):
        return os.path.basename(value.rstrip("/")) or value
    return stringify(value) if not isinstance(value, dict) else ""


def key_inputs(kwargs: dict[str, Any], limit: int = 3) -> str:
    """A short text naming the main input files of a step's kwargs."""
    value: Any = None
    for key in KEY_INPUT_KWARGS:
        if key in kwargs:
            value = kwargs[key]
            break
    else:
        for candidate in kwargs.values():
            if isinstance(candidate, str) and os.sep in candidate:
                value = candidate
                break
    if value is None:
        return ""
    if isinstance(value, dict):
        main = value.get("image", next(iter(value.values()), ""))
        return _short(main) if not isinstance(main, (dict, list)) else ""
    if isinstance(value, list):
        names = [_short(v) for v in value if not isinstance(v, (dict, list))]
        if len(names) <= limit:
            return ", ".join(names)
        return f"{len(names)} files: " + ", ".join(names[:2]) + ", ..."
    return _short(value)


# -- loading ---------------------------------------------------------------------------------
def load_project(
    path: str | os.PathLike[str], check_files: bool = True, steps: bool = True
) -> Project:
    """Read, validate and expand a project file.

    Parameters
    ----------
    path : str or path-like
        The ``.toml`` file, or a folder holding ``project.toml``.
    check_files : bool
        Check that input files exist (glob matches, required companions, explicit items).
        False skips that (to check a project before its data is in place).
    steps : bool
        False reads only ``[pipeline]``, ``[paths]``, ``[build_paths]``, ``[vars]`` and
        ``[executor]``: enough to find the run directory (the TUI opening a run that has a
        checkpoint). The result then has no inputs, no steps and no fingerprint, and
        ``complete`` is False; ``[inputs]`` and ``[steps]`` are not checked.

    Returns
    -------
    Project

    Raises
    ------
    ProjectError
        With every problem found (syntax errors stop at the first one).
    """
    display = os.fspath(path)
    file_path = Path(display).expanduser()
    if file_path.is_dir():
        candidate = file_path / "project.toml"
        if not candidate.is_file():
            raise ProjectError(
                [f"{display}: is a folder without a project.toml\n"
                 "    fix: give the path of the project's .toml file"],
                display,
            )
        file_path = candidate
        display = os.path.join(display, "project.toml")
    try:
        raw_bytes = file_path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(
            [f"{display}: file not found\n    fix: check the path of the project file"], display
        ) from None
    except OSError as exc:
        raise ProjectError(
            [f"{display}: cannot read: {exc.strerror}\n    fix: check its permissions"], display
        ) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw_bytes[: exc.start].count(b"\n") + 1
        raise ProjectError(
            [f"{display}:{line}: not UTF-8 text ({exc.reason})\n"
             "    fix: save the file as UTF-8"],
            display,
        ) from None
    with gc_paused():  # hundreds of thousands of new objects, all kept: see aw_tui.base.gcpause
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError([_syntax_error(display, text, str(exc))], display) from None
        loader = _Loader(file_path.resolve(), display, text, raw_bytes, data, check_files)
        return loader.load(with_steps=steps)


_SYNTAX_HINTS = (
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


def _syntax_error(display: str, text: str, message: str) -> str:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    lines = text.splitlines()
    if match:
        line, col = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
        if "overwrite" in message:
            keys = [key for at, _, key in _Locator(text).duplicates if at == line]
            if keys:
                message += f": '{keys[0]}' is given a second time here"
    else:
        message = re.sub(r"\s*\(at end of document\)\s*$", "", message)
        duplicates = _Locator(text).duplicates if "overwrite" in message else []
        if duplicates:
            line, col, key = duplicates[0]
            message += f": '{key}' is given a second time here"
        else:
            line = max(len(lines), 1)
            col = len(lines[-1]) + 1 if lines else 1
            message += " (at the end of the file)"
    hint = "see https://toml.io/en/v1.0.0 for the TOML syntax"
    for needle, text_hint in _SYNTAX_HINTS:
        if needle in message:
            hint = text_hint
            break
    shown = ""
    if 1 <= line <= len(lines):
        shown = f"\n    | {lines[line - 1]}\n    | {' ' * max(col - 1, 0)}^"
    return f"{display}:{line}:{col}: TOML syntax error: {message}{shown}\n    fix: {hint}"


def project_fingerprint(toml_bytes: bytes, func_files: Iterable[str]) -> str:
    """sha256 (hex) of the project file's bytes and of each ``file.py`` it uses."""
    digest = hashlib.sha256()
    digest.update(b"aw-tui project\0")
    digest.update(toml_bytes)
    for path in sorted(set(func_files)):
        digest.update(b"\0file\0" + os.fsencode(path) + b"\0")
        try:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()


# -- key paths to line numbers ---------------------------------------------------------------
_KEY_PART = r"(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')"
_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(_KEY_PART, text)]


class _Locator:
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


# -- the loader ------------------------------------------------------------------------------
class _Silent(Exception):
    """A reference to something whose own error is already reported."""


_MISSING = object()
_BUSY = object()
_FAILED = object()


#: The file-name shortcuts of ``{item.X}``, computed from the item's main field, in order.
_SHORTCUTS: dict[str, Callable[[str], str]] = {
    "path": lambda main: main,
    "name": os.path.basename,
    "stem": lambda main: os.path.splitext(os.path.basename(main))[0],
    "parent": lambda main: os.path.dirname(main) or ".",
    "suffix": lambda main: os.path.splitext(main)[1],
}


@dataclass(slots=True)
class _Item:
    """One item of an input set."""

    set_name: str
    index: int
    primary: str
    fields: dict[str, Any]
    explicit: frozenset[str] = frozenset()
    #: The shortcuts computed so far, and the main field they are of.
    shortcuts: tuple[str, dict[str, str]] | None = field(default=None, repr=False,
                                                          compare=False)

    def view(self) -> dict[str, Any]:
        """What ``{item.X}`` can name: file-name shortcuts, ``index`` and the fields."""
        out: dict[str, Any] = {}
        main = self.fields.get(self.primary)
        if isinstance(main, str):
            out.update((key, shortcut(main)) for key, shortcut in _SHORTCUTS.items())
        out.update(self.fields)
        out["index"] = self.index
        return out

    def lookup(self, key: str) -> Any:
        """``self.view()[key]`` (or ``_MISSING``), computing only that entry.

        The fields win over the shortcuts and ``index`` over both, as in :meth:`view`; the
        fields are read at each call, so fields added later (derived ones) are seen. A
        shortcut is computed once per item (again if the main field is replaced).
        """
        if key == "index":
            return self.index
        fields = self.fields
        if key in fields:
            return fields[key]
        shortcut = _SHORTCUTS.get(key)
        if shortcut is None:
            return _MISSING
        main = fields.get(self.primary)
        if not isinstance(main, str):
            return _MISSING
        known = self.shortcuts
        if known is None or known[0] is not main:
            known = self.shortcuts = (main, {})
        values = known[1]
        if key not in values:
            values[key] = shortcut(main)
        return values[key]


#: A compiled value (see :meth:`_Loader.compile`): called with a :class:`_Run`.
_Node = Callable[["_Run"], Any]


@dataclass(slots=True)
class _Scope:
    """What references can see where a value is evaluated.

    ``outputs_nodes`` holds the compiled ``outputs_raw`` values (at ``outputs_kp.NAME``).
    """

    where: str = "global"
    item: _Item | None = None
    entry: int | None = None
    outputs_raw: dict[str, Any] | None = None
    outputs_kp: str = ""
    memo: dict[str, Any] = field(default_factory=dict)
    outputs_nodes: dict[str, _Node] | None = None


class _Run:
    """An evaluation of compiled values: its scope, and whether all went well (``ok``, reset
    by whoever reuses it)."""

    __slots__ = ("ok", "scope")

    def __init__(self, scope: _Scope) -> None:
        self.scope = scope
        self.ok = True


_GLOBAL = _Scope()
#: Roots of references whose value does not depend on where they are (see ``resolve``).
_SAME_EVERYWHERE = frozenset(("paths", "vars", "inputs"))
#: ``os.path.normpath`` only removes ``//``, ``.``, ``..`` and a trailing ``/`` on POSIX.
_POSIX_PATHS = os.sep == "/" and os.altsep is None


def _is_normal_abspath(path: str) -> bool:
    """Whether ``path`` is absolute and normalized already (POSIX only; False if unsure).

    Such a path has no ``//``, no component starting with ``.`` and no trailing ``/``: then
    ``os.path.normpath(os.path.expanduser(path))`` is ``path``.
    """
    return (_POSIX_PATHS and path[:1] == "/" and path[-1:] != "/"
            and "//" not in path and "/." not in path)


def _plain_item_key(parts: Sequence[str | Expr]) -> str | None:
    """KEY when a parsed template is only ``{item.KEY}`` (no filters, KEY not ``index``)."""
    if len(parts) != 1 or not isinstance(parts[0], Expr) or parts[0].filters:
        return None
    accessors = parts[0].ref.accessors
    if parts[0].ref.root != "item" or len(accessors) != 1 or accessors[0] == "index":
        return None
    return accessors[0] if isinstance(accessors[0], str) else None


class _Loader:
    """Validates a parsed project file and builds a :class:`Project`."""

    def __init__(
        self,
        path: Path,
        display: str,
        text: str,
        raw_bytes: bytes,
        data: dict[str, Any],
        check_files: bool,
    ) -> None:
        self.path = path
        self.display = display
        self.base_dir = str(path.parent)
        self.raw_bytes = raw_bytes
        self.data = data
        self.check_files = check_files
        self.text = text
        self._locator: _Locator | None = None
        self.errors: list[str] = []
        self._seen: set[str] = set()
        self._memo: dict[str, Any] = {}
        self._known: dict[Ref, Any] = {}
        self._busy: list[str] = []
        self.paths_raw: dict[str, Any] = {}
        self.vars_raw: dict[str, Any] = {}
        self.inputs_raw: dict[str, Any] = {}
        self.items: dict[str, list[_Item]] = {}
        self.step_names: dict[str, int] = {}
        self.step_registry: dict[str, Any] = {}
        self.failed_steps: set[str] = set()
        self.func_files: set[str] = set()

    @property
    def locator(self) -> _Locator:
        """The key path -> line finder of the file, made at the first error."""
        if self._locator is None:
            self._locator = _Locator(self.text)
        return self._locator

    # -- errors ----------------------------------------------------------------------------
    def error(self, keypath: str, message: str, hint: str = "") -> None:
        """Record a problem at ``keypath``."""
        line = self.locator.line_of(keypath) if keypath else None
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
        if _NAME_RE.match(name):
            return True
        self.error(
            keypath,
            f"'{name}' is not a usable {what} name",
            "use letters, digits, '_' and '-', starting with a letter or '_' (it is used in "
            "{...} references)",
        )
        return False

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, raw: Any, keypath: str, scope: _Scope) -> tuple[Any, bool]:
        """Interpolate every string in ``raw``; returns (value, no error)."""
        return self.run(self.compile(raw, keypath), scope)

    def run(self, node: _Node, scope: _Scope) -> tuple[Any, bool]:
        """Evaluate a compiled value in ``scope``; returns (value, no error).

        Problems are reported at the key path of the string they are in; that string is then
        its value, as written.
        """
        run = _Run(scope)
        return node(run), run.ok

    def compile(self, raw: Any, keypath: str) -> _Node:
        """Prepare ``raw`` (at ``keypath``) to be evaluated many times by :meth:`run`.

        Each template is parsed once and each key path made once; the tables and arrays of the
        value are new at every evaluation, as if ``raw`` were walked each time.
        """
        return self._compile(raw, keypath)[0]

    def _compile(self, raw: Any, keypath: str) -> tuple[_Node, bool]:
        """:meth:`compile`, and whether the node gives ``raw`` itself (a constant)."""
        if isinstance(raw, str):
            return self._compile_text(raw, keypath)
        if isinstance(raw, dict):
            entries = [(key, *self._compile(value, f"{keypath}.{key}"))
                       for key, value in raw.items()]
            if all(constant for _, _, constant in entries):
                return (lambda run: dict(raw)), False
            pairs = [(key, node) for key, node, _ in entries]
            return (lambda run: {key: node(run) for key, node in pairs}), False
        if isinstance(raw, list):
            compiled = [self._compile(value, f"{keypath}[{i}]") for i, value in enumerate(raw)]
            if all(constant for _, constant in compiled):
                return (lambda run: list(raw)), False
            nodes = [node for node, _ in compiled]
            return (lambda run: [node(run) for node in nodes]), False
        return (lambda run: raw), True

    def _compile_text(self, raw: str, keypath: str) -> tuple[_Node, bool]:
        """:meth:`_compile` of a string: itself without braces, else its template.

        A problem (unparsable template, bad reference) is reported at ``keypath`` each time
        the node runs (once in the errors: they are deduplicated), and the node then gives the
        string as written, like the old per-item walk.
        """
        try:
            parts = compile_template(raw)
        except InterpolationError as exc:
            message, hint = exc.message, exc.hint

            def broken(run: _Run) -> Any:
                self.error(keypath, message, hint)
                run.ok = False
                return raw

            return broken, False
        if parts is None:
            return (lambda run: raw), True
        evaluate = bind_template(parts, self._getter)

        def template(run: _Run) -> Any:
            try:
                return evaluate(run)
            except InterpolationError as exc:
                self.error(keypath, exc.message, exc.hint)
            except _Silent:
                pass
            run.ok = False
            return raw

        key = _plain_item_key(parts)
        if key is None:
            return template, False

        def item_text(run: _Run) -> Any:
            # "{item.KEY}" of a text field: the text itself (all else: the general way).
            item = run.scope.item
            if item is not None:
                value = item.fields.get(key)
                if type(value) is str:
                    return value
            return template(run)

        return item_text, False

    def _getter(self, ref: Ref) -> Callable[[_Run], Any]:
        """How a compiled template gets the value of ``ref``: :meth:`resolve` in the run's
        scope, with shortcuts for ``{item.KEY...}`` and for values already known."""
        if ref.root == "item" and ref.accessors and isinstance(ref.accessors[0], str):
            return self._item_getter(ref)
        if ref.root == "outputs" and ref.accessors and isinstance(ref.accessors[0], str):
            return self._output_getter(ref)
        if ref.root in _SAME_EVERYWHERE:
            known: list[Any] = []  # the value, once resolve gave it (see resolve)

            def known_value(run: _Run) -> Any:
                if not known:
                    known.append(self.resolve(ref, run.scope))
                return known[0]

            return known_value
        return lambda run: self.resolve(ref, run.scope)

    def _output_getter(self, ref: Ref) -> Callable[[_Run], Any]:
        """The getter of ``{outputs.NAME...}``: the value in the scope's memo once computed
        (as :meth:`resolve` gives it then), else through ``resolve``."""
        rest = ref.accessors[1:]
        label = f"outputs.{ref.accessors[0]}"

        def output_value(run: _Run) -> Any:
            value = run.scope.memo.get(label, _MISSING)
            if value is _MISSING or value is _BUSY or value is _FAILED:
                return self.resolve(ref, run.scope)
            return navigate(value, rest, ref.text, label) if rest else value

        return output_value

    def _item_getter(self, ref: Ref) -> Callable[[_Run], Any]:
        """The getter of ``{item.KEY...}``: what :meth:`_resolve_item` gives, computed from
        the item's ``lookup`` directly (through ``resolve`` when it fails, for its error)."""
        key, rest = ref.accessors[0], ref.accessors[1:]
        assert isinstance(key, str)
        done = f"item.{key}"

        def item_value(run: _Run) -> Any:
            item = run.scope.item
            if item is not None:
                value = item.lookup(key)
                if value is not _MISSING:
                    return navigate(value, rest, ref.text, done) if rest else value
            return self.resolve(ref, run.scope)

        return item_value

    def lazy(self, memo: dict[str, Any], label: str,
             compute: Callable[[], tuple[Any, bool]]) -> Any:
        """Compute a named value once, detecting circular references."""
        state = memo.get(label, _MISSING)
        if state is _BUSY:
            chain = [*self._busy[self._busy.index(label):], label]
            raise InterpolationError(
                "circular reference: " + " -> ".join(chain),
                "break the loop: one of these values must not refer back to the others",
            )
        if state is _FAILED:
            raise _Silent
        if state is not _MISSING:
            return state
        memo[label] = _BUSY
        self._busy.append(label)
        try:
            value, ok = compute()
        except BaseException:
            memo[label] = _FAILED
            raise
        finally:
            self._busy.pop()
        if not ok:
            memo[label] = _FAILED
            raise _Silent
        memo[label] = value
        return value

    def resolve(self, ref: Ref, scope: _Scope) -> Any:
        """The value of a reference in ``scope``.

        A reference to ``paths``, ``vars`` or ``inputs`` has the same value everywhere once
        known, so that is kept (the users of a value copy it or make text of it, never change
        it); a failed one is tried again, to report its problem where it is used.
        """
        root = ref.root
        if root == "item":
            return self._resolve_item(ref, scope)
        if root in _SAME_EVERYWHERE:
            value = self._known.get(ref, _MISSING)
            if value is _MISSING:
                value = self._known[ref] = self._resolve(ref, scope)
            return value
        return self._resolve(ref, scope)

    def _resolve(self, ref: Ref, scope: _Scope) -> Any:
        root, accessors = ref.root, ref.accessors
        if root not in ROOTS:
            hint = did_you_mean(root, ROOTS)
            raise InterpolationError(
                f"unknown reference {{{ref.text}}}",
                (hint + " " if hint else "")
                + "references start with " + ", ".join(f"{r}." for r in ROOTS)
                + " (write '{{' and '}}' for literal braces)",
            )
        if not accessors or not isinstance(accessors[0], str):
            raise InterpolationError(
                f"{{{ref.text}}} needs a name after '{root}.'",
                {
                    "paths": "write {paths.NAME} with a NAME from [paths]",
                    "vars": "write {vars.NAME} with a NAME from [vars]",
                    "env": "write {env.NAME} with an environment variable NAME",
                    "inputs": "write {inputs.SET[*].FIELD} with an input set SET",
                    "steps": "write {steps.NAME.outputs.KEY} with an earlier step's name",
                    "outputs": "write {outputs.KEY} with a KEY of this step's outputs",
                }[root],
            )
        name, rest = accessors[0], accessors[1:]
        if root == "paths":
            self._need(name, self.paths_raw, ref, "paths", "[paths]")
            value = self.get_path(name)
        elif root == "vars":
            self._need(name, self.vars_raw, ref, "vars", "[vars]")
            value = self.get_var(name)
        elif root == "env":
            if name not in os.environ:
                raise InterpolationError(
                    f"environment variable '{name}' is not set, in {{{ref.text}}}",
                    f"set it before running (export {name}=...) or use a [vars] value",
                )
            value = os.environ[name]
        elif root == "inputs":
            self._need(name, self.inputs_raw, ref, "inputs", "an [inputs.NAME] table")
            value = [dict(item.fields) for item in self.get_input(name)]
        elif root == "steps":
            value = self._resolve_step(name, ref, scope)
        else:  # outputs
            if scope.outputs_raw is None:
                raise InterpolationError(
                    f"{{{ref.text}}}: 'outputs' only exists inside a [[steps]] table",
                    "use {steps.NAME.outputs.KEY} for another step's outputs, or a [vars] "
                    "value",
                )
            self._need(name, scope.outputs_raw, ref, "outputs", "this step's outputs table")
            value = self.lazy(scope.memo, f"outputs.{name}",
                              lambda: self._evaluate_output(name, scope))
        if not rest:
            return value
        return navigate(value, rest, ref.text, f"{root}.{name}")

    def _evaluate_output(self, name: str, scope: _Scope) -> tuple[Any, bool]:
        """The value of ``outputs.NAME`` in a step's scope (compiled once per step)."""
        assert scope.outputs_nodes is not None
        return self.run(scope.outputs_nodes[name], scope)

    def _need(self, name: str, table: dict[str, Any], ref: Ref, root: str, where: str) -> None:
        if name in table:
            return
        hint = did_you_mean(name, list(table), prefix=f"{root}.")
        known = ", ".join(table) or "none"
        raise InterpolationError(
            f"{{{ref.text}}} refers to '{root}.{name}', which is not defined",
            (hint if hint else f"define '{name}' in {where} or fix the name")
            + f" ({root} defined: {known})",
        )

    def _resolve_item(self, ref: Ref, scope: _Scope) -> Any:
        if scope.item is None:
            raise InterpolationError(
                f"{{{ref.text}}}: 'item' only exists in a foreach step or in "
                "[inputs.NAME.fields]",
                'add foreach = "SET" to this step, or use {inputs.SET[0].FIELD}',
            )
        accessors = ref.accessors
        if not accessors:
            return dict(scope.item.fields)
        first = accessors[0]
        if not isinstance(first, str):
            return navigate(scope.item.view(), accessors, ref.text, "item")
        value = scope.item.lookup(first)
        if value is _MISSING:
            self._no_item_field(ref, scope.item, first)
        if len(accessors) == 1:
            return value
        return navigate(value, accessors[1:], ref.text, f"item.{first}")

    @staticmethod
    def _no_item_field(ref: Ref, item: _Item, first: str) -> NoReturn:
        """Raise the error of ``{item.FIRST...}`` naming a field the item does not have."""
        view = item.view()
        hint = did_you_mean(first, list(view), prefix="item.")
        fields = ", ".join(item.fields)
        raise InterpolationError(
            f"{{{ref.text}}}: items of input set '{item.set_name}' have no field '{first}'",
            (hint + " " if hint else "")
            + f"fields: {fields} (plus index, path, name, stem, parent, suffix of "
            f"'{item.primary}'); add it to the items or under [inputs.{item.set_name}.fields]",
        )

    def _resolve_step(self, name: str, ref: Ref, scope: _Scope) -> Any:
        if scope.entry is None:
            raise InterpolationError(
                f"{{{ref.text}}}: 'steps' can only be used inside a [[steps]] table",
                "refer to steps from the kwargs or outputs of a later step",
            )
        if name not in self.step_names:
            hint = did_you_mean(name, list(self.step_names), prefix="steps.")
            raise InterpolationError(
                f"{{{ref.text}}}: no step is named '{name}'",
                (hint + " " if hint else "")
                + f'give that step name = "{name}" (named steps: '
                + (", ".join(self.step_names) or "none") + ")",
            )
        position = self.step_names[name]
        if position >= scope.entry:
            raise InterpolationError(
                f"{{{ref.text}}}: step '{name}' is steps[{position}], not before this step",
                "a step can only use the outputs and kwargs of the steps before it",
            )
        if name in self.failed_steps or name not in self.step_registry:
            raise _Silent
        return self.step_registry[name]

    # -- the tables ------------------------------------------------------------------------
    def load(self, with_steps: bool = True) -> Project:
        data = self.data
        self.unknown_keys(data, TOP_KEYS, "", "the project file")
        pipeline_table = self.table(data, "pipeline")
        self.paths_raw = self.table(data, "paths")
        build_raw = self.table(data, "build_paths")
        self.vars_raw = self.table(data, "vars")
        executor_raw = self.table(data, "executor")
        self.inputs_raw = self.table(data, "inputs")

        settings = self.load_pipeline_table(pipeline_table)
        paths = self.load_paths()
        build_paths = self.load_build_paths(build_raw)
        variables = self.load_vars()
        executor = self.load_executor(executor_raw)
        inputs = self.load_inputs() if with_steps else {}
        steps = self.load_steps() if with_steps else []
        if self.errors:
            raise ProjectError(self.errors, self.display)
        func_files = sorted(self.func_files)
        return Project(
            path=self.path,
            base_dir=self.base_dir,
            name=settings.get("name") or os.path.basename(self.base_dir) or "pipeline",
            description=settings.get("description"),
            create_paths=bool(settings.get("create_paths", False)),
            run_name=settings.get("run_name"),
            jobs=settings.get("jobs"),
            paths=paths,
            build_paths=build_paths,
            vars=variables,
            inputs=inputs,
            executor_config=executor,
            steps=steps,
            func_files=func_files,
            fingerprint=project_fingerprint(self.raw_bytes, func_files) if with_steps else "",
            complete=with_steps,
        )

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.error(key, f"[{key}] must be a table, got {type_name(value)}",
                       f"write it as a [{key}] section with key = value lines")
            return {}
        return value

    def abspath(self, value: str) -> str:
        """``value`` made absolute (relative to the project's folder) and normalized."""
        if _is_normal_abspath(value):
            return value
        path = os.path.expanduser(value)
        if not os.path.isabs(path):
            path = os.path.join(self.base_dir, path)
        return os.path.normpath(path)

    def load_pipeline_table(self, table: dict[str, Any]) -> dict[str, Any]:
        self.unknown_keys(table, PIPELINE_KEYS, "pipeline", "[pipeline]")
        out: dict[str, Any] = {}
        for key, kind in PIPELINE_KEYS.items():
            if key not in table:
                continue
            value, ok = self.evaluate(table[key], f"pipeline.{key}", _GLOBAL)
            if not ok:
                continue
            if not self.check_type(value, kind, f"pipeline.{key}"):
                continue
            if key == "jobs" and value < 1:
                self.error("pipeline.jobs", f"jobs must be 1 or more, got {value}",
                           "set jobs = 1 to run one step at a time")
                continue
            if key in ("name", "run_name") and not value.strip():
                self.error(f"pipeline.{key}", f"{key} is empty", f"remove {key} or give text")
                continue
            if key == "run_name" and ("/" in value or os.sep in value):
                self.error("pipeline.run_name", f"run_name '{value}' contains '/'",
                           "use a plain name: it becomes pipeline-<run_name>.p")
                continue
            out[key] = value
        return out

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
        hint = expected.get(kinds[0], ("", "see " + _DOCS))[1]
        self.error(keypath, f"must be {names}, got {type_name(value)} ({value!r})", hint)
        return False

    def get_path(self, name: str) -> str:
        def compute() -> tuple[Any, bool]:
            raw = self.paths_raw[name]
            keypath = f"paths.{name}"
            if not isinstance(raw, str):
                self.check_type(raw, str, keypath)
                return None, False
            value, ok = self.evaluate(raw, keypath, _GLOBAL)
            if not ok:
                return None, False
            if not isinstance(value, str) or not value.strip():
                self.error(keypath, f"a path must be non-empty text, got {value!r}",
                           'write a folder, e.g. temp = "work/temp"')
                return None, False
            return self.abspath(value), True

        return self.lazy(self._memo, f"paths.{name}", compute)

    def load_paths(self) -> dict[str, str]:
        out = {}
        for name in self.paths_raw:
            if not self.check_name(name, f"paths.{name}", "path"):
                continue
            try:
                out[name] = self.get_path(name)
            except (_Silent, InterpolationError):
                pass
        return out

    def load_build_paths(self, table: dict[str, Any]) -> dict[str, str]:
        out = {}
        known_lower = {t.lower(): t for t in KNOWN_TOOLS}
        for tool, raw in table.items():
            keypath = f"build_paths.{tool}"
            if tool.lower() not in known_lower:
                close = difflib.get_close_matches(tool.lower(), list(known_lower), n=1,
                                                  cutoff=0.75)
                if close:
                    self.error(keypath, f"unknown tool '{tool}'",
                               f"did you mean '{known_lower[close[0]]}'?")
                    continue
            if not self.check_type(raw, str, keypath):
                continue
            value, ok = self.evaluate(raw, keypath, _GLOBAL)
            if not ok or not self.check_type(value, str, keypath):
                continue
            command = os.path.expanduser(value)
            if ("/" in command or os.sep in command) and not os.path.isabs(command):
                command = os.path.normpath(os.path.join(self.base_dir, command))
            out[tool] = command
        return out

    def get_var(self, name: str) -> Any:
        return self.lazy(
            self._memo,
            f"vars.{name}",
            lambda: self.evaluate(self.vars_raw[name], f"vars.{name}", _GLOBAL),
        )

    def load_vars(self) -> dict[str, Any]:
        out = {}
        for name in self.vars_raw:
            if not self.check_name(name, f"vars.{name}", "var"):
                continue
            try:
                out[name] = self.get_var(name)
            except (_Silent, InterpolationError):
                pass
        return out

    def load_executor(self, table: dict[str, Any]) -> dict[str, Any]:
        if not table:
            return {}
        if "kind" in table:
            kind = table["kind"]
            if not isinstance(kind, str) or kind not in EXECUTOR_KINDS:
                hint = did_you_mean(str(kind), EXECUTOR_KINDS)
                self.error("executor.kind", f"unknown executor kind {kind!r}",
                           (hint + " " if hint else "") + "kinds: " + ", ".join(EXECUTOR_KINDS))

        def check(value: Any, keypath: str) -> None:
            if isinstance(value, dict):
                for key, sub in value.items():
                    check(sub, f"{keypath}.{key}")
            elif isinstance(value, list):
                for i, sub in enumerate(value):
                    if isinstance(sub, (dict, list)):
                        self.error(f"{keypath}[{i}]",
                                   f"arrays in [executor] hold plain values, got "
                                   f"{type_name(sub)}",
                                   "use strings, numbers or booleans in the array")
            elif not isinstance(value, (str, int, float, bool)):
                self.error(keypath, f"unsupported value {type_name(value)}",
                           "use strings, numbers, booleans, arrays or tables")

        check(table, "executor")
        value, _ = self.evaluate(table, "executor", _GLOBAL)
        return value

    # -- input sets ------------------------------------------------------------------------
    def get_input(self, name: str) -> list[_Item]:
        return self.lazy(self._memo, f"inputs.{name}", lambda: self.build_input(name))

    def load_inputs(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for name in self.inputs_raw:
            if not self.check_name(name, f"inputs.{name}", "input set"):
                continue
            try:
                items = self.get_input(name)
            except (_Silent, InterpolationError):
                continue
            self.items[name] = items
            out[name] = [dict(item.fields) for item in items]
        return out

    def _string_list(self, table: dict[str, Any], key: str, keypath: str,
                     allow_str: bool = False) -> list[str] | None:
        value = table.get(key, [])
        if allow_str and isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.error(f"{keypath}.{key}", f"{key} must be an array of strings, got "
                   f"{type_name(value)}", f'write {key} = ["...", "..."]')
        return None

    def build_input(self, name: str) -> tuple[list[_Item], bool]:
        raw = self.inputs_raw[name]
        kp = f"inputs.{name}"
        if not isinstance(raw, dict):
            self.error(kp, f"an input set must be a table, got {type_name(raw)}",
                       f"write [inputs.{name}] with items = [...] or glob = \"...\"")
            return [], False
        self.unknown_keys(raw, INPUT_KEYS, kp, f"[inputs.{name}]")
        primary = raw.get("field", "image")
        ok = True
        if not isinstance(primary, str) or not _NAME_RE.match(primary) or primary == "index":
            self.error(f"{kp}.field", f"field must be a field name, got {primary!r}",
                       'write field = "image" (the name the glob match gets)')
            return [], False
        text_fields = self._string_list(raw, "text_fields", kp)
        required = self._string_list(raw, "required", kp)
        derived = raw.get("fields", {})
        if not isinstance(derived, dict):
            self.error(f"{kp}.fields", f"fields must be a table, got {type_name(derived)}",
                       f"write [inputs.{name}.fields] with lines such as "
                       'wtmap = "{item.parent}/{item.stem}.wtmap.fits"')
            derived, ok = {}, False
        if text_fields is None or required is None:
            return [], False
        for fname in derived:
            if fname == "index" or not _NAME_RE.match(fname):
                self.error(f"{kp}.fields.{fname}", f"'{fname}' cannot be a field name",
                           "use letters, digits and '_' ('index' is reserved)")
                ok = False
        if ("items" in raw) == ("glob" in raw):
            self.error(kp, "give either items = [...] or glob = \"...\""
                       + (" (not both)" if "items" in raw else ""),
                       'list the files (items = [{image = "a.fits"}, ...]) or match them '
                       '(glob = "images/*.fits")')
            return [], False
        if "items" in raw:
            items, explicit_ok = self._explicit_items(raw["items"], kp, primary, text_fields)
            ok = ok and explicit_ok
        else:
            items, glob_ok = self._glob_items(raw, kp, primary)
            ok = ok and glob_ok
        if not ok:
            return items, False
        explicit_names = {key for item in items for key in item.fields}
        ok = self._derive_fields(items, derived, kp, text_fields)
        if not ok:
            return items, False
        known = explicit_names | set(derived)
        for fname in required:
            if fname not in known:
                hint = did_you_mean(fname, sorted(known))
                self.error(f"{kp}.required", f"required field '{fname}' is not a field of "
                           f"the set", (hint + " " if hint else "")
                           + f"define it under [inputs.{name}.fields]; fields: "
                           + ", ".join(sorted(known)))
                ok = False
        if self.check_files:
            self._check_companions(items, required, kp, derived)
        return items, ok

    def _derive_fields(self, items: list[_Item], derived: dict[str, Any], kp: str,
                       text_fields: list[str]) -> bool:
        """Add the ``[inputs.NAME.fields]`` an item does not give, in order; False on errors.

        Each template is compiled once for the whole set.
        """
        if not derived:
            return True
        nodes = {fname: self.compile(template, f"{kp}.fields.{fname}")
                 for fname, template in derived.items()}
        text_set = set(text_fields)
        ok = True
        scope = _Scope(where=kp)
        for item in items:
            scope.item = item
            for fname, node in nodes.items():
                if fname in item.fields:
                    continue
                value, good = self.run(node, scope)
                if not good:
                    ok = False
                    continue
                if isinstance(value, str) and fname not in text_set:
                    value = self.abspath(value)
                item.fields[fname] = value
        return ok

    def _explicit_items(self, raw_items: Any, kp: str, primary: str,
                        text_fields: list[str]) -> tuple[list[_Item], bool]:
        name = kp.split(".", 1)[1]
        if not isinstance(raw_items, list):
            self.error(f"{kp}.items", f"items must be an array, got {type_name(raw_items)}",
                       'write items = [{image = "a.fits", wtmap = "a.wtmap.fits"}, ...]')
            return [], False
        if not raw_items:
            self.error(f"{kp}.items", "items is empty",
                       "list at least one item, or remove the set and the steps using it")
            return [], False
        items: list[_Item] = []
        ok = True
        text_set = set(text_fields)
        good_names: set[str] = set()
        primary_is_text = primary in text_set
        only_primary = frozenset((primary,))
        for index, raw in enumerate(raw_items):
            if isinstance(raw, str):
                if primary_is_text and not has_refs(raw):  # a plain name: nothing to check
                    items.append(_Item(name, index, primary, {primary: raw}, only_primary))
                    continue
                raw = {primary: raw}
            elif not isinstance(raw, dict):
                self.error(f"{kp}.items[{index}]",
                           f"an item must be a table or a file name, got {type_name(raw)}",
                           'write {image = "a.fits", wtmap = "a.wtmap.fits"} or "a.fits"')
                ok = False
                continue
            fields: dict[str, Any] = {}
            for fname, value in raw.items():
                if fname not in good_names:
                    if fname == "index" or not _NAME_RE.match(fname):
                        self.error(f"{kp}.items[{index}].{fname}",
                                   f"'{fname}' cannot be a field name",
                                   "use letters, digits and '_' ('index' is reserved)")
                        ok = False
                        continue
                    good_names.add(fname)
                if isinstance(value, str) and not has_refs(value) and fname in text_set:
                    fields[fname] = value  # plain text: nothing to do
                    continue
                value, good = self._item_field(value, f"{kp}.items[{index}].{fname}", fname,
                                               primary, fname in text_set)
                if not good:
                    ok = False
                    continue
                fields[fname] = value
            if primary not in fields and ok:
                self.error(f"{kp}.items[{index}]", f"item has no '{primary}' field",
                           f"give {primary} = \"...\" in every item, or set field = \"...\" "
                           f"in [inputs.{name}] to the name of the main file")
                ok = False
            items.append(_Item(name, index, primary, fields, frozenset(fields)))
        return items, ok

    def _item_field(self, value: Any, fkp: str, fname: str, primary: str,
                    is_text: bool) -> tuple[Any, bool]:
        """One field of an explicit item, interpolated (a file: absolute, checked)."""
        if isinstance(value, (dict, list)):
            self.error(fkp, f"item fields hold plain values, got {type_name(value)}",
                       "give a file name, a number or a boolean")
            return value, False
        if isinstance(value, str) and has_refs(value):
            value, good = self.evaluate(value, fkp, _GLOBAL)
            if not good:
                return value, False
        if isinstance(value, str) and not is_text:
            value = self.abspath(value)
            if self.check_files and not os.path.exists(value):
                self.error(fkp, f"file not found: {value}",
                           "correct the path (relative paths start at the project "
                           f"folder {self.base_dir})"
                           + (f", or add '{fname}' to text_fields if it is not a file"
                              if fname != primary else ""))
        return value, True

    def _glob_items(self, raw: dict[str, Any], kp: str, primary: str) -> tuple[list[_Item], bool]:
        name = kp.split(".", 1)[1]
        patterns = self._string_list(raw, "glob", kp, allow_str=True)
        excludes = self._string_list(raw, "exclude", kp, allow_str=True)
        if patterns is None or excludes is None:
            return [], False
        resolved: list[str] = []
        for i, pattern in enumerate(patterns):
            gkp = f"{kp}.glob" + (f"[{i}]" if isinstance(raw.get("glob"), list) else "")
            value, good = self.evaluate(pattern, gkp, _GLOBAL)
            if not good:
                return [], False
            if not isinstance(value, str):
                self.check_type(value, str, gkp)
                return [], False
            resolved.append(self.abspath(value))
        exclude_abs = [self.abspath(p) if ("/" in p or os.sep in p) else p for p in excludes]
        found: list[str] = []
        seen: set[str] = set()
        matched = 0
        for pattern in resolved:
            for match in sorted(glob.glob(pattern, recursive=True)):
                if not os.path.isfile(match) or match in seen:
                    continue
                matched += 1
                seen.add(match)
                base = os.path.basename(match)
                if any(
                    fnmatch.fnmatch(match if ("/" in ex or os.sep in ex) else base, ex)
                    for ex in exclude_abs
                ):
                    continue
                found.append(os.path.normpath(match))
        found.sort()
        if not found and self.check_files:
            shown = ", ".join(repr(p) for p in patterns)
            if matched:
                self.error(f"{kp}.exclude", f"all {matched} files matched by {shown} are "
                           "excluded", "loosen the exclude patterns")
            else:
                folders = ", ".join(sorted({os.path.dirname(p) for p in resolved}))
                self.error(f"{kp}.glob", f"{shown} matched no files (looked in {folders})",
                           "check the pattern and that the files are there (relative "
                           f"patterns start at the project folder {self.base_dir})")
        return [_Item(name, i, primary, {primary: path}) for i, path in enumerate(found)], True

    def _check_companions(self, items: list[_Item], required: list[str], kp: str,
                          derived: dict[str, Any]) -> None:
        for fname in required:
            missing = [
                (item, item.fields.get(fname))
                for item in items
                if fname not in item.explicit
                and isinstance(item.fields.get(fname), str)
                and not os.path.exists(item.fields[fname])
            ]
            if not missing:
                continue
            fkp = f"{kp}.fields.{fname}" if fname in derived else f"{kp}.required"
            shown = [f"{path} (for {os.path.basename(str(item.fields.get(item.primary)))})"
                     for item, path in missing[:5]]
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            self.error(fkp, f"required '{fname}' not found: " + "; ".join(shown) + more,
                       f"put the {fname} files there, fix the pattern under "
                       f"[{kp}.fields], or remove '{fname}' from required")

    # -- steps -----------------------------------------------------------------------------
    def load_steps(self) -> list[ExpandedStep]:
        raw = self.data.get("steps")
        if raw is None:
            self.error("", "the project has no steps",
                       'add at least one [[steps]] table with func = "..."')
            return []
        if isinstance(raw, dict):
            self.error("steps", "steps must be an array of tables, got a single table",
                       "write [[steps]] (double brackets) before each step")
            return []
        if not isinstance(raw, list) or not raw:
            self.error("steps", f"steps must be an array of tables, got {type_name(raw)}",
                       'add [[steps]] tables with func = "..."')
            return []
        for position, entry in enumerate(raw):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name = entry["name"]
                if name in self.step_names:
                    self.error(f"steps[{position}].name",
                               f"step name '{name}' is already used by "
                               f"steps[{self.step_names[name]}]",
                               "give every step a different name")
                else:
                    self.step_names[name] = position
        expanded: list[ExpandedStep] = []
        for position, entry in enumerate(raw):
            expanded.extend(self.load_step(position, entry, len(expanded)))
        return expanded

    def _flag(self, entry: dict[str, Any], key: str, kp: str, default: bool) -> bool:
        if key not in entry:
            return default
        value, ok = self.evaluate(entry[key], f"{kp}.{key}", _GLOBAL)
        if ok and self.check_type(value, bool, f"{kp}.{key}"):
            return value
        return default

    def _resolve_func(self, entry: dict[str, Any], kp: str) -> tuple[FuncRef | None, Any]:
        if "func" not in entry:
            self.error(kp, "step has no func",
                       'add func = "sextractor" (built-ins: ' + ", ".join(BUILTIN_FUNCS)
                       + "), func = \"module:function\" or func = \"file.py:function\"")
            return None, None
        spec = entry["func"]
        if not isinstance(spec, str):
            self.check_type(spec, str, f"{kp}.func")
            return None, None
        try:
            ref = FuncRef(spec, self.base_dir)
        except FuncRefError as exc:
            self.error(f"{kp}.func", exc.message, exc.hint)
            return None, None
        if ref.kind == "file" and os.path.isfile(ref.target):
            self.func_files.add(ref.target)
        try:
            func = ref.resolve()
        except FuncRefError as exc:
            if ref.kind == "builtin":
                return ref, None  # resolved lazily when the step runs
            message = exc.message
            if ref.kind == "module" and ":" not in spec:
                message += (" (not a built-in name either: built-ins are "
                            + ", ".join(BUILTIN_FUNCS) + ")")
            self.error(f"{kp}.func", message, exc.hint)
            return None, None
        return ref, func

    def _check_signature(self, ref: FuncRef, func: Any, kwargs: dict[str, Any],
                         kp: str) -> None:
        for key in kwargs:
            if key in RESERVED_KWARGS:
                self.error(f"{kp}.kwargs.{key}", f"'{key}' is passed by the pipeline itself",
                           f"remove {key} from the kwargs")
        if func is None:
            return
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = [n for n, p in params.items() if p.kind in kinds]
        takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not takes_any:
            for key in kwargs:
                if key in names or key in RESERVED_KWARGS:
                    continue
                hint = did_you_mean(key, names)
                self.error(f"{kp}.kwargs.{key}", f"{ref.label} takes no argument '{key}'",
                           (hint + " " if hint else "") + f"{ref.label} takes: "
                           + ", ".join(n for n in names if n not in RESERVED_KWARGS))
        for pname in names:
            param = params[pname]
            if (param.default is inspect.Parameter.empty and pname not in kwargs
                    and pname not in RESERVED_KWARGS):
                self.error(f"{kp}.kwargs", f"{ref.label} needs the argument '{pname}'",
                           f"add {pname} = ... to this step's kwargs")

    def _expand(self, items: list[_Item | None], kp: str, position: int,
                raws: tuple[list[str], dict[str, Any], dict[str, Any]],
                ) -> tuple[list[tuple[_Item | None, list[str], dict[str, Any], dict[str, Any]]],
                           bool]:
        """Evaluate a step's ``(tags, kwargs, outputs)`` tables for each item.

        Each is compiled once; one scope is reused, with a fresh outputs memo per item.

        Returns
        -------
        list of (item, tags, kwargs, outputs)
            For the items whose tags and kwargs have no error, in order.
        bool
            No error at all.
        """
        tags_raw, kwargs_raw, outputs_raw = raws
        outputs_kp = f"{kp}.outputs"
        outputs_nodes = {oname: self.compile(value, f"{outputs_kp}.{oname}")
                         for oname, value in outputs_raw.items()}
        output_refs = {oname: Ref("outputs", (oname,), f"outputs.{oname}")
                       for oname in outputs_raw if _NAME_RE.match(oname)}
        tags_node = self.compile(tags_raw, f"{kp}.tags")
        kwargs_node = self.compile(kwargs_raw, f"{kp}.kwargs")
        scope = _Scope(where=kp, entry=position, outputs_raw=outputs_raw,
                       outputs_kp=outputs_kp, outputs_nodes=outputs_nodes)
        run = _Run(scope)
        expanded = []
        ok = True
        for item in items:
            scope.item = item
            outputs: dict[str, Any] = {}
            if outputs_raw:
                scope.memo = {}
                outputs, outputs_ok = self._step_outputs(output_refs, scope)
                ok = ok and outputs_ok
            run.ok = True
            tags = tags_node(run)
            kwargs = kwargs_node(run)
            if not run.ok:
                ok = False
                continue
            tags = [t if isinstance(t, str) else stringify(t) for t in tags]
            expanded.append((item, tags, kwargs, outputs))
        return expanded, ok

    def _step_outputs(self, refs: dict[str, Ref], scope: _Scope) -> tuple[dict[str, Any], bool]:
        """The ``outputs`` of one expanded step (``refs``: those with a usable name)."""
        assert scope.outputs_raw is not None
        outputs: dict[str, Any] = {}
        ok = True
        for oname in scope.outputs_raw:
            ref = refs.get(oname)
            if ref is None:
                self.check_name(oname, f"{scope.outputs_kp}.{oname}", "output")
                ok = False
                continue
            try:
                outputs[oname] = self.resolve(ref, scope)
            except _Silent:
                ok = False
            except InterpolationError as exc:  # pragma: no cover - defensive
                self.error(f"{scope.outputs_kp}.{oname}", exc.message, exc.hint)
                ok = False
        return outputs, ok

    def load_step(self, position: int, entry: Any, first_index: int) -> list[ExpandedStep]:
        kp = f"steps[{position}]"
        if not isinstance(entry, dict):
            self.error(kp, f"a step must be a table, got {type_name(entry)}",
                       "write each step as a [[steps]] table")
            return []
        name = entry.get("name")
        if isinstance(name, str) and self.step_names.get(name, position) != position:
            name = None  # a duplicate name, reported already
        errors_before = len(self.errors)

        def failed() -> list[ExpandedStep]:
            if isinstance(name, str):
                self.failed_steps.add(name)
            return []

        self.unknown_keys(entry, STEP_KEYS, kp, "a [[steps]] table")
        if name is not None and (not isinstance(name, str)
                                 or not self.check_name(name, f"{kp}.name", "step")):
            if not isinstance(name, str):
                self.check_type(name, str, f"{kp}.name")
            name = None
        ref, func = self._resolve_func(entry, kp)
        tags_raw = entry.get("tags", [])
        if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
            self.error(f"{kp}.tags", f"tags must be an array of strings, got "
                       f"{type_name(tags_raw)} ({tags_raw!r})",
                       'write tags = ["step1", "SExtractor"]')
            tags_raw = None
        ignore_errors = self._flag(entry, "ignore_errors", kp, False)
        ignore_exceptions = self._flag(entry, "ignore_exceptions", kp, False)
        foreach = entry.get("foreach")
        independent = self._flag(entry, "independent", kp, foreach is not None)
        group = entry.get("group")
        if group is not None and not isinstance(group, str):
            self.check_type(group, str, f"{kp}.group")
            group = None
        kwargs_raw = entry.get("kwargs", {})
        if not isinstance(kwargs_raw, dict):
            self.error(f"{kp}.kwargs", f"kwargs must be a table, got {type_name(kwargs_raw)}",
                       "write [steps.kwargs] after the [[steps]] line, with key = value lines")
            kwargs_raw = None
        outputs_raw = entry.get("outputs", {})
        if not isinstance(outputs_raw, dict):
            self.error(f"{kp}.outputs",
                       f"outputs must be a table, got {type_name(outputs_raw)}",
                       'write outputs = { catalog = "{paths.temp}/{item.stem}.cat" }')
            outputs_raw = None
        items: list[_Item | None] = [None]
        if foreach is not None:
            if not isinstance(foreach, str):
                self.check_type(foreach, str, f"{kp}.foreach")
                return failed()
            if foreach not in self.inputs_raw:
                hint = did_you_mean(foreach, list(self.inputs_raw))
                self.error(f"{kp}.foreach", f"no input set named '{foreach}'",
                           (hint + " " if hint else "")
                           + f"declare [inputs.{foreach}] (input sets: "
                           + (", ".join(self.inputs_raw) or "none") + ")")
                return failed()
            try:
                items = list(self.get_input(foreach))
            except (_Silent, InterpolationError):
                return failed()
            if not items:
                if self.check_files:
                    self.error(f"{kp}.foreach", f"input set '{foreach}' is empty",
                               f"put files where [inputs.{foreach}] looks for them")
                return failed() if self.check_files else []
        if ref is None or tags_raw is None or kwargs_raw is None or outputs_raw is None:
            return failed()
        self._check_signature(ref, func, kwargs_raw, kp)
        if foreach is not None:
            group = group or name or kp
        elif independent:
            group = group or name
        else:
            group = None
        steps: list[ExpandedStep] = []
        expanded, ok = self._expand(items, kp, position, (tags_raw, kwargs_raw, outputs_raw))
        group = group if independent else None
        for item, tags, kwargs, outputs in expanded:
            # Positional (twice as quick as keywords for 50,000 steps), in the field order:
            # index, entry, name, item, func, tags, ignore_errors, ignore_exceptions,
            # independent, group, kwargs, outputs.
            steps.append(ExpandedStep(
                first_index + len(steps), position, name,
                item.index if item is not None else None, ref, tags,
                ignore_errors, ignore_exceptions, independent, group, kwargs, outputs,
            ))
        if not ok or len(self.errors) > errors_before:
            return failed()
        if name is not None:
            records = [{"outputs": s.outputs, "kwargs": s.kwargs, "tags": s.tags} for s in steps]
            self.step_registry[name] = records if foreach is not None else records[0]
        return steps
