"""What an installed tool knows: its configuration keywords (``-dd``) and, for SExtractor,
its catalog parameters (``-dp``).

Both lists come from the binary itself, so a newer tool's keywords are known without a
release of aw_tui. They are cached per binary and version: in memory, and as JSON in
``$XDG_CACHE_HOME/aw-tui/tools/`` (default ``~/.cache``), keyed by the binary's real path,
size and modification time and the version its ``-v`` prints. A cache file is only data
(JSON, checked for its shape); a damaged one is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from dataclasses import dataclass

from aw_tui.astromatic.registry import canonical_code, probe
from aw_tui.base.atomic import atomic_write_text

__all__ = ["ToolVocabulary", "cache_dir", "tool_vocabulary"]

_lock = threading.Lock()
_memory: dict[str, ToolVocabulary] = {}


@dataclass(frozen=True)
class ToolVocabulary:
    """The keywords (with their defaults) and catalog parameters of one tool binary.

    Attributes
    ----------
    code : str
        The tool.
    version : str
        As ``-v`` prints it.
    keywords : dict
        Keyword -> default value (``-dd``).
    parameters : frozenset of str
        Catalog parameters (``-dp``; empty for tools other than SExtractor).
    """

    code: str
    version: str
    keywords: dict[str, str]
    parameters: frozenset[str]


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/aw-tui/tools`` (default ``~/.cache/aw-tui/tools``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "aw-tui", "tools")


def _output(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (proc.stdout + proc.stderr).decode("utf-8", "replace")


def parse_keywords(text: str) -> dict[str, str]:
    """Keyword -> default from a tool's ``-dd`` output (comment lines skipped)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if words and words[0].isupper() and words[0].replace("_", "").isalnum():
            found[words[0]] = words[1].strip() if len(words) > 1 else ""
    return found


def parse_parameters(text: str) -> frozenset[str]:
    """Catalog parameter names from SExtractor's ``-dp`` output (``#NAME  description``)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("#"):
            word = line[1:].split(None, 1)
            if word and word[0].replace("_", "").isalnum() and word[0].isupper():
                names.add(word[0])
    return frozenset(names)


def _cache_key(code: str, binary: str, version: str) -> str:
    real = os.path.realpath(binary)
    try:
        stat = os.stat(real)
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        stamp = "?"
    digest = hashlib.sha1(f"{real}\0{stamp}".encode()).hexdigest()[:12]
    return f"{code}-{version}-{digest}"


def _read_cache(path: str, code: str, version: str) -> ToolVocabulary | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        keywords = data["keywords"]
        parameters = data["parameters"]
        if (data.get("code") != code or data.get("version") != version
                or not isinstance(keywords, dict) or not isinstance(parameters, list)
                or not all(isinstance(k, str) and isinstance(v, str)
                           for k, v in keywords.items())
                or not all(isinstance(p, str) for p in parameters) or not keywords):
            return None
        return ToolVocabulary(code, version, dict(keywords), frozenset(parameters))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def tool_vocabulary(code: str, binary: str) -> ToolVocabulary | None:
    """The keywords and parameters of ``binary`` (a ``code`` tool), cached; None when the
    binary does not run as that tool or prints no keyword."""
    code = canonical_code(code)
    info = probe(code, binary)
    if info is None:
        return None
    key = _cache_key(code, binary, info.version)
    with _lock:
        if key in _memory:
            return _memory[key]
    path = os.path.join(cache_dir(), key + ".json")
    vocab = _read_cache(path, code, info.version)
    if vocab is None:
        keywords = parse_keywords(_output([binary, "-dd"]))
        if not keywords:
            return None
        params = parse_parameters(_output([binary, "-dp"])) if code == "SExtractor" else (
            frozenset())
        vocab = ToolVocabulary(code, info.version, keywords, params)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write_text(path, json.dumps({
                "code": code, "version": info.version, "binary": os.path.realpath(binary),
                "keywords": keywords, "parameters": sorted(params)}, indent=1))
        except OSError:
            pass  # a cache that cannot be written only costs the next run a second
    with _lock:
        _memory[key] = vocab
    return vocab
