"""``aw-tui init``: write a working project for the user's own images.

:func:`survey` looks at what the user has (images, their weight maps and flag maps, a
reference catalog and its columns) without writing anything; :func:`write_project` writes
``project.toml`` (every line commented for a first reader) and ``config/`` (each tool's
defaults as the installed binary prints them with ``-dd``, with the keywords the chain needs
set and commented). Without ``--reference`` the project runs SExtractor on every image; with
it, the seed's Full Example chain: SCAMP against the reference, SWarp with SCAMP's solution,
SExtractor with VIGNET on the stack, PSFEx, and PSF photometry on the stack.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from aw_tui.astromatic.registry import ToolNotFoundError, find_tool
from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.errors import AwTuiError

__all__ = [
    "InitError",
    "Survey",
    "describe",
    "init_project",
    "project_text",
    "survey",
    "write_project",
]

#: Column names a reference catalog's positions, errors and magnitude go by, best first.
_CENTRE_COLUMNS = (("RA_ICRS", "DE_ICRS"), ("RAJ2000", "DEJ2000"), ("ALPHA_J2000", "DELTA_J2000"),
                   ("X_WORLD", "Y_WORLD"), ("RA", "DEC"), ("ra", "dec"))
_ERROR_COLUMNS = (("e_RA", "e_DE"), ("e_RAJ2000", "e_DEJ2000"), ("ERRA_WORLD", "ERRB_WORLD"),
                  ("ra_error", "dec_error"), ("RA_ERR", "DEC_ERR"))
_MAG_COLUMN = re.compile(r"^(Gmag|phot_g_mean_mag|MAG_AUTO|MAG|[A-Za-z]?mag|[A-Za-z]MAG)$")

#: The tools of the full chain and the config file each gets.
_CONFIGS = {"SExtractor": "default.sex", "SCAMP": "default.scamp", "SWarp": "default.swarp",
            "PSFEx": "default.psfex"}

#: Keywords set in each tool's defaults, with why (the comment written beside them).
_SETTINGS: dict[str, dict[str, tuple[str, str]]] = {
    "SExtractor": {
        "CATALOG_TYPE": ("FITS_LDAC", "SCAMP and PSFEx read FITS_LDAC catalogs"),
        "FILTER": ("N", "no convolution: no companion .conv file needed"),
        "PHOT_APERTURES": ("30", "MAG_PSF is normalised to FLUX_APER(1): keep it large"),
    },
    "SCAMP": {
        "ASTREF_CATALOG": ("FILE", "the reference catalog given to aw-tui init (offline)"),
        "MATCH_RESOL": ("1.0", "arcsec; the automatic value can cost minutes and a GB"),
        "SOLVE_PHOTOM": ("N", "astrometry only"),
        "CHECKPLOT_DEV": ("NULL", "no plots (Debian's PLplot has no PNG driver)"),
        "CHECKPLOT_TYPE": ("NONE", "no plots"),
    },
    "SWarp": {
        "COMBINE_TYPE": ("WEIGHTED", "a weighted mean stack"),
    },
    "PSFEx": {
        "CENTER_KEYS": ("XWIN_IMAGE,YWIN_IMAGE", "the windowed positions SExtractor measures"),
        "PSFVAR_KEYS": ("XWIN_IMAGE,YWIN_IMAGE", "the PSF varies with position"),
        "CHECKPLOT_DEV": ("NULL", "no plots (Debian's PLplot has no PNG driver)"),
        "CHECKPLOT_TYPE": ("NONE", "no plots"),
        "CHECKIMAGE_TYPE": ("NONE", "no check images"),
    },
}


class InitError(AwTuiError):
    """What ``aw-tui init`` was given cannot make a project."""


@dataclass
class Reference:
    """A reference catalog and the columns SCAMP is told to read."""

    path: str
    centre: tuple[str, str]
    errors: tuple[str, str]
    magnitude: str
    rows: int


@dataclass
class Survey:
    """What :func:`survey` found."""

    folder: str
    images: list[str]
    weights: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    weights_suffix: str | None = None
    flags_suffix: str | None = None
    missing_weights: list[str] = field(default_factory=list)
    missing_flags: list[str] = field(default_factory=list)
    reference: Reference | None = None
    pattern: str = "*.fits"
    not_images: list[str] = field(default_factory=list)


def _companion(image: str, suffix: str) -> str:
    """``a.fits`` with suffix ``.wtmap.fits`` -> ``a.wtmap.fits``."""
    stem = image[: -len(".fits")] if image.endswith(".fits") else os.path.splitext(image)[0]
    return stem + suffix


def _read_reference(path: str) -> Reference:
    from astropy.io import fits  # lazy: slow import, only with --reference

    try:
        with fits.open(path) as hdus:
            tables = [h for h in hdus if isinstance(h, fits.BinTableHDU)]
            objects = [h for h in tables if h.name in ("OBJECTS", "LDAC_OBJECTS")]
            if not objects:
                raise InitError(
                    f"{path}: no table named OBJECTS or LDAC_OBJECTS (SCAMP reads only those)",
                    "write the reference as a FITS table with EXTNAME = 'OBJECTS' (astropy: "
                    "Table.write(path, ...) then set the HDU's name), or as an LDAC catalog")
            names = list(objects[0].columns.names)
            rows = sum(len(h.data) for h in objects)
    except OSError as exc:
        raise InitError(f"{path}: not a readable FITS file ({exc})",
                        "give --reference a FITS catalog (a table of positions)") from exc
    centre = next((pair for pair in _CENTRE_COLUMNS if set(pair) <= set(names)), None)
    errors = next((pair for pair in _ERROR_COLUMNS if set(pair) <= set(names)), None)
    magnitude = next((n for n in names if _MAG_COLUMN.match(n)), None)
    missing = [what for what, found in (("right ascension/declination", centre),
                                        ("position errors", errors), ("a magnitude", magnitude))
               if found is None]
    if missing:
        raise InitError(
            f"{path}: could not tell which columns hold {', '.join(missing)}; its columns "
            f"are {', '.join(names)}",
            "rename them to Gaia's names (RA_ICRS, DE_ICRS, e_RA, e_DE, Gmag) or write the "
            "project by hand from docs/project-file.md")
    return Reference(path=path, centre=centre, errors=errors, magnitude=magnitude, rows=rows)


def _holds_an_image(path: str) -> bool:
    """Whether a file is FITS with an image of at least two axes (not a table, not text)."""
    from astropy.io import fits  # lazy: slow import

    try:
        with fits.open(path, memmap=False) as hdus:
            return any(h.is_image and (h.header.get("NAXIS") or 0) >= 2 for h in hdus)
    except (OSError, ValueError):
        return False


def survey(folder: str, images: str, *, weights: str | None = None, flags: str | None = None,
           reference: str | None = None) -> Survey:
    """Find the images (and their weight and flag maps, and the reference's columns).

    Parameters
    ----------
    folder : str
        Where the project will be written.
    images : str
        A glob pattern of the images (relative to the working directory, ``**`` allowed).
    weights, flags : str, optional
        Suffixes that turn an image name into its weight map / flag map
        (``.wtmap.fits``: ``a.fits`` -> ``a.wtmap.fits``); files matching them are not images.
    reference : str, optional
        A reference catalog for SCAMP.

    Raises
    ------
    InitError
        When no image matches, or the reference cannot be used.
    """
    matches = sorted(p for p in glob.glob(images, recursive=True) if os.path.isfile(p))
    suffixes = [s for s in (weights, flags) if s]
    candidates = [os.path.abspath(p) for p in matches if not any(p.endswith(s) for s in suffixes)]
    if reference:
        candidates = [p for p in candidates if os.path.abspath(reference) != p]
    found = [p for p in candidates if _holds_an_image(p)]
    if not found:
        raise InitError(f"--images {images!r} matches no image",
                        "give a pattern that matches your FITS images, e.g. "
                        "--images 'raw/*.fits' (quote it so the shell does not expand it)")
    result = Survey(folder=os.path.abspath(folder), images=found, weights_suffix=weights,
                    flags_suffix=flags, pattern=os.path.abspath(images),
                    not_images=[p for p in candidates if p not in found])
    for suffix, known, missing in ((weights, result.weights, result.missing_weights),
                                   (flags, result.flags, result.missing_flags)):
        for image in found if suffix else ():
            companion = _companion(image, suffix)
            if os.path.isfile(companion):
                known[image] = companion
            else:
                missing.append(image)
    if reference:
        result.reference = _read_reference(os.path.abspath(reference))
    return result


def describe(found: Survey) -> str:
    """What was found, in a few lines (shown before asking to write)."""
    lines = [f"{len(found.images)} image(s), e.g. {found.images[0]}"]
    stems = {os.path.basename(p)[: -len(".fits")] for p in found.images if p.endswith(".fits")}
    companions = [p for p in found.images
                  if os.path.basename(p).split(".")[0] in stems
                  and os.path.basename(p).count(".") >= 2]
    if companions:
        suffix = "." + ".".join(os.path.basename(companions[0]).split(".")[1:])
        lines.append(f"{len(companions)} of them look like companions of other images, e.g. "
                     f"{companions[0]}: if they are weight or flag maps, answer no and give "
                     f"--weights {suffix} or --flags {suffix}")
    if found.not_images:
        lines.append(f"skipped {len(found.not_images)} file(s) that hold no image, e.g. "
                     f"{found.not_images[0]}")
    for what, known, missing, suffix in (
            ("weight maps", found.weights, found.missing_weights, found.weights_suffix),
            ("flag maps", found.flags, found.missing_flags, found.flags_suffix)):
        if suffix:
            lines.append(f"{len(known)} {what} ({suffix})"
                         + (f"; missing for {len(missing)}: {missing[0]} ..." if missing else ""))
    ref = found.reference
    if ref is not None:
        lines.append(f"reference {ref.path}: {ref.rows} rows; positions {ref.centre[0]}, "
                     f"{ref.centre[1]}; errors {ref.errors[0]}, {ref.errors[1]}; "
                     f"magnitude {ref.magnitude}")
    lines.append(f"project: {os.path.join(found.folder, 'project.toml')} and "
                 f"{os.path.join(found.folder, 'config')}/")
    return "\n".join(lines)


def _defaults(code: str) -> str:
    """The tool's default configuration as the installed binary prints it (``-dd``)."""
    try:
        tool = find_tool(code)
    except ToolNotFoundError as exc:
        raise InitError(f"{code} is not installed, so its default configuration cannot be "
                        "written", str(exc)) from exc
    proc = subprocess.run([tool.path, "-dd"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise InitError(f"{tool.path} -dd printed no configuration (exit {proc.returncode})",
                        "check the installation with `aw-tui doctor`")
    return proc.stdout


def _set_keywords(text: str, settings: dict[str, tuple[str, str]]) -> str:
    """``text`` with each keyword of ``settings`` set to its value and commented why."""
    out, done = [], set()
    for line in text.splitlines():
        words = line.split()
        key = words[0] if words and not line.startswith(("#", " ")) else None
        if key in settings:
            value, why = settings[key]
            out.append(f"{key:<16} {value:<14} # aw-tui init: {why}")
            done.add(key)
        else:
            out.append(line)
    for key, (value, why) in settings.items():
        if key not in done:
            out.append(f"{key:<16} {value:<14} # aw-tui init: {why}")
    return "\n".join(out) + "\n"


def _companion_settings() -> dict[str, tuple[str, str]]:
    """Absolute paths of SExtractor's neural network file, where the system has it."""
    for folder in ("/usr/share/source-extractor", "/usr/share/sextractor",
                   "/usr/local/share/sextractor"):
        nnw = os.path.join(folder, "default.nnw")
        if os.path.isfile(nnw):
            return {"STARNNW_NAME": (nnw, "absolute: the tools open companions relative to "
                                          "their working directory")}
    return {}


def _relative(path: str, folder: str) -> str:
    rel = os.path.relpath(path, folder)
    return path if rel.startswith("..") else rel


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_project(found: Survey, *, force: bool = False) -> list[str]:
    """Write ``project.toml`` and ``config/`` for what :func:`survey` found.

    Returns the files written. Refuses (``InitError``) to overwrite an existing
    ``project.toml`` unless ``force``.
    """
    project = os.path.join(found.folder, "project.toml")
    if os.path.exists(project) and not force:
        raise InitError(f"{project} exists already",
                        "choose another folder, or pass --force to replace it")
    config = os.path.join(found.folder, "config")
    os.makedirs(config, exist_ok=True)
    codes = ["SExtractor"] if found.reference is None else list(_CONFIGS)
    written = []
    for code in codes:
        settings = dict(_SETTINGS[code])
        if code == "SExtractor":
            settings.update(_companion_settings())
        path = os.path.join(config, _CONFIGS[code])
        atomic_write_text(path, _set_keywords(_defaults(code), settings))
        written.append(path)
    atomic_write_text(project, project_text(found))
    written.append(project)
    return written


def project_text(found: Survey) -> str:
    """The text of ``project.toml``: every line commented for a first reader."""
    pattern = _relative(found.pattern, found.folder)
    excludes = [f"*{s}" for s in (found.weights_suffix, found.flags_suffix) if s]
    skipped = list(found.not_images)
    if found.reference is not None:
        skipped.append(found.reference.path)
    excludes += [os.path.basename(p) for p in skipped]  # a name without "/" matches file names
    parts = [_HEADER.format(n=len(found.images), chain=_CHAIN if found.reference else
                            "SExtractor on each image")]
    parts.append(_INPUTS.format(pattern=_toml_string(pattern),
                                exclude=", ".join(_toml_string(e) for e in excludes)))
    fields, required = [], []
    for name, suffix in (("wtmap", found.weights_suffix), ("dqmask", found.flags_suffix)):
        if suffix:
            fields.append(f'{name} = "{{item.image|parent}}/{{item.image|stem}}{suffix}"'
                          f"   # this image's {'weight map' if name == 'wtmap' else 'flag map'}")
            required.append(_toml_string(name))
    if fields:
        parts.append(f"required = [{', '.join(required)}]   # aw-tui check names the images "
                     "without them\n\n[inputs.images.fields]\n" + "\n".join(fields) + "\n")
    weight = ('WEIGHT_TYPE = "MAP_WEIGHT"   # the weight maps are maps of 1/variance\n'
              if found.weights_suffix else "")
    parts.append(_DETECT.format(weight=weight))
    if found.reference is not None:
        ref = found.reference
        parts.append(_CHAIN_STEPS.format(
            reference=_toml_string(_relative(ref.path, found.folder)),
            centre=_toml_string(",".join(ref.centre)), errors=_toml_string(",".join(ref.errors)),
            magnitude=_toml_string(ref.magnitude), weight=weight,
            swarp_weight=('WEIGHT_TYPE = "MAP_WEIGHT"   # use the weight maps beside the images\n'
                          f'WEIGHT_SUFFIX = "{found.weights_suffix}"\n'
                          if found.weights_suffix else ""),
            stack_files=('{ image = "{vars.stack}", wtmap = "{vars.stack_weight}" }'
                         if found.weights_suffix else '"{vars.stack}"')))
    return "".join(parts)


_CHAIN = ("SExtractor on each image, SCAMP against the reference catalog, SWarp stack,\n"
          "# SExtractor with VIGNET on the stack, PSFEx, PSF photometry on the stack")

_HEADER = '''# An aw-tui project written by `aw-tui init` for {n} image(s): {chain}.
#
#   aw-tui check project.toml          # validate it and list the steps (runs nothing)
#   aw-tui project.toml                # the terminal UI: r runs, c continues, ? help
#   aw-tui project.toml --batch        # run it headless (a Slurm job, nohup)
#
# Relative paths are relative to this file's folder. Every key: docs/project-file.md.

[pipeline]
name = "my-images"          # the run's name in the TUI and in `aw-tui status`
create_paths = true         # create the work/ folders below without asking

[paths]
config = "config"           # each tool's configuration, written by `aw-tui init` (-dd)
temp = "work/temp"          # intermediate files: catalogs, the stack
log = "work/log"            # the run directory: checkpoint, journal, each step's output
catalogs = "work/catalogs"  # catalogs you keep

[vars]
frames = []                 # FITS extensions to run on: [] is the whole image
stack = "{{paths.temp}}/stack.fits"               # the stack SWarp writes
stack_weight = "{{paths.temp}}/stack.wtmap.fits"  # its weight map
stack_cat = "{{paths.temp}}/stack.cat"            # SExtractor's catalog of the stack, for PSFEx
'''

_INPUTS = '''
# The images: one step per image for the steps with `foreach = "images"`.
[inputs.images]
glob = {pattern}       # which files are images
exclude = [{exclude}]  # not images: weight maps, flag maps, the reference
'''

_DETECT = '''
# SExtractor on each image (independent steps: `--jobs N` runs N at once).
[[steps]]
name = "detect"             # steps are shown as detect · <image>
func = "sextractor"         # aw_tui.api.run_sex
foreach = "images"
tags = ["step1", "SExtractor"]
outputs = {{ catalog = "{{paths.temp}}/{{item.image|stem}}.cat" }}   # where each catalog goes

[steps.kwargs]
files = "{{item}}"            # the image (with its weight map and flag map, if any)
frames = "{{vars.frames}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.sex"
params = ["NUMBER", "EXT_NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE",
    "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD", "FLUX_AUTO",
    "FLUXERR_AUTO", "MAG_AUTO", "FLAGS", "FLUX_RADIUS", "ELONGATION"]   # the catalog's columns

[steps.kwargs.api_kwargs.config]
CATALOG_NAME = "{{outputs.catalog}}"   # the output named above
{weight}'''

_CHAIN_STEPS = '''
# SCAMP: the astrometric solution of every image against the reference catalog.
[[steps]]
name = "astrometry"
func = "scamp"
tags = ["step2", "SCAMP"]

[steps.kwargs]
catalogs = "{{steps.detect.outputs.catalog}}"   # every catalog of the detect step

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.scamp"

[steps.kwargs.api_kwargs.config]
ASTREFCAT_NAME = {reference}    # the reference catalog
ASTREFCENT_KEYS = {centre}      # its position columns (degrees)
ASTREFERR_KEYS = {errors}       # its position error columns
ASTREFMAG_KEY = {magnitude}     # its magnitude column

# SWarp: resample the images with SCAMP's solution and stack them.
[[steps]]
name = "stack"
func = "swarp"
tags = ["step3", "SWarp"]

[steps.kwargs]
filenames = "{{inputs.images[*].image}}"
frames = "{{vars.frames}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.swarp"

[steps.kwargs.api_kwargs.config]
IMAGEOUT_NAME = "{{vars.stack}}"
WEIGHTOUT_NAME = "{{vars.stack_weight}}"
{swarp_weight}
# SExtractor on the stack with VIGNET: the stars PSFEx models.
[[steps]]
name = "stack-detect"
func = "sextractor"
tags = ["step4", "SExtractor"]

[steps.kwargs]
files = {stack_files}
frames = "{{vars.frames}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.sex"
params = ["NUMBER", "EXT_NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE",
    "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD", "FLUX_APER(1)",
    "FLUXERR_APER(1)", "FLAGS", "FLUX_RADIUS", "ELONGATION", "VIGNET(20,20)",
    "SNR_WIN"]   # PSFEx needs VIGNET, FLUX_APER, FLUX_RADIUS and SNR_WIN

[steps.kwargs.api_kwargs.config]
CATALOG_NAME = "{{vars.stack_cat}}"
{weight}
# PSFEx: the PSF model of the stack.
[[steps]]
name = "psf"
func = "psfex"
tags = ["step5", "PSFEx"]

[steps.kwargs]
catalogs = "{{vars.stack_cat}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.psfex"

[steps.kwargs.api_kwargs.config]
PSF_SUFFIX = ".psf"          # the model is written beside the catalog: stack.psf

# SExtractor PSF photometry on the stack with PSFEx's model.
[[steps]]
name = "psf-photometry"
func = "sextractor"
tags = ["step6", "SExtractor"]

[steps.kwargs]
files = {stack_files}
frames = "{{vars.frames}}"

[steps.kwargs.api_kwargs]
config_file = "{{paths.config}}/default.sex"
params = ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "FLAGS", "MAG_AUTO", "MAGERR_AUTO",
    "ALPHAPSF_SKY", "DELTAPSF_SKY", "FLUX_PSF", "FLUXERR_PSF", "MAG_PSF", "MAGERR_PSF"]

[steps.kwargs.api_kwargs.config]
PSF_NAME = "{{paths.temp}}/stack.psf"        # PSFEx's model
CATALOG_NAME = "{{paths.catalogs}}/stack_psf.ldac.fits"   # the catalog you keep
{weight}'''


def ask(question: str, read: Callable[[str], str] = input) -> bool:
    """Ask a yes/no question in a terminal (anything but y/yes is no)."""
    return read(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def init_project(folder: str, images: str, *, weights: str | None = None,
                 flags: str | None = None, reference: str | None = None, force: bool = False,
                 interactive: bool = False, out: Callable[[str], None] = print,
                 read: Callable[[str], str] = input) -> list[str] | None:
    """``aw-tui init``: survey, show what was found (asking first in a terminal), write.

    Returns the files written, or None when the user said no.
    """
    found = survey(folder, images, weights=weights, flags=flags, reference=reference)
    if interactive:
        out(describe(found))
        if not ask("Write this project?", read):
            return None
    return write_project(found, force=force)

