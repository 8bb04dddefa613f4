"""Step functions named in a project file, as small picklable callables.

A project's ``func = "..."`` may be

- a built-in tool name: ``sextractor``, ``scamp``, ``swarp``, ``psfex`` (any case), or the
  seed's spellings ``aw_tui.api.run_sex``, ``aw.api.run_sex``, ``astromatic_wrapper.api.run_sex``
  (``.`` or ``:`` before the function);
- an importable ``module:function`` or ``module.function`` (``module:Class.method`` works too);
- ``file.py:function``, a function in a Python file, relative to the project file's folder.

:class:`FuncRef` stores only that text and the project folder, so a dill checkpoint of a
pipeline reloads in another process (or on a cluster worker) and re-imports the function;
a ``file.py`` is imported again from the file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from aw_tui.astromatic.registry import TOOLS
from aw_tui.base.errors import HintedError
from aw_tui.project.interpolate import did_you_mean

__all__ = [
    "BUILTIN_FUNCS",
    "FuncRef",
    "FuncRefError",
    "builtin_names",
    "load_file_module",
]

#: Built-in step functions: name -> (module, function, label), from the tool registry.
BUILTIN_FUNCS: dict[str, tuple[str, str, str]] = {
    spec.name: ("aw_tui.api", spec.step, spec.code) for spec in TOOLS.values()
}

_SEED_MODULES = ("aw_tui.api", "aw_tui.astromatic.steps", "aw.api", "astromatic_wrapper.api", "astromatic_wrapper")
_BY_FUNCTION = {func: name for name, (_, func, _) in BUILTIN_FUNCS.items()}


def builtin_names() -> list[str]:
    """The built-in ``func`` names."""
    return list(BUILTIN_FUNCS)


class FuncRefError(HintedError):
    """A ``func`` that cannot be parsed, imported or found. (``message`` and ``hint``, see :class:`HintedError`)."""


def _builtin_of(spec: str) -> str | None:
    lowered = spec.strip().lower()
    if lowered in BUILTIN_FUNCS:
        return lowered
    for sep in (":", "."):
        module, _, func = spec.strip().rpartition(sep)
        if module in _SEED_MODULES and func in _BY_FUNCTION:
            return _BY_FUNCTION[func]
    return None


_FILE_LOCK = threading.Lock()
_FILE_MODULES: dict[str, tuple[tuple[int, int], Any]] = {}


def load_file_module(path: str) -> Any:
    """Import a Python file as a module (again if it changed since).

    The module gets a unique name derived from the file's absolute path and is registered in
    ``sys.modules`` (so dataclasses and pickling of its objects work in this process).

    Raises
    ------
    FuncRefError
        When the file is missing or raises while it is imported.
    """
    path = os.path.abspath(path)
    try:
        stat = os.stat(path)
    except OSError:
        raise FuncRefError(
            f"file {path} not found",
            "put the file next to the project file or correct the name before ':'",
        ) from None
    key = (stat.st_mtime_ns, stat.st_size)
    with _FILE_LOCK:
        cached = _FILE_MODULES.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        digest = hashlib.sha1(path.encode()).hexdigest()[:12]
        stem = "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
        name = f"_aw_tui_project_{stem}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise FuncRefError(f"cannot import {path}", "give a Python file ending in .py")
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            if previous is not None:
                sys.modules[name] = previous
            else:
                sys.modules.pop(name, None)
            raise FuncRefError(
                f"importing {path} raised {type(exc).__name__}: {exc}",
                "fix the error in that file (run 'python " + path + "' to see the traceback)",
            ) from exc
        _FILE_MODULES[path] = (key, module)
        return module


def _getattr_path(obj: Any, attr: str, where: str) -> Any:
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(part, names)
            raise FuncRefError(
                f"{where} has no function '{attr}'",
                (hint + " " if hint else "") + "check the name after ':'",
            ) from None
    return obj


class FuncRef:
    """A picklable stand-in for a step function named by text.

    Calling it imports (once per process) and calls the real function. Its
    ``__signature__`` is the real function's, so the engine passes ``pipeline`` and
    ``step_id`` only when the function takes them.

    Parameters
    ----------
    spec : str
        The ``func`` text from the project file.
    base_dir : str, optional
        The project file's folder (for ``file.py:function``).

    Attributes
    ----------
    spec, base_dir : str
        As given.
    kind : str
        ``'builtin'``, ``'module'`` or ``'file'``.
    target : str
        The module name, or the absolute path of the file.
    attr : str
        The function's name in the module (may be dotted).
    label : str
        Short name to display (``'SExtractor'``, ``'save_output'``).

    Raises
    ------
    FuncRefError
        When ``spec`` has none of the accepted forms.
    """

    def __init__(self, spec: str, base_dir: str | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self._func: Callable[..., Any] | None = None
        self.kind, self.target, self.attr, self.label = self._parse(spec, base_dir)
        self.__name__ = self.attr.rpartition(".")[2]
        self.__qualname__ = self.attr

    @staticmethod
    def _parse(spec: str, base_dir: str | None) -> tuple[str, str, str, str]:
        if not isinstance(spec, str) or not spec.strip():
            raise FuncRefError("func is empty", _FUNC_HINT)
        spec = spec.strip()
        builtin = _builtin_of(spec)
        if builtin is not None:
            module, func, label = BUILTIN_FUNCS[builtin]
            return "builtin", module, func, label
        left, sep, right = spec.rpartition(":")
        if sep and left.endswith(".py"):
            path = os.path.expanduser(left)
            if not os.path.isabs(path):
                path = os.path.join(base_dir or os.getcwd(), path)
            if not right.isidentifier() and not all(p.isidentifier() for p in right.split(".")):
                raise FuncRefError(f"'{right}' is not a function name in func '{spec}'",
                                   _FUNC_HINT)
            return "file", os.path.normpath(path), right, right.rpartition(".")[2]
        if sep:
            module, attr = left, right
        else:
            module, _, attr = spec.rpartition(".")
        if not sep and not module:
            hint = did_you_mean(spec.lower(), list(BUILTIN_FUNCS))
            raise FuncRefError(
                f"unknown func '{spec}'",
                (hint + " " if hint else "") + "built-in names: " + ", ".join(BUILTIN_FUNCS)
                + "; or write 'module:function' or 'file.py:function'",
            )
        parts = module.split(".") + attr.split(".")
        if not module or not attr or not all(p.isidentifier() for p in parts):
            raise FuncRefError(f"func '{spec}' is not a known function", _FUNC_HINT)
        return "module", module, attr, attr.rpartition(".")[2]

    # -- resolving ---------------------------------------------------------------------------
    def resolve(self) -> Callable[..., Any]:
        """Import and return the real function (cached).

        Raises
        ------
        FuncRefError
            When it cannot be imported or found, or is not callable.
        """
        if self._func is not None:
            return self._func
        if self.kind == "file":
            module = load_file_module(self.target)
            where = os.path.basename(self.target)
        else:
            try:
                module = importlib.import_module(self.target)
            except ImportError as exc:
                if self.kind == "builtin":
                    hint = "the aw_tui installation is incomplete: reinstall aw-tui"
                else:
                    hint = ("install the package that provides it, or put the function in a "
                            "file next to the project and write func = \"file.py:function\"")
                raise FuncRefError(
                    f"cannot import module '{self.target}' for func '{self.spec}': {exc}", hint
                ) from None
            except Exception as exc:
                raise FuncRefError(
                    f"importing module '{self.target}' raised {type(exc).__name__}: {exc}",
                    "fix the error in that module",
                ) from exc
            where = f"module '{self.target}'"
        func = _getattr_path(module, self.attr, where)
        if not callable(func):
            raise FuncRefError(f"'{self.spec}' is not callable", "name a function")
        if self.kind != "file":
            # Functions from files are imported again when the file changes.
            self._func = func
        return func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature | None:
        try:
            return inspect.signature(self.resolve())
        except Exception:
            return None

    # -- pickling and comparison -------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "base_dir": self.base_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["spec"], state.get("base_dir"))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FuncRef, (self.spec, self.base_dir))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FuncRef):
            return NotImplemented
        return (self.kind, self.target, self.attr) == (other.kind, other.target, other.attr)

    def __hash__(self) -> int:
        return hash((self.kind, self.target, self.attr))

    def __repr__(self) -> str:
        return f"FuncRef({self.spec!r})"


_FUNC_HINT = (
    "use a built-in name (" + ", ".join(BUILTIN_FUNCS) + "), an importable "
    "'module:function', or 'file.py:function' (a file next to the project file)"
)
