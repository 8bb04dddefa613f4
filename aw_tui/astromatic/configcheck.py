"""Validate a tool step's configuration before anything runs (``aw-tui check``).

The tools only warn, at run time, about a keyword they do not know (``DETECT_TRESH``), an
unknown catalog parameter or a companion file they cannot open; PSFEx only fails, at run
time, on a catalog without the columns it needs. :func:`validate_step_config` finds these in
a step's config file, ``config`` and ``params`` from the installed tool's own lists
(:mod:`aw_tui.astromatic.toolvocab`); :func:`validate_steps` does it for each tool step of a
pipeline, and checks that each PSFEx step's catalogs come from a SExtractor step with the
parameters PSFEx needs.

Each problem is one paragraph: ``<file>:<line>: <keyword>: <what>`` (or ``<step>: ...``),
then ``    fix: <how>``.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aw_tui.astromatic.configfile import read_config_lines, split_names
from aw_tui.astromatic.frames import frame_file_name
from aw_tui.astromatic.registry import ToolNotFoundError, find_tool, lookup
from aw_tui.astromatic.toolvocab import ToolVocabulary, tool_vocabulary

__all__ = [
    "PSFEX_REQUIRED",
    "StepConfig",
    "step_config_of",
    "validate_step_config",
    "validate_steps",
]

#: Catalog parameters PSFEx reads besides its CENTER_KEYS, PHOTFLUX_KEY and PHOTFLUXERR_KEY.
PSFEX_REQUIRED = ("VIGNET", "FLUX_RADIUS", "SNR_WIN")

#: Check-plot devices SCAMP and PSFEx make through ImageMagick's ``convert``.
_CONVERT_DEVICES = frozenset({"PNG", "JPEG", "JPG", "TIFF"})


@dataclass
class StepConfig:
    """What :func:`validate_steps` reads of one tool step.

    Attributes
    ----------
    label : str
        Names the step in messages (``"steps[0] 'detect' (step 0)"``).
    code : str
        Canonical tool code.
    config_file : str or None
    config : dict
        The step's own ``-KEY value`` settings.
    params : list of str or None
        SExtractor's output parameters.
    inputs : list of str
        Input files: SExtractor's image, the catalogs of SCAMP and PSFEx.
    frames : list of str
        SExtractor's frames (each writes its own catalog when there are several).
    """

    label: str
    code: str
    config_file: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    params: list[str] | None = None
    inputs: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)


def _strings(value: Any) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    if isinstance(value, dict):
        image = value.get("image")
        return [os.fspath(image)] if isinstance(image, (str, os.PathLike)) else []
    if isinstance(value, (list, tuple)):
        return [os.fspath(v) for v in value if isinstance(v, (str, os.PathLike))]
    return []


def step_config_of(step: Any) -> StepConfig | None:
    """The :class:`StepConfig` of a pipeline or project step (``func`` and ``kwargs``), or
    None when it does not run an AstrOmatic tool."""
    func = getattr(step, "func", None)
    spec = lookup(getattr(func, "tool", None) or getattr(func, "label", None)
                  or getattr(step, "func_name", None))
    kwargs = getattr(step, "kwargs", None) or getattr(step, "func_kwargs", None) or {}
    if spec is None or not isinstance(kwargs, dict):
        return None
    api = kwargs.get("api_kwargs") if isinstance(kwargs.get("api_kwargs"), dict) else {}
    params = kwargs.get("params") or api.get("params")
    config_file = api.get("config_file")
    name = getattr(step, "name", None)
    index = getattr(step, "index", getattr(step, "step_id", "?"))
    keypath = getattr(step, "keypath", None)
    label = f"{keypath + ' ' if keypath else ''}{repr(name) + ' ' if name else ''}(step {index})"
    inputs = {"SExtractor": "files", "SWarp": "filenames"}.get(spec.code, "catalogs")
    frames = kwargs.get("frames") or []
    return StepConfig(
        label=label, code=spec.code,
        config_file=os.fspath(config_file) if isinstance(config_file, (str, os.PathLike))
        else None,
        config=dict(api.get("config") or {}) if isinstance(api.get("config"), dict) else {},
        params=[str(p) for p in params] if isinstance(params, (list, tuple)) else None,
        inputs=_strings(kwargs.get(inputs)),
        frames=[str(f) for f in frames] if isinstance(frames, (list, tuple)) else [],
    )


def _unknown(where: str, what: str, word: str, known: Iterable[str], listing: str) -> str:
    """``<where>: <what> (did you mean X?)`` and the fix, as one paragraph."""
    close = difflib.get_close_matches(word.upper(), list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    fix = f"correct it to {close[0]}" if close else "remove it"
    return f"{where}: {what}{hint}\n    fix: {fix} (`{listing}` lists them all)"


def _base_param(name: str) -> str:
    """``VIGNET(35,35)`` -> ``VIGNET``."""
    return name.split("(", 1)[0].strip().upper()


class _Settings:
    """A step's effective settings: its config, then its config file (with line numbers)."""

    def __init__(self, step: StepConfig, problems: list[str]) -> None:
        self.step = step
        self.file_values: dict[str, tuple[str, int]] = {}
        self.file_lines: list[Any] = []
        if step.config_file:
            try:
                self.file_lines = read_config_lines(step.config_file)
            except OSError as exc:
                problems.append(
                    f"{step.label}: config_file {step.config_file} cannot be read "
                    f"({exc.strerror or exc}): the tool would run on its internal defaults"
                    "\n    fix: give the path of an existing config file (relative paths are "
                    "relative to the project file's folder)")
        for line in self.file_lines:
            self.file_values[line.key] = (line.value, line.line)
        self.folder = (os.path.dirname(os.path.abspath(step.config_file))
                       if step.config_file else os.getcwd())

    def value(self, key: str, default: str = "") -> str:
        if key in self.step.config:
            value = self.step.config[key]
            if isinstance(value, bool):
                return "Y" if value else "N"
            if isinstance(value, (list, tuple)):
                return ",".join(str(v) for v in value)
            return str(value)
        if key in self.file_values:
            return self.file_values[key][0]
        return default

    def where(self, key: str) -> str:
        """``file:line: KEY`` when the file sets it, else ``step config KEY``."""
        if key not in self.step.config and key in self.file_values:
            return f"{self.step.config_file}:{self.file_values[key][1]}: {key}"
        return f"{self.step.label}: config {key}"

    def paths(self, key: str) -> list[str]:
        """The files ``key`` names, as the tool will open them (config-file names against
        its folder, the step's own against the current folder)."""
        folder = self.folder if key not in self.step.config else os.getcwd()
        return [n if os.path.isabs(n) else os.path.normpath(os.path.join(folder, n))
                for n in split_names(os.path.expanduser(self.value(key)))]


def _companion_needed(code: str, key: str, settings: _Settings, params: set[str],
                      vocab: ToolVocabulary) -> bool:
    """Whether the tool will open the file ``key`` names with these settings."""
    value = settings.value(key)
    if not split_names(value):
        return False
    if code == "SExtractor":
        needs = {
            "PARAMETERS_NAME": settings.step.params is None,
            "FILTER_NAME": settings.value("FILTER", "Y").upper().startswith("Y"),
            "STARNNW_NAME": "CLASS_STAR" in params,
            "PSF_NAME": any("PSF" in p or "MODEL" in p or "SPREAD" in p for p in params),
            "ASSOC_NAME": any("ASSOC" in p for p in params),
            "SOM_NAME": any(p.startswith("SOM") for p in params),
        }
        return needs.get(key, True)
    if code == "SCAMP" and key == "ASTREFCAT_NAME":
        return settings.value("ASTREF_CATALOG").upper() == "FILE"
    if code == "PSFEx" and key == "BASIS_NAME":
        return settings.value("BASIS_TYPE").upper() == "FILE"
    # Other keywords (AHEADER_GLOBAL ...): only a name other than the tool's default.
    return value != vocab.keywords.get(key, "")


def _parameters_of(settings: _Settings) -> list[str] | None:
    """SExtractor's output parameters: ``params``, else the PARAMETERS_NAME file's lines."""
    if settings.step.params is not None:
        return settings.step.params
    for path in settings.paths("PARAMETERS_NAME")[:1]:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return [ln.split("#", 1)[0].strip() for ln in handle
                        if ln.split("#", 1)[0].strip()]
        except OSError:
            return None
    return None


def validate_step_config(
    step: StepConfig, build_paths: dict[str, str] | None = None, binary: str | None = None
) -> list[str]:
    """Every problem of one tool step's configuration, found before it runs.

    Parameters
    ----------
    step : StepConfig
        The step (see :func:`step_config_of`).
    build_paths : dict, optional
        Where the tools are (as a pipeline's ``build_paths``).
    binary : str, optional
        The tool binary (default: found as a run would find it).

    Returns
    -------
    list of str
        One paragraph per problem (empty when the tool is not installed: that is reported
        on its own).
    """
    problems: list[str] = []
    try:
        binary = binary or find_tool(step.code, build_paths).path
    except ToolNotFoundError:
        return problems
    vocab = tool_vocabulary(step.code, binary)
    if vocab is None:
        return problems
    settings = _Settings(step, problems)
    tool = os.path.basename(binary)
    for line in settings.file_lines:
        if line.key not in vocab.keywords:
            problems.append(_unknown(
                f"{step.config_file}:{line.line}: {line.key}",
                f"{step.code} {vocab.version} does not know this keyword and would ignore it",
                line.key, vocab.keywords, f"{tool} -dd"))
    for key in step.config:
        if key not in vocab.keywords:
            problems.append(_unknown(
                f"{step.label}: config {key}",
                f"{step.code} {vocab.version} does not know this keyword and would ignore it",
                str(key), vocab.keywords, f"{tool} -dd"))
    params = _parameters_of(settings) if step.code == "SExtractor" else None
    names = {_base_param(p) for p in params or []}
    if params is not None and vocab.parameters:
        for param in params:
            if _base_param(param) not in vocab.parameters:
                source = ("params" if step.params is not None
                          else f"parameters file {settings.paths('PARAMETERS_NAME')[0]}")
                problems.append(_unknown(
                    f"{step.label}: {source}: {param}",
                    f"SExtractor {vocab.version} has no such catalog parameter; the catalog "
                    "would lack it", _base_param(param), vocab.parameters, f"{tool} -dp"))
    for key in _companion_keys(step.code):
        # A name in the step's own config may be an earlier step's product (PSFEx's PSF for
        # PSF photometry): only the config file's companions must exist beforehand.
        if key in step.config or not _companion_needed(step.code, key, settings, names, vocab):
            continue
        for path in settings.paths(key):
            if not os.path.isfile(path):
                problems.append(
                    f"{settings.where(key)}: {step.code} would open {path}, which does not "
                    "exist\n    fix: put the file there, or give its path (a relative name "
                    "in a config file is relative to the config file's folder)")
    problems += _convert_problem(step, settings)
    return problems


def _companion_keys(code: str) -> tuple[str, ...]:
    spec = lookup(code)
    return spec.companion_keys if spec is not None else ()


def _convert_problem(step: StepConfig, settings: _Settings) -> list[str]:
    """SCAMP and PSFEx make PNG/JPEG check-plots with ImageMagick's ``convert``."""
    if step.code not in ("SCAMP", "PSFEx"):
        return []
    # The run_* steps default to no check-plot: only the step's own config counts.
    devices = {d.strip().upper() for d in str(step.config.get("CHECKPLOT_DEV", "")).split(",")}
    kinds = str(step.config.get("CHECKPLOT_TYPE", "NONE"))
    antialias = settings.value("CHECKPLOT_ANTIALIAS", "Y").strip().upper().startswith("Y")
    if not devices & _CONVERT_DEVICES or kinds.strip().upper() == "NONE" or not antialias:
        return []
    if shutil.which("convert") or shutil.which("magick"):
        return []
    return [f"{step.label}: config CHECKPLOT_DEV {step.config['CHECKPLOT_DEV']}: {step.code} "
            "draws PNG and JPEG check-plots as PostScript and converts them with ImageMagick's "
            "`convert` (CHECKPLOT_ANTIALIAS Y), which is not on PATH"
            "\n    fix: install ImageMagick (Debian/Ubuntu: `apt-get install imagemagick`), or "
            "set CHECKPLOT_DEV SVG or PSC (no converter needed), or CHECKPLOT_TYPE NONE"]


def _catalogs_written(step: StepConfig) -> list[str]:
    """The catalogs a SExtractor step writes (absolute; per frame when several)."""
    name = step.config.get("CATALOG_NAME")
    if isinstance(name, (str, os.PathLike)):
        names = [os.fspath(name)]
    else:
        names = []
        for image in step.inputs:
            stem = os.path.basename(image)
            stem = stem[: -len(".fits")] if stem.endswith(".fits") else os.path.splitext(stem)[0]
            names.append(stem + ".cat")  # in the pipeline's temp folder: matched by name
    if len(step.frames) > 1:
        names = [frame_file_name(n, f) for n in names for f in step.frames]
    return names


def _same_file(written: str, read: str) -> bool:
    if os.path.dirname(written):
        return os.path.abspath(written) == os.path.abspath(read)
    return os.path.basename(read) == written


def _psfex_keys(step: StepConfig) -> list[str]:
    settings = _Settings(step, [])
    keys = [k.strip() for k in settings.value("CENTER_KEYS", "X_IMAGE,Y_IMAGE").split(",")]
    keys.append(settings.value("PHOTFLUX_KEY", "FLUX_APER(1)"))
    keys.append(settings.value("PHOTFLUXERR_KEY", "FLUXERR_APER(1)"))
    return [*PSFEX_REQUIRED[:1], *(_base_param(k) for k in keys if k), *PSFEX_REQUIRED[1:]]


def validate_steps(steps: Iterable[Any], build_paths: dict[str, str] | None = None
                   ) -> list[str]:
    """The problems of every tool step of a pipeline or project, each once.

    Parameters
    ----------
    steps : iterable
        Project steps (:class:`~aw_tui.project.model.ExpandedStep`), pipeline steps, or
        :class:`StepConfig` objects.
    build_paths : dict, optional
        Where the tools are.

    Returns
    -------
    list of str
        One paragraph per problem, in step order; empty when all is well.
    """
    configs = [s if isinstance(s, StepConfig) else step_config_of(s) for s in steps]
    configs = [c for c in configs if c is not None]
    problems: list[str] = []
    # The steps of one ``foreach`` entry share their config: a problem is told once, with
    # how many other steps have it.
    seen: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for config in configs:
        for problem in validate_step_config(config, build_paths):
            key = problem.replace(config.label, "\0")
            if key in seen:
                repeats[seen[key]] = repeats.get(seen[key], 0) + 1
                continue
            seen[key] = len(problems)
            problems.append(problem)
    for index, count in repeats.items():
        head, sep, fix = problems[index].partition("\n")
        problems[index] = f"{head} (and {count} more step(s) alike){sep}{fix}"
    writers = [(c, _catalogs_written(c)) for c in configs if c.code == "SExtractor"]
    for psfex in (c for c in configs if c.code == "PSFEx"):
        for catalog in psfex.inputs:
            for sex, written in writers:
                if not any(_same_file(w, catalog) for w in written):
                    continue
                params = _parameters_of(_Settings(sex, []))
                if params is None:
                    continue
                have = {_base_param(p) for p in params}
                missing = [k for k in dict.fromkeys(_psfex_keys(psfex)) if k not in have]
                if missing:
                    problem = (
                        f"{psfex.label}: PSFEx reads {catalog}, written by SExtractor step "
                        f"{sex.label}, whose catalog lacks {', '.join(missing)}: PSFEx would "
                        f"stop with `{missing[0]} parameter not found`\n    fix: add "
                        f"{', '.join(_example(m) for m in missing)} to the params of "
                        f"{sex.label}")
                    if problem not in problems:
                        problems.append(problem)
    return problems


def _example(param: str) -> str:
    return {"VIGNET": "VIGNET(35,35)", "FLUX_APER": "FLUX_APER(1)",
            "FLUXERR_APER": "FLUXERR_APER(1)"}.get(param, param)
