"""The one table of AstrOmatic tools, and finding their binaries.

Every fact about a tool lives in :data:`TOOLS` (one :class:`ToolSpec` a tool): its canonical
code, the spellings users write, the binary names to probe, the ``-v`` banner, the name the
XML log's ``Software`` PARAM uses, the short tag of log file names, the ``run_*`` step
function, the config keys naming input and output files, and the Debian and conda-forge
packages. Every other module (the command builder, the XML reader, the project's built-in
``func`` names and ``[build_paths]`` check, the tests' tool finder) reads it from here.

Finding a binary: the pipeline's ``build_paths`` (any of the code's spellings: ``'SWarp'``,
``'SWARP'``, ``'swarp'`` ...), then ``PATH`` under each platform's names. A candidate is only
trusted when its ``-v`` output names the tool: Debian's ``/usr/bin/swarp`` is an unrelated X11
program.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aw_tui.base.errors import AwTuiError

__all__ = [
    "BUILD_PATH_NAMES",
    "DIR_KEYS",
    "OTHER_TOOLS",
    "TOOLS",
    "ToolInfo",
    "ToolNotFoundError",
    "ToolSpec",
    "canonical_code",
    "find_tool",
    "lookup",
    "probe",
    "spec_for",
    "tool_report",
]


@dataclass(frozen=True)
class ToolSpec:
    """Everything aw_tui knows about one AstrOmatic tool.

    Attributes
    ----------
    code : str
        Canonical code (``'SExtractor'``), as in results and messages.
    name : str
        Lower-case name: the project's built-in ``func`` name and :attr:`XmlLog.tool`.
    aliases : tuple of str
        Other spellings accepted anywhere (compared without case).
    names : tuple of str
        Binary names to probe on PATH, in order.
    banner : str
        Regular expression the ``-v`` output must match.
    software : tuple of str
        Lower-case values of the XML log's ``Software`` PARAM.
    xml_tag : str
        Short tag of log file names (``<step>.<xml_tag>.log.xml``).
    step : str
        Name of the ``run_*`` step function in :mod:`aw_tui.api`.
    input_keys, output_keys : frozenset of str
        Config keys naming files the tool reads / writes.
    debian, conda : str
        Package names (Debian/Ubuntu, conda-forge).
    xml_default : str
        The tool's default ``XML_NAME`` (in the folder it runs in).
    companion_keys : tuple of str
        Config keywords naming files the tool reads beside its config (filter, neural
        network, parameter list, PSF, reference catalog, global header ...): a relative name
        in a config file is resolved against that file's folder.
    """

    code: str
    name: str
    aliases: tuple[str, ...]
    names: tuple[str, ...]
    banner: str
    software: tuple[str, ...]
    xml_tag: str
    step: str
    input_keys: frozenset[str]
    output_keys: frozenset[str]
    debian: str
    conda: str
    xml_default: str = ""
    companion_keys: tuple[str, ...] = ()

    @property
    def binary(self) -> str:
        """The usual binary name (for hints such as ``psfex -dd``)."""
        return self.names[0]

    def spellings(self) -> tuple[str, ...]:
        """Every lower-case spelling of this tool (code, name, aliases, binaries)."""
        found: list[str] = []
        for word in (self.code, self.name, *self.aliases, *self.names):
            if word.lower() not in found:
                found.append(word.lower())
        return tuple(found)

    def install_hint(self) -> str:
        """How to install the tool or point aw_tui at it."""
        return (
            f"install it (Debian/Ubuntu: `apt-get install {self.debian}`; conda: `conda install "
            f"-c conda-forge {self.conda}`), or give its path in build_paths "
            f"(TOML: [build_paths] {self.code} = \"/path/to/{self.binary}\"). "
            "`aw-tui doctor` lists what was found."
        )


TOOLS: dict[str, ToolSpec] = {
    spec.code: spec
    for spec in (
        ToolSpec(
            code="SExtractor", name="sextractor",
            aliases=("sex", "source-extractor", "source_extractor", "source extractor"),
            names=("source-extractor", "sex", "sextractor"),
            banner="SExtractor|Source Extractor", software=("source extractor", "sextractor"),
            xml_tag="sex", step="run_sex",
            input_keys=frozenset({"FLAG_IMAGE", "WEIGHT_IMAGE", "PARAMETERS_NAME", "FILTER_NAME",
                                  "STARNNW_NAME", "PSF_NAME", "ASSOC_NAME", "SOM_NAME"}),
            output_keys=frozenset({"CATALOG_NAME", "CHECKIMAGE_NAME", "XML_NAME"}),
            debian="source-extractor", conda="astromatic-source-extractor", xml_default="sex.xml",
            companion_keys=("PARAMETERS_NAME", "FILTER_NAME", "STARNNW_NAME", "PSF_NAME",
                            "ASSOC_NAME", "SOM_NAME"),
        ),
        ToolSpec(
            code="SCAMP", name="scamp", aliases=(), names=("scamp",), banner="SCAMP",
            software=("scamp",), xml_tag="scamp", step="run_scamp",
            input_keys=frozenset({"ASTREFCAT_NAME", "AHEADER_GLOBAL"}),
            output_keys=frozenset({"XML_NAME", "MERGEDOUTCAT_NAME", "FULLOUTCAT_NAME"}),
            debian="scamp", conda="astromatic-scamp", xml_default="scamp.xml",
            companion_keys=("ASTREFCAT_NAME", "AHEADER_GLOBAL"),
        ),
        ToolSpec(
            # Debian's /usr/bin/swarp (suckless-tools) is an unrelated X11 tool: SWarp first,
            # and the banner is checked.
            code="SWarp", name="swarp", aliases=(), names=("SWarp", "swarp"), banner="SWarp",
            software=("swarp",), xml_tag="swarp", step="run_swarp",
            input_keys=frozenset({"WEIGHT_IMAGE", "HEADER_NAME"}),
            output_keys=frozenset({"IMAGEOUT_NAME", "WEIGHTOUT_NAME", "XML_NAME"}),
            debian="swarp", conda="astromatic-swarp", xml_default="swarp.xml",
            companion_keys=("HEADER_NAME",),
        ),
        ToolSpec(
            code="PSFEx", name="psfex", aliases=(), names=("psfex",), banner="PSFEx",
            software=("psfex",), xml_tag="psfex", step="run_psfex",
            input_keys=frozenset({"BASIS_NAME"}), output_keys=frozenset({"XML_NAME"}),
            debian="psfex", conda="astromatic-psfex", xml_default="psfex.xml",
            companion_keys=("BASIS_NAME",),
        ),
    )
}

#: AstrOmatic tools without a step function here, accepted as ``[build_paths]`` names (a
#: project may run them from its own Python steps).
OTHER_TOOLS: tuple[str, ...] = ("STIFF", "MissFITS", "SkyMaker", "WeightWatcher")

#: Config keys naming folders (any tool).
DIR_KEYS = frozenset({"RESAMPLE_DIR", "PSF_DIR", "REFOUT_CATPATH"})

#: Every spelling (lower case) -> canonical code.
_BY_SPELLING: dict[str, str] = {
    word: spec.code for spec in TOOLS.values() for word in spec.spellings()
}
_BY_SOFTWARE: dict[str, str] = {
    word: spec.code for spec in TOOLS.values() for word in spec.software
}

#: The names a project's ``[build_paths]`` accepts (compared without case): every tool's
#: code and spellings, and :data:`OTHER_TOOLS`.
BUILD_PATH_NAMES: tuple[str, ...] = (
    *TOOLS, *OTHER_TOOLS,
    *(w for spec in TOOLS.values() for w in spec.spellings() if w != spec.code.lower()),
)


class ToolNotFoundError(AwTuiError):
    """A tool is not installed (or not where ``build_paths`` says)."""


@dataclass(frozen=True)
class ToolInfo:
    """A verified tool binary."""

    code: str
    path: str
    version: str
    date: str


def lookup(word: str | None, paths: bool = False) -> ToolSpec | None:
    """The tool a spelling or an XML ``Software`` value names, or None.

    Parameters
    ----------
    word : str or None
        ``'SWarp'``, ``'sex'``, ``'Source Extractor'`` ...
    paths : bool
        Also accept a binary's path (``/usr/bin/SWarp``): its file name is looked up.
    """
    if word is None:
        return None
    text = str(word).strip()
    if text in TOOLS:
        return TOOLS[text]
    key = text.lower()
    code = _BY_SPELLING.get(key) or _BY_SOFTWARE.get(key)
    if code is None and paths:
        code = _BY_SPELLING.get(Path(text).name.lower())
    return TOOLS[code] if code else None


def canonical_code(code: str) -> str:
    """``'SExtractor'``, ``'SCAMP'``, ``'SWarp'`` or ``'PSFEx'`` for any usual spelling."""
    spec = lookup(code)
    if spec is None:
        raise ToolNotFoundError(
            f"unknown AstrOmatic code {code!r}: use one of {', '.join(TOOLS)}"
        )
    return spec.code


def spec_for(code: str) -> ToolSpec:
    """The :class:`ToolSpec` of any spelling (raises :class:`ToolNotFoundError`)."""
    return TOOLS[canonical_code(code)]


_VERSION = re.compile(r"version\s+([0-9][^\s]*)\s*(?:\(([^)]*)\))?", re.IGNORECASE)
_cache: dict[tuple[Any, ...], ToolInfo | None] = {}
_cache_lock = threading.Lock()


def probe(code: str, path: str) -> ToolInfo | None:
    """Run ``path -v`` and return its info if it is really ``code``."""
    spec = TOOLS[code]
    try:
        info = os.stat(path)
        key: tuple[Any, ...] = (code, path, info.st_size, info.st_mtime_ns)
    except OSError:
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
        named = lookup(key)
        if named is None or named.code != code:
            continue
        path = shutil.which(os.path.expanduser(value)) or os.path.expanduser(value)
        info = probe(code, path)
        if info is None:
            raise ToolNotFoundError(
                f"build_paths[{key!r}] = {value!r} is not a working {code} (running it with "
                f"-v did not print a {code} version). Fix that path, or remove it to use "
                f"{code} from PATH; or " + spec.install_hint()
            )
        return info
    for name in spec.names:
        for path in _which_all(name):
            info = probe(code, path)
            if info is not None:
                return info
    raise ToolNotFoundError(
        f"{code} was not found on PATH (looked for {', '.join(spec.names)}): "
        + spec.install_hint()
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
