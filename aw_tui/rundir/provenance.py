"""What a step ran with: its provenance record, written when it finishes.

A record holds what is needed to tell later whether the step's result is still current
(:mod:`aw_tui.rundir.freshness`): the step's identity, its kwargs (in the canonical JSON form of
:func:`canonical`) and their fingerprint, the identity of its function and of its tool, and
the identity of each file it read and wrote. It is written to ``steps/<id>.provenance.json``
and kept on the step (``step.provenance``) in the checkpoint. docs/run-directory.md describes
it.

A file's identity is ``[size, mtime_ns, sha256]``; the content hash only for files up to
:data:`HASH_LIMIT` bytes (config and parameter files, catalogs, headers), ``None`` for larger
ones (images: size and modification time).
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import json
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

__all__ = [
    "HASH_LIMIT",
    "FileIdentity",
    "canonical",
    "decode_record",
    "file_changed",
    "file_identity",
    "fingerprint",
    "func_identity",
    "kwargs_changes",
    "make_record",
    "paths_in",
    "snapshot",
    "tool_identity",
]

#: Files up to this size are identified by a hash of their content too (4 MiB).
HASH_LIMIT = 4 * 1024 * 1024

#: ``[size, mtime_ns, sha256 or None]``
FileIdentity = list

#: At most this many strings of a step's kwargs are looked at as possible file names.
MAX_PATHS = 20000

_FRAME = re.compile(r"\[\d+\]$")
_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


# -- kwargs ------------------------------------------------------------------------------
def canonical(value: Any, depth: int = 0) -> Any:
    """A JSON form of ``value`` that is the same for equal values in any process.

    Dates and times are tagged as :func:`aw_tui.rundir.edits.encode_kwargs` does, paths
    become text, tuples lists, a function its module and name, an array a hash of its bytes;
    any other object its type and ``repr`` (without a memory address, which changes from
    run to run).
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if depth > 64:
        return "<nested too deep>"
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): canonical(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v, depth + 1) for v in value), key=repr)
    if isinstance(value, PurePath) or hasattr(value, "__fspath__"):
        return os.fspath(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return {"$func": f"{getattr(value, '__module__', '?')}.{value.__qualname__}"}
    tobytes = getattr(value, "tobytes", None)
    if callable(tobytes):
        try:
            return {"$array": hashlib.sha256(tobytes()).hexdigest(),
                    "shape": list(getattr(value, "shape", ()))}
        except Exception:  # a strange object: fall through to its repr
            pass
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))
    return {"$object": f"{type(value).__module__}.{type(value).__qualname__}", "repr": text}


def fingerprint(encoded: Any) -> str:
    """sha256 (hex) of the canonical JSON ``encoded`` (:func:`canonical`)."""
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _leaves(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value and not any(k.startswith("$") for k in value):
        for key, item in value.items():
            _leaves(item, f"{prefix}.{key}" if prefix else key, out)
    else:
        out[prefix] = value


def _show(value: Any, limit: int = 60) -> str:
    if value is _ABSENT:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (int, float)) or \
        isinstance(value, bool) else repr(value)
    if isinstance(value, str):
        text = value if value and value.strip() == value else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ABSENT = object()


def _change(key: str, old: Any, new: Any) -> str:
    """One changed key as text; for two lists, the items added and removed."""
    if isinstance(old, list) and isinstance(new, list):
        def text(item: Any) -> str:
            return json.dumps(item, sort_keys=True, ensure_ascii=False)

        before, after = [text(i) for i in old], [text(i) for i in new]
        added = [new[i] for i, t in enumerate(after) if t not in set(before)]
        removed = [old[i] for i, t in enumerate(before) if t not in set(after)]
        parts = []
        for word, items in (("added", added), ("removed", removed)):
            if items:
                shown = ", ".join(_show(i) for i in items[:2])
                more = f" and {len(items) - 2} more" if len(items) > 2 else ""
                parts.append(f"{word} {shown}{more}")
        return f"{key}: {'; '.join(parts) if parts else 'same items, new order'}"
    return f"{key} {_show(old)} -> {_show(new)}"


def kwargs_changes(old: Any, new: Any, limit: int = 20) -> list[str]:
    """What differs between two canonical kwargs: one text per changed key,
    ``api_kwargs.config.DETECT_THRESH 3 -> 7`` (at most ``limit``, then a count)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _leaves(old, "", before)
    _leaves(new, "", after)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if a != b:
            changes.append(_change(key or "kwargs", a, b))
    if len(changes) > limit:
        changes = [*changes[:limit], f"... and {len(changes) - limit} more keys"]
    return changes


# -- files -------------------------------------------------------------------------------
def _sha256(path: str, size: int, mtime_ns: int) -> str | None:
    key = (path, size, mtime_ns)
    with _hash_lock:
        found = _hash_cache.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    value = digest.hexdigest()
    with _hash_lock:
        if len(_hash_cache) > 100_000:
            _hash_cache.clear()
        _hash_cache[key] = value
    return value


def file_identity(path: str, content: bool = True) -> FileIdentity | None:
    """``[size, mtime_ns, sha256]`` of a regular file (the hash only up to :data:`HASH_LIMIT`
    bytes and with ``content``), None when it is not there."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(path):
        return None
    sha = (_sha256(path, info.st_size, info.st_mtime_ns)
           if content and info.st_size <= HASH_LIMIT else None)
    return [info.st_size, info.st_mtime_ns, sha]


def file_changed(path: str, recorded: Any, stat_cache: dict[str, Any] | None = None) -> str | None:
    """How the file at ``path`` differs from its ``recorded`` identity: ``"changed"``,
    ``"missing"``, or None when it is the same (the same size and time, or the same content
    hash when only the time moved)."""
    if not isinstance(recorded, list) or len(recorded) != 3:
        return None
    if stat_cache is not None and path in stat_cache:
        info = stat_cache[path]
    else:
        try:
            info = os.stat(path)
            info = (info.st_size, info.st_mtime_ns)
        except (OSError, ValueError):
            info = None
        if stat_cache is not None:
            stat_cache[path] = info
    if info is None:
        return "missing"
    size, mtime_ns = info
    if size == recorded[0] and mtime_ns == recorded[1]:
        return None
    if size == recorded[0] and recorded[2]:
        return None if _sha256(path, size, mtime_ns) == recorded[2] else "changed"
    return "changed"


def paths_in(value: Any, limit: int = MAX_PATHS, exist: bool = True) -> list[str]:
    """The strings of ``value`` (nested dicts and lists) that name files (that exist, with
    ``exist``), absolute, without an extension suffix (``image.fits[1]`` -> ``image.fits``)."""
    found: list[str] = []
    seen: set[str] = set()
    budget = [limit]

    def walk(item: Any, depth: int) -> None:
        if budget[0] <= 0 or depth > 32:
            return
        if isinstance(item, str):
            budget[0] -= 1
            if (not item or len(item) > 4096 or "\n" in item or "\0" in item
                    or (os.sep not in item and "." not in item)):
                return
            name = _FRAME.sub("", item) if item.endswith("]") else item
            if os.sep not in name and "." not in name:
                return
            path = os.path.abspath(name)
            if path not in seen and (not exist or os.path.isfile(path)):
                seen.add(path)
                found.append(path)
        elif isinstance(item, PurePath):
            walk(os.fspath(item), depth + 1)
        elif isinstance(item, dict):
            for sub in item.values():
                walk(sub, depth + 1)
        elif isinstance(item, (list, tuple)):
            for sub in item:
                walk(sub, depth + 1)

    walk(value, 0)
    return found


def snapshot(paths: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """``(size, mtime_ns)`` of each file (None: not there): what a step's files were when it
    started."""
    out: dict[str, tuple[int, int] | None] = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            out[path] = None
            continue
        out[path] = (info.st_size, info.st_mtime_ns) if not os.path.isdir(path) else None
    return out


# -- functions and tools -----------------------------------------------------------------
_func_cache: dict[int, tuple[Any, dict[str, Any]]] = {}


def func_identity(func: Any) -> dict[str, Any]:
    """``{"name": "module.qualname", "source": sha256 of its source or None}``.

    Functions of aw_tui itself (the tool steps) are named only: their behaviour is the
    tool's, whose version is recorded apart.
    """
    cached = _func_cache.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    target = func
    resolve = getattr(func, "resolve", None)  # a project's FuncRef: the function it names
    if callable(resolve) and hasattr(func, "spec"):
        try:
            target = resolve()
        except Exception:  # cannot import it now: named by its text only
            return {"name": str(func.spec), "source": None}
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    source = None
    if not str(module).startswith("aw_tui."):
        try:
            source = hashlib.sha256(inspect.getsource(target).encode()).hexdigest()
        except (OSError, TypeError):
            source = None
    identity = {"name": f"{module}.{name}", "source": source}
    _func_cache[id(func)] = (func, identity)
    return identity


def tool_identity(tool: Any) -> dict[str, Any] | None:
    """The tool a step ran, from its result's ``tool`` entry (name, command, binary path,
    version), with the binary's size and time added; None for a step that ran none."""
    if not isinstance(tool, dict) or not isinstance(tool.get("binary"), str):
        return None
    binary = tool["binary"]
    resolved = shutil.which(binary) if os.sep not in binary else binary
    out = {
        "name": str(tool.get("name") or ""),
        "command": binary,
        "binary": os.path.realpath(resolved) if resolved else binary,
        "version": tool.get("version") if isinstance(tool.get("version"), str) else None,
    }
    ident = file_identity(out["binary"], content=False)
    out["stat"] = ident[:2] if ident else None
    return out


# -- the record --------------------------------------------------------------------------
def make_record(
    step: Any, result: Any, status: str, completed: bool,
    before: dict[str, tuple[int, int] | None] | None,
    previous: dict[str, Any] | str | None = None,
) -> dict[str, Any]:
    """The provenance record of a step that just finished.

    Parameters
    ----------
    step : PipelineStep
        The step (its identity, kwargs and function).
    result : dict
        What it returned; a ``files`` entry (``{"read": [...], "written": [...]}``, as the
        tool steps give) names the files it read and wrote, a ``tool`` entry its tool.
    status : str
        Its status word.
    completed : bool
        Whether it counts as done (a success, or an error it may ignore).
    before : dict, optional
        :func:`snapshot` of the files its kwargs named when it started (``paths_in(kwargs,
        exist=False)``): those that are new or changed now were written by it, the others
        read.
    previous : dict or str, optional
        The record of its run before (or its JSON text, :func:`decode_record`): a step
        that did not finish still counts as the writer of what that run wrote (the steps
        that read those files depend on it).
    """
    declared = result.get("files") if isinstance(result, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    read = {os.path.abspath(p) for p in declared.get("read", ()) if isinstance(p, str)}
    written = {os.path.abspath(p) for p in declared.get("written", ()) if isinstance(p, str)}
    candidates = list(before) if before is not None else paths_in(step.func_kwargs)
    for path, now in snapshot(candidates).items():
        if now is None or path in written:
            continue
        if before is not None and before.get(path) == now:
            read.add(path)
        else:
            written.add(path)
    read -= written
    previous = None if completed else decode_record(previous)
    if previous is not None:
        written |= set(previous.get("writes") or {})
    encoded = canonical(step.func_kwargs)
    tool = tool_identity(result.get("tool")) if isinstance(result, dict) else None
    return {
        "identity": getattr(step, "identity", None) or str(step.step_id),
        "step_id": step.step_id,
        "status": status,
        "completed": bool(completed),
        "finished": time.time(),
        "kwargs": encoded,
        "fingerprint": fingerprint(encoded),
        "func": func_identity(step.func),
        "tool": tool,
        "reads": {p: file_identity(p) for p in sorted(read)},
        "writes": {p: file_identity(p, content=False) for p in sorted(written)},
    }


def decode_record(held: Any) -> dict[str, Any] | None:
    """A provenance record as a dict, from what a step holds (``record_as_held``): the
    dict itself, its JSON text decoded (a loaded checkpoint's), None for anything else."""
    if type(held) is str:
        try:
            held = json.loads(held)
        except ValueError:
            return None
    return held if isinstance(held, dict) else None
