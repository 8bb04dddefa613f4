"""Find the AstrOmatic binaries and their versions.

Order: the pipeline's ``build_paths`` (any of the code's spellings: ``'SWarp'``, ``'SWARP'``,
``'swarp'`` ...), then ``PATH`` under each platform's names. A candidate is only trusted when
its ``-v`` output names the tool: Debian's ``/usr/bin/swarp`` is an unrelated X11 program.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from aw_tui.base.errors import AwTuiError

__all__ = [
    "TOOLS",
    "ToolInfo",
    "ToolNotFoundError",
    "canonical_code",
    "find_tool",
    "tool_report",
]


@dataclass(frozen=True)
class ToolSpec:
    """How to recognise and install one tool."""

    code: str
    names: tuple[str, ...]
    banner: str
    debian: str
    conda: str


TOOLS: dict[str, ToolSpec] = {
    "SExtractor": ToolSpec(
        "SExtractor", ("source-extractor", "sex", "sextractor"), "SExtractor|Source Extractor",
        "source-extractor", "astromatic-source-extractor",
    ),
    "SCAMP": ToolSpec("SCAMP", ("scamp",), "SCAMP", "scamp", "astromatic-scamp"),
    "SWarp": ToolSpec("SWarp", ("SWarp", "swarp"), "SWarp", "swarp", "astromatic-swarp"),
    "PSFEx": ToolSpec("PSFEx", ("psfex",), "PSFEx", "psfex", "astromatic-psfex"),
}

_ALIASES = {
    "sextractor": "SExtractor", "sex": "SExtractor", "source-extractor": "SExtractor",
    "source_extractor": "SExtractor", "scamp": "SCAMP", "swarp": "SWarp", "psfex": "PSFEx",
}


class ToolNotFoundError(AwTuiError):
    """A tool is not installed (or not where ``build_paths`` says)."""


@dataclass(frozen=True)
class ToolInfo:
    """A verified tool binary."""

    code: str
    path: str
    version: str
    date: str


def canonical_code(code: str) -> str:
    """``'SExtractor'``, ``'SCAMP'``, ``'SWarp'`` or ``'PSFEx'`` for any usual spelling."""
    if code in TOOLS:
        return code
    found = _ALIASES.get(code.lower())
    if found is None:
        raise ToolNotFoundError(
            f"unknown AstrOmatic code {code!r}: use one of {', '.join(TOOLS)}"
        )
    return found


_VERSION = re.compile(r"version\s+([0-9][^\s]*)\s*(?:\(([^)]*)\))?", re.IGNORECASE)
_cache: dict[tuple[str, str], ToolInfo | None] = {}
_cache_lock = threading.Lock()


def probe(code: str, path: str) -> ToolInfo | None:
    """Run ``path -v`` and return its info if it is really ``code``."""
    spec = TOOLS[code]
    key = (code, path)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    info = None
    try:
        proc = subprocess.run(
            [path, "-v"], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
        )
        text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if re.search(spec.banner, text):
            match = _VERSION.search(text)
            info = ToolInfo(
                code, path, match.group(1) if match else "?",
                (match.group(2) or "") if match else "",
            )
    except (OSError, subprocess.SubprocessError):
        info = None
    with _cache_lock:
        _cache[key] = info
    return info


def _install_hint(spec: ToolSpec) -> str:
    return (
        f"install it (Debian/Ubuntu: `apt-get install {spec.debian}`; conda: `conda install "
        f"-c conda-forge {spec.conda}`), or give its path in build_paths "
        f"(TOML: [build_paths] {spec.code} = \"/path/to/{spec.names[0]}\"). "
        "`aw-tui doctor` lists what was found."
    )


def _which_all(name: str) -> list[str]:
    """Every executable called ``name`` on PATH, in PATH order.

    ``shutil.which`` stops at the first, but the first ``swarp`` may be Debian's X11 tool
    while the real SWarp (a conda environment, /usr/local) comes later on PATH.
    """
    found: list[str] = []
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = shutil.which(name, path=folder or os.curdir)
        if path is not None and path not in found:
            found.append(path)
    return found


def find_tool(code: str, build_paths: dict[str, str] | None = None) -> ToolInfo:
    """Locate and verify the binary for ``code``.

    Raises
    ------
    ToolNotFoundError
        With the Debian and conda-forge package names to install.
    """
    code = canonical_code(code)
    spec = TOOLS[code]
    build_paths = build_paths or {}
    for key, value in build_paths.items():
        if key.lower() != code.lower() and _ALIASES.get(key.lower()) != code:
            continue
        path = shutil.which(os.path.expanduser(value)) or os.path.expanduser(value)
        info = probe(code, path)
        if info is None:
            raise ToolNotFoundError(
                f"build_paths[{key!r}] = {value!r} is not a working {code} (running it with "
                f"-v did not print a {code} version). Fix that path, or remove it to use "
                f"{code} from PATH; or " + _install_hint(spec)
            )
        return info
    for name in spec.names:
        for path in _which_all(name):
            info = probe(code, path)
            if info is not None:
                return info
    raise ToolNotFoundError(
        f"{code} was not found on PATH (looked for {', '.join(spec.names)}): "
        + _install_hint(spec)
    )


def tool_report(build_paths: dict[str, str] | None = None) -> list[dict[str, str]]:
    """One row per tool: code, status, path, version, and how to install when missing."""
    rows = []
    for code, spec in TOOLS.items():
        try:
            info = find_tool(code, build_paths)
            rows.append({"code": code, "status": "ok", "path": info.path,
                         "version": info.version, "date": info.date, "hint": ""})
        except ToolNotFoundError as exc:
            rows.append({"code": code, "status": "missing", "path": "", "version": "",
                         "date": "", "hint": str(exc), "debian": spec.debian})
    return rows
