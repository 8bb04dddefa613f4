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

import contextlib
import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from aw_tui.base.gcpause import gc_paused
from aw_tui.project.errors import ProjectError, Reporter, syntax_error
from aw_tui.project.evaluate import Evaluator
from aw_tui.project.inputs import InputSets
from aw_tui.project.interpolate import InterpolationError, did_you_mean, type_name
from aw_tui.project.limits import (
    COUNT_KEYS,
    MAX_NESTING,
    check_count,
    check_folder,
    check_run_name,
    check_structure,
    deepest_line,
)
from aw_tui.project.model import (
    ExpandedStep,
    Project,
    StepRow,
    key_inputs,
    project_fingerprint,
)
from aw_tui.project.schema import (
    DOCS,
    EXECUTOR_KINDS,
    KNOWN_TOOLS,
    LAUNCHER_KINDS,
    PIPELINE_KEYS,
    SLURM_KEYS,
    TOP_KEYS,
)
from aw_tui.project.scope import GLOBAL, Silent
from aw_tui.project.steps import StepLoader

__all__ = [
    "ExpandedStep",
    "Project",
    "ProjectError",
    "StepRow",
    "key_inputs",
    "load_project",
    "load_project_text",
    "project_fingerprint",
]


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
    return _load_bytes(file_path, display, raw_bytes, check_files, steps)


def load_project_text(
    path: str | os.PathLike[str], text: str | bytes, check_files: bool = True
) -> Project:
    """Load a project from ``text`` as if it were the content of the file ``path``.

    Relative paths, ``file.py`` functions and error messages are those of ``path`` (which
    need not hold ``text``): this checks a new version of a project file before it is
    written (:mod:`aw_tui.project.fileedit`).

    Parameters
    ----------
    path : str or path-like
        The project file (``.toml``) the text is for.
    text : str or bytes
        Its new content (bytes: UTF-8).
    check_files : bool
        As for :func:`load_project`.

    Raises
    ------
    ProjectError
        As :func:`load_project`.
    """
    display = os.fspath(path)
    raw_bytes = text.encode("utf-8") if isinstance(text, str) else text
    return _load_bytes(Path(display).expanduser(), display, raw_bytes, check_files, True)


def _load_bytes(file_path: Path, display: str, raw_bytes: bytes, check_files: bool,
                steps: bool) -> Project:
    """:func:`load_project` once the file's bytes are read."""
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
        data = None
        head = None if steps else head_without_steps(text)
        if head is not None:  # (a file the head of which does not parse: read it all below)
            with contextlib.suppress(tomllib.TOMLDecodeError, RecursionError):
                data = tomllib.loads(head)
        try:
            data = tomllib.loads(text) if data is None else data
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError([syntax_error(display, text, str(exc))], display) from None
        except RecursionError:
            raise ProjectError([_too_deep_to_parse(display, text)], display) from None
        loader = Loader(file_path.resolve(), display, text, raw_bytes, data, check_files)
        try:
            return loader.load(with_steps=steps)
        except RecursionError:
            # The limits (aw_tui.project.limits) are there so that this never happens; should
            # one be missed, the user still gets an error naming the file, not a traceback.
            raise ProjectError(
                [f"{display}: its values nest or refer to each other too deeply to be read\n"
                 f"    fix: flatten them (see 'Limits' in {DOCS})"], display,
            ) from None


_FIRST_STEP = re.compile(r"^[ \t]*\[\[?[ \t]*(?:steps|inputs)[ \t]*[.\]]", re.MULTILINE)
_HEADER = re.compile(r"^[ \t]*\[.*$", re.MULTILINE)
_STEPS_HEADER = re.compile(r"[ \t]*\[\[?[ \t]*(?:steps|inputs)[ \t]*[.\]]")


def head_without_steps(text: str) -> str | None:
    """The part of a project file before its first ``[inputs]`` or ``[[steps]]`` table, when
    only those tables follow it: all that ``load_project(..., steps=False)`` reads, parsed
    in a fraction of the time for a file of thousands of steps or items (a folder of a
    hundred projects lists at once; ``aw-tui PROJECT`` finds the run directory of a project
    of 100,000 items without reading them twice). None when the file does not allow it
    (then it is read whole)."""
    first = _FIRST_STEP.search(text)
    if first is None:
        return None
    for header in _HEADER.finditer(text, first.start()):
        if not _STEPS_HEADER.match(header.group()):
            return None  # [paths] after the steps, or a line of a value that starts with [
    return text[:first.start()]


def _too_deep_to_parse(display: str, text: str) -> str:
    line = deepest_line(text)
    return (f"{display}:{line}: tables and arrays nest too deeply to be read here\n"
            f"    fix: flatten this value: at most {MAX_NESTING} levels of [...] and {{...}} "
            f"(see 'Limits' in {DOCS})")


class Loader:
    """Validates a parsed project file and builds a :class:`Project`: reads the tables in
    order, with an :class:`Evaluator` for the values, :class:`InputSets` for ``[inputs]`` and
    a :class:`StepLoader` for ``[[steps]]``, all reporting to one :class:`Reporter`."""

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
        self.report = Reporter(display, text)
        self.evaluator = Evaluator(self.report, self.base_dir)
        self.inputs = InputSets(self.evaluator, check_files)
        self.steps = StepLoader(self.evaluator, self.inputs, check_files)

    def load(self, with_steps: bool = True) -> Project:
        data = self.data
        check_structure(data, self.report.text, self.report)
        if self.report.errors:  # values that would break what follows: stop here
            raise ProjectError(self.report.errors, self.display)
        self.report.unknown_keys(data, TOP_KEYS, "", "the project file")
        pipeline_table = self.table(data, "pipeline")
        self.evaluator.paths_raw = self.table(data, "paths")
        build_raw = self.table(data, "build_paths")
        self.evaluator.vars_raw = self.table(data, "vars")
        executor_raw = self.table(data, "executor")
        launcher_raw = self.table(data, "launcher")
        self.evaluator.inputs_raw = self.table(data, "inputs")

        settings = self.load_pipeline_table(pipeline_table)
        paths = self.load_paths()
        build_paths = self.load_build_paths(build_raw)
        variables = self.load_vars()
        executor = self.load_executor(executor_raw)
        launcher = self.load_launcher(launcher_raw)
        inputs = self.inputs.load_inputs() if with_steps else {}
        steps = self.steps.load_steps(data.get("steps")) if with_steps else []
        if self.report.errors:
            raise ProjectError(self.report.errors, self.display)
        func_files = sorted(self.steps.func_files)
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
            launcher_config=launcher,
            steps=steps,
            func_files=func_files,
            fingerprint=project_fingerprint(self.raw_bytes, func_files) if with_steps else "",
            complete=with_steps,
        )

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.report.error(key, f"[{key}] must be a table, got {type_name(value)}",
                              f"write it as a [{key}] section with key = value lines")
            return {}
        return value


    def load_pipeline_table(self, table: dict[str, Any]) -> dict[str, Any]:
        self.report.unknown_keys(table, PIPELINE_KEYS, "pipeline", "[pipeline]")
        out: dict[str, Any] = {}
        for key, kind in PIPELINE_KEYS.items():
            if key not in table:
                continue
            value, ok = self.evaluator.evaluate(table[key], f"pipeline.{key}", GLOBAL)
            if not ok:
                continue
            if not self.report.check_type(value, kind, f"pipeline.{key}"):
                continue
            if key == "jobs" and value < 1:
                self.report.error("pipeline.jobs", f"jobs must be 1 or more, got {value}",
                                  "set jobs = 1 to run one step at a time")
                continue
            if key == "jobs" and not check_count(value, "pipeline.jobs", self.report, 1):
                continue
            if key in ("name", "run_name") and not value.strip():
                self.report.error(f"pipeline.{key}", f"{key} is empty",
                                  f"remove {key} or give text")
                continue
            if key == "run_name" and not check_run_name(value, "pipeline.run_name",
                                                        self.report):
                continue
            out[key] = value
        return out

    def load_paths(self) -> dict[str, str]:
        out = {}
        for name in self.evaluator.paths_raw:
            if not self.report.check_name(name, f"paths.{name}", "path"):
                continue
            try:
                value = self.evaluator.get_path(name)
            except (Silent, InterpolationError):
                continue
            if check_folder(value, f"paths.{name}", self.report, run_directory=name == "log"):
                out[name] = value
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
                    self.report.error(keypath, f"unknown tool '{tool}'",
                                      f"did you mean '{known_lower[close[0]]}'?")
                    continue
            if not self.report.check_type(raw, str, keypath):
                continue
            value, ok = self.evaluator.evaluate(raw, keypath, GLOBAL)
            if not ok or not self.report.check_type(value, str, keypath):
                continue
            command = os.path.expanduser(value)
            if ("/" in command or os.sep in command) and not os.path.isabs(command):
                command = os.path.normpath(os.path.join(self.base_dir, command))
            out[tool] = command
        return out

    def load_vars(self) -> dict[str, Any]:
        out = {}
        for name in self.evaluator.vars_raw:
            if not self.report.check_name(name, f"vars.{name}", "var"):
                continue
            try:
                out[name] = self.evaluator.get_var(name)
            except (Silent, InterpolationError):
                pass
        return out

    def load_launcher(self, table: dict[str, Any]) -> dict[str, Any]:
        """``[launcher]``: ``kind`` and the ``[launcher.slurm]`` options, checked."""
        if not table:
            return {}
        self.report.unknown_keys(table, ("kind", "slurm"), "launcher", "[launcher]")
        kind = table.get("kind", "local")
        if kind not in LAUNCHER_KINDS:
            hint = did_you_mean(str(kind), LAUNCHER_KINDS)
            self.report.error("launcher.kind", f"unknown launcher kind {kind!r}",
                              (hint + " " if hint else "") + "kinds: "
                              + ", ".join(LAUNCHER_KINDS))
        slurm = table.get("slurm", {})
        if not isinstance(slurm, dict):
            self.report.error("launcher.slurm", f"must be a table, got {type_name(slurm)}",
                              "write it as a [launcher.slurm] section")
            slurm = {}
        self.report.unknown_keys(slurm, tuple(SLURM_KEYS), "launcher.slurm", "[launcher.slurm]")
        for key, value in slurm.items():
            types = SLURM_KEYS.get(key)
            if types is None:
                continue
            if not isinstance(value, types) or isinstance(value, bool) or (
                    isinstance(value, list) and not all(isinstance(v, str) for v in value)):
                wanted = "an array of strings" if types == (list,) else types[0].__name__
                self.report.error(f"launcher.slurm.{key}",
                                  f"expected {wanted}, got {type_name(value)}",
                                  "see docs/project-file.md, [launcher]")
        value, _ = self.evaluator.evaluate(
            {"kind": kind, "slurm": {k: v for k, v in slurm.items() if k in SLURM_KEYS}},
            "launcher", GLOBAL)
        return value

    def load_executor(self, table: dict[str, Any]) -> dict[str, Any]:
        if not table:
            return {}
        if "kind" in table:
            kind = table["kind"]
            if not isinstance(kind, str) or kind not in EXECUTOR_KINDS:
                hint = did_you_mean(str(kind), EXECUTOR_KINDS)
                self.report.error("executor.kind", f"unknown executor kind {kind!r}",
                                  (hint + " " if hint else "") + "kinds: "
                                  + ", ".join(EXECUTOR_KINDS))

        def check(value: Any, keypath: str) -> None:
            if isinstance(value, dict):
                for key, sub in value.items():
                    check(sub, f"{keypath}.{key}")
            elif isinstance(value, list):
                for i, sub in enumerate(value):
                    if isinstance(sub, (dict, list)):
                        self.report.error(f"{keypath}[{i}]",
                                          f"arrays in [executor] hold plain values, got "
                                          f"{type_name(sub)}",
                                          "use strings, numbers or booleans in the array")
            elif not isinstance(value, (str, int, float, bool)):
                self.report.error(keypath, f"unsupported value {type_name(value)}",
                                  "use strings, numbers, booleans, arrays or tables")

        check(table, "executor")
        value, _ = self.evaluator.evaluate(table, "executor", GLOBAL)
        for key, minimum in COUNT_KEYS.items():
            if key in value:
                check_count(value[key], f"executor.{key}", self.report, minimum)
        return value

