"""The pipeline step functions of the seed: ``run_sex``, ``run_scamp``, ``run_swarp``,
``run_psfex``.

They take the seed's arguments and fill in its defaults: CATALOG_NAME from the image name,
FLAG_IMAGE from ``dqmask``, WEIGHT_IMAGE from ``wtmap``, a params file in temp, RESAMPLE_DIR
and PSF_DIR in temp, WRITE_XML and ``<log>/<step_id>.<tool>.log.xml`` when the pipeline has a
log path, the binary from ``pipeline.build_paths``. Each builds one
:class:`~aw_tui.astromatic.command.Astromatic` (the only copy of the caller's dicts) and
returns its result dict with tool-specific products (``catalogs``, ``heads``, ``image``,
``psf`` ...). They never modify the caller's dicts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from aw_tui.astromatic.argsafe import move_into_place
from aw_tui.astromatic.command import (
    Astromatic,
    AstromaticError,
    as_list,
    config_file_value,
    format_value,
)
from aw_tui.astromatic.frames import frame_file_name, link_original_xml_name, split_frame
from aw_tui.astromatic.registry import spec_for
from aw_tui.astromatic.verdicts import verdict_of

__all__ = [
    "default_catalog_name",
    "head_name",
    "psf_name",
    "run_psfex",
    "run_scamp",
    "run_sex",
    "run_swarp",
]




def _log_dir(pipeline: Any) -> str | None:
    return getattr(pipeline, "paths", {}).get("log") if pipeline is not None else None


def _temp_dir(pipeline: Any, api_kwargs: dict[str, Any]) -> str | None:
    temp = api_kwargs.get("temp_path")
    if temp:
        return temp
    if pipeline is not None:
        return getattr(pipeline, "paths", {}).get("temp")
    return None


def _prepare(
    pipeline: Any,
    step_id: Any,
    code: str,
    api_kwargs: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
) -> tuple[Astromatic, dict[str, Any]]:
    """An :class:`Astromatic` with the seed's defaults, and its config to fill in.

    :class:`Astromatic` deep-copies the caller's dicts once; the step functions then set
    their defaults in ``api.config`` (the second value returned) and run it.
    """
    kwargs = dict(api_kwargs or {})
    kwargs.update(extra or {})
    config = dict(kwargs.pop("config", None) or {})
    kwargs["temp_path"] = _temp_dir(pipeline, kwargs)
    if pipeline is not None and "build_paths" not in kwargs:
        kwargs["build_paths"] = dict(getattr(pipeline, "build_paths", {}) or {})
    log_dir = _log_dir(pipeline)
    if log_dir and "XML_NAME" not in config:
        config.setdefault("WRITE_XML", "Y")
        config["XML_NAME"] = os.path.join(log_dir, f"{step_id}.{spec_for(code).xml_tag}.log.xml")
    elif "XML_NAME" in config:
        config.setdefault("WRITE_XML", "Y")
    kwargs.setdefault("tag", f"{step_id}" if step_id is not None else "run")
    api = Astromatic(code, config=config, **kwargs)
    return api, api.config


def _files_dict(files: Any) -> dict[str, Any]:
    if isinstance(files, dict):
        return dict(files)
    if isinstance(files, (str, os.PathLike)):
        return {"image": os.fspath(files)}
    raise AstromaticError(
        "'files' must be an image file name or a dict like {'image': ..., 'wtmap': ..., "
        f"'dqmask': ...}}, not {type(files).__name__}"
    )


def _check_inputs(code: str, paths: Iterable[str]) -> str | None:
    """Why the tool could not read one of its input files, before running it."""
    problems = []
    missing = []
    for path in paths:
        if not path:
            continue
        base = split_frame(path)[0]
        if not os.path.exists(base):
            missing.append(path)
        elif os.path.isdir(base):
            problems.append(f"{path} is a folder, not a file")
        elif not os.access(base, os.R_OK):
            problems.append(f"{path} cannot be read (permission denied): fix its permissions "
                            f"(`chmod u+r {base}`)")
    if missing:
        problems.insert(0, f"input file(s) not found: {', '.join(missing)}")
    if problems:
        return f"{code}: {'; '.join(problems)}"
    return None


def _error_result(code: str, message: str, **extra: Any) -> dict[str, Any]:
    result = {"status": "error", "error_msg": message, "verdict": "bad", "warnings": [],
              "warnings_table": None, "summary": {}, "code": code}
    result.update(extra)
    return result


def _run(api: Astromatic, filenames: list[str], frames: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        if frames:
            return api.run_frames(filenames, api.code, frames=frames, raise_error=False,
                                  **kwargs)
        return api.run(filenames, raise_error=False, **kwargs)
    except AstromaticError as exc:
        return _error_result(api.code, str(exc))


def default_catalog_name(image: str, temp: str | None) -> str:
    """The seed's default SExtractor catalog: the image's name with ``.cat``, in temp."""
    stem = os.path.basename(image)
    stem = stem[: -len(".fits")] if stem.endswith(".fits") else os.path.splitext(stem)[0]
    folder = temp or os.path.dirname(os.path.abspath(image))
    return os.path.join(folder, stem + ".cat")


def run_sex(
    pipeline: Any,
    step_id: Any,
    files: Any,
    api_kwargs: dict[str, Any] | None = None,
    frames: Sequence[int | str] | None = None,
    params: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run SExtractor on one image (the seed's ``run_sex``).

    Parameters
    ----------
    pipeline : Pipeline
        Gives ``paths['temp']``, ``paths['log']`` and ``build_paths``.
    step_id : int
        Names the XML log ``<log>/<step_id>.sex.log.xml``.
    files : str or dict
        The image, or ``{'image': ..., 'wtmap': ..., 'dqmask': ...}``: ``wtmap`` becomes
        WEIGHT_IMAGE (WEIGHT_TYPE MAP_WEIGHT unless set), ``dqmask`` FLAG_IMAGE.
    api_kwargs : dict
        ``config``, ``config_file``, ``params`` ... for :class:`Astromatic`.
    frames : list of int, optional
        Run per FITS extension.
    params : list of str, optional
        Output parameters (also accepted inside ``api_kwargs``).

    Returns
    -------
    dict
        The result, with ``catalog`` (or ``catalogs`` per frame) and ``image``.
    """
    files = _files_dict(files)
    extra = {"params": list(params)} if params else None
    api, config = _prepare(pipeline, step_id, "SExtractor", api_kwargs, extra)
    image = files.get("image")
    if not image:
        return _error_result("SExtractor", "files has no 'image'")
    if files.get("wtmap") and "WEIGHT_IMAGE" not in config:
        config["WEIGHT_IMAGE"] = files["wtmap"]
        config.setdefault("WEIGHT_TYPE", "MAP_WEIGHT")
    if files.get("dqmask") and "FLAG_IMAGE" not in config:
        config["FLAG_IMAGE"] = files["dqmask"]
    if "CATALOG_NAME" not in config:
        config["CATALOG_NAME"] = default_catalog_name(image, api.temp_path)
    missing = _check_inputs("SExtractor", [image, *as_list(config.get("WEIGHT_IMAGE")),
                                           *as_list(config.get("FLAG_IMAGE")),
                                           *as_list(config.get("PARAMETERS_NAME")),
                                           *as_list(config.get("PSF_NAME"))])
    if missing:
        return _error_result("SExtractor", missing, image=image)
    result = _run(api, [image], frames)
    catalog = config["CATALOG_NAME"]
    if frames and len(list(frames)) > 1:
        result["catalogs"] = [frame_file_name(catalog, str(f)) for f in result.get("frames", [])]
    else:
        result["catalogs"] = [catalog]
    result["catalog"] = result["catalogs"][0]
    result["image"] = image
    _declare(result, written=result["catalogs"])
    return result


def _values(found: Any) -> list[Any]:
    return list(found.values()) if isinstance(found, dict) else list(as_list(found))


def _declare(result: dict[str, Any], read: Iterable[Any] = (),
             written: Iterable[Any] = ()) -> None:
    """Add files the step read and wrote beyond its tool call's own (``result['files']``),
    e.g. the headers SCAMP wrote beside the catalogs."""
    files = result.setdefault("files", {"read": [], "written": []})
    files["read"] = sorted({*files.get("read", ()), *(
        os.path.abspath(split_frame(os.fspath(p))[0]) for p in read if p)})
    files["written"] = sorted({*files.get("written", ()), *(
        os.path.abspath(os.fspath(p)) for p in written if p)})


def _setting(api: Astromatic, key: str, default: str) -> str:
    """The value the tool will use: the command line, else the config file, else the
    tool's default."""
    if key in api.config:
        return format_value(api.config[key])
    return config_file_value(api.config_file, key) or default


def head_name(catalog: str, suffix: str = ".head") -> str:
    """Where SCAMP writes the header of ``catalog``: its extension replaced by ``.head``."""
    return os.path.splitext(catalog)[0] + suffix


def run_scamp(
    pipeline: Any,
    step_id: Any,
    catalogs: Any,
    api_kwargs: dict[str, Any] | None = None,
    save_catalog: str | None = None,
) -> dict[str, Any]:
    """Run SCAMP on catalogs (the seed's ``run_scamp``).

    Parameters
    ----------
    catalogs : str or list of str
        FITS_LDAC catalogs from SExtractor.
    save_catalog : str, optional
        Save the reference catalog SCAMP used in this folder, as the original did
        (``SAVE_REFCATALOG Y``, ``REFOUT_CATPATH save_catalog``; the folder is created). For
        the merged catalog of the inputs set MERGEDOUTCAT_NAME and MERGEDOUTCAT_TYPE in the
        config.

    Returns
    -------
    dict
        The result, with ``heads``: catalog name -> the ``.head`` file SCAMP wrote, and with
        ``save_catalog``, ``refcatalogs``: the files SCAMP wrote into that folder.
    """
    catalogs = [os.fspath(c) for c in as_list(catalogs)]
    api, config = _prepare(pipeline, step_id, "SCAMP", api_kwargs)
    config.setdefault("CHECKPLOT_DEV", "NULL")
    config.setdefault("CHECKPLOT_TYPE", "NONE")
    saved_before: dict[str, float | None] = {}
    if save_catalog:
        save_catalog = os.fspath(save_catalog)
        config["SAVE_REFCATALOG"] = "Y"
        config["REFOUT_CATPATH"] = save_catalog
        saved_before = _folder_state(save_catalog)
    if not catalogs:
        return _error_result("SCAMP", "no catalogs given")
    missing = _check_inputs("SCAMP", catalogs)
    if missing:
        return _error_result("SCAMP", missing)
    suffix = _setting(api, "HEADER_SUFFIX", ".head")
    before = {c: _mtime(head_name(c, suffix)) for c in catalogs}
    result = _run(api, catalogs, None)
    heads: dict[str, str] = {}
    links = result.get("safe_links") or {}
    for catalog in catalogs:
        real = head_name(catalog, suffix)
        if catalog in links:
            # The catalog reached SCAMP through a safe link: its head is beside the link.
            linked = head_name(links[catalog], suffix)
            if os.path.exists(linked):
                move_into_place(linked, real)
                heads[catalog] = real
            continue
        if os.path.exists(real) and _mtime(real) != before[catalog]:
            heads[catalog] = real
    result["heads"] = heads
    result["catalogs"] = catalogs
    _declare(result, read=catalogs, written=heads.values())
    if save_catalog:
        after = _folder_state(save_catalog)
        result["refcatalogs"] = sorted(p for p, t in after.items() if saved_before.get(p) != t)
        if result["status"] == "success" and not result["refcatalogs"]:
            # SCAMP saves only a catalog it downloaded: a FILE reference is not copied.
            result["warnings"] = [*result.get("warnings", []), (
                f"SCAMP saved no reference catalog in {save_catalog} (save_catalog): it saves "
                "only catalogs it downloads; with ASTREF_CATALOG "
                f"{_setting(api, 'ASTREF_CATALOG', '2MASS')} the reference is "
                f"{_setting(api, 'ASTREFCAT_NAME', 'astrefcat.cat')} already")]
            result["verdict"] = verdict_of(result["status"], result["warnings"])
    if result["status"] == "success" and len(heads) < len(catalogs):
        lost = [c for c in catalogs if c not in heads]
        result["status"], result["verdict"] = "error", "bad"
        result["error_msg"] = f"SCAMP wrote no header for {', '.join(lost)}"
    return result


def _folder_state(folder: str) -> dict[str, float | None]:
    """Each file of ``folder`` (created if missing) -> its modification time."""
    try:
        os.makedirs(folder, exist_ok=True)
        return {os.path.join(folder, n): _mtime(os.path.join(folder, n))
                for n in os.listdir(folder)}
    except OSError:
        return {}


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _scamp_heads_from_pipeline(pipeline: Any) -> dict[str, str]:
    """image -> SCAMP head, from earlier steps' results (SExtractor image -> catalog,
    SCAMP catalog -> head)."""
    if pipeline is None:
        return {}
    catalog_to_head: dict[str, str] = {}
    image_to_catalogs: dict[str, list[str]] = {}
    for step in getattr(pipeline, "steps", []):
        results = step.results if isinstance(step.results, dict) else None
        if not results:
            continue
        heads = results.get("heads")
        for cat, head in (heads.items() if isinstance(heads, dict) else ()):
            catalog_to_head[os.path.abspath(cat)] = head
        if results.get("image") and results.get("catalogs"):
            image_to_catalogs.setdefault(os.path.abspath(results["image"]), []).extend(
                os.path.abspath(c) for c in results["catalogs"]
            )
    mapping = {}
    for image, cats in image_to_catalogs.items():
        for cat in cats:
            if cat in catalog_to_head:
                mapping[image] = catalog_to_head[cat]
    # Fallback by name: a head whose stem is the image's stem.
    by_stem = {os.path.splitext(os.path.basename(h))[0]: h for h in catalog_to_head.values()}
    return {"__by_stem__": by_stem, **mapping}  # type: ignore[dict-item]


def _scamp_ran(pipeline: Any) -> bool:
    return any(
        isinstance(step.results, dict) and isinstance(step.results.get("heads"), dict)
        for step in getattr(pipeline, "steps", [])
    )


def _stage_swarp_inputs(
    pipeline: Any, step_id: Any, images: list[str], temp: str | None, weight_suffix: str,
    head_suffix: str = ".head",
) -> tuple[list[str], list[str], str | None]:
    """Give SWarp each image with SCAMP's head beside it.

    SWarp reads ``<image>.head`` beside the image and silently ignores SCAMP's solution
    otherwise. When a head is elsewhere (the catalogs were in temp), the image, its weight
    map and the head are linked side by side in ``<temp>/<step_id>.swarp-inputs/``.

    Returns
    -------
    staged : list of str
        The names to give SWarp.
    used_heads : list of str
        The heads applied.
    error : str or None
        Why the stack would be misaligned, if it would.
    """
    mapping = _scamp_heads_from_pipeline(pipeline)
    by_stem = mapping.pop("__by_stem__", {})  # type: ignore[arg-type]
    staged, used = [], []
    missing = []
    folder = os.path.join(temp or ".", f"{step_id}.swarp-inputs")
    for index, image in enumerate(images):
        base, frame = split_frame(image)
        beside = os.path.splitext(base)[0] + head_suffix
        if os.path.exists(beside):
            staged.append(image)
            used.append(beside)
            continue
        stem = os.path.splitext(os.path.basename(base))[0]
        head = mapping.get(os.path.abspath(base)) or by_stem.get(stem)
        if head is None or not os.path.exists(head):
            if _scamp_ran(pipeline):
                missing.append(base)
            staged.append(image)
            continue
        os.makedirs(folder, exist_ok=True)
        link_stem = os.path.join(folder, f"{index:04d}_{stem}")
        for src, dst in (
            (base, link_stem + ".fits"),
            (os.path.splitext(base)[0] + weight_suffix, link_stem + weight_suffix),
            (head, link_stem + head_suffix),
        ):
            if os.path.lexists(dst):
                os.unlink(dst)
            if os.path.exists(src):
                os.symlink(os.path.abspath(src), dst)
        staged.append(link_stem + ".fits" + frame)
        used.append(head)
    error = None
    if missing:
        error = (
            "SCAMP ran in this pipeline but no SCAMP header was found for "
            f"{', '.join(missing)}: the stack would silently use the raw header WCS. Run SCAMP "
            "on the catalogs of these images (SExtractor step results link image -> catalog), "
            "or put <image>.head beside each image."
        )
    return staged, used, error


def run_swarp(
    pipeline: Any,
    step_id: Any,
    filenames: Any,
    api_kwargs: dict[str, Any] | None = None,
    frames: Sequence[int | str] | None = None,
) -> dict[str, Any]:
    """Resample and stack images with SWarp (the seed's ``run_swarp``).

    SCAMP's headers are applied even when SCAMP wrote them beside catalogs in another
    folder (see :func:`_stage_swarp_inputs`); a run that would silently ignore them stops
    with an error instead.

    Returns
    -------
    dict
        The result, with ``image`` (the stack), ``weight`` and ``heads_used``.
    """
    images = [os.fspath(f) for f in as_list(filenames)]
    api, config = _prepare(pipeline, step_id, "SWarp", api_kwargs)
    temp = api.temp_path
    if temp:
        config.setdefault("RESAMPLE_DIR", temp)
    if "IMAGEOUT_NAME" not in config:
        config["IMAGEOUT_NAME"] = os.path.join(temp or ".", f"{step_id}.coadd.fits")
    if "WEIGHTOUT_NAME" not in config:
        config["WEIGHTOUT_NAME"] = config["IMAGEOUT_NAME"].replace(".fits", ".weight.fits")
    if not images:
        return _error_result("SWarp", "no images given")
    missing = _check_inputs("SWarp", images)
    if missing:
        return _error_result("SWarp", missing)
    # The suffixes may come from the config file: the links must use the tool's names.
    suffix = _setting(api, "WEIGHT_SUFFIX", ".weight.fits")
    head_suffix = _setting(api, "HEADER_SUFFIX", ".head")
    if frames:
        images = [f"{img}[{frames[0]}]" for img in images] if len(list(frames)) == 1 else images
    staged, heads, error = _stage_swarp_inputs(pipeline, step_id, images, temp, suffix,
                                               head_suffix)
    if error:
        return _error_result("SWarp", error, image=config["IMAGEOUT_NAME"])
    result = _run(api, staged, None, companions=[suffix, head_suffix])
    if frames and len(list(frames)) == 1 and isinstance(config.get("XML_NAME"), str):
        # The original's name of a single-frame log too (<step>.swarp.log-<frame>.xml).
        alias = link_original_xml_name(result.get("xml"), config["XML_NAME"], str(frames[0]))
        result["xml_original_names"] = [alias] if alias else []
    result["image"] = config["IMAGEOUT_NAME"]
    result["weight"] = config["WEIGHTOUT_NAME"]
    result["heads_used"] = heads
    _declare(result, read=[*images, *_values(heads)],
             written=[result["image"], result["weight"]])
    if result["status"] == "success" and not os.path.exists(result["image"]):
        result["status"], result["verdict"] = "error", "bad"
        result["error_msg"] = f"SWarp ended without writing {result['image']}"
    summary = result.get("summary")
    if isinstance(summary, dict) and not summary.get("image_size"):
        # SWarp's XML only records a size forced with IMAGE_SIZE: read the stack's header.
        size = _image_size(result["image"])
        if size:
            summary["image_size"] = size
    return result


def _image_size(path: str) -> list[int] | None:
    """``[NAXIS1, NAXIS2]`` of the first image HDU of ``path``, or None."""
    from astropy.io import fits  # lazy: slow import

    try:
        with fits.open(path, memmap=True) as hdus:
            for hdu in hdus:
                if hdu.header.get("NAXIS", 0) >= 2:
                    return [int(hdu.header["NAXIS1"]), int(hdu.header["NAXIS2"])]
    except (OSError, ValueError):
        return None
    return None


def psf_name(catalog: str, psf_dir: str | None, suffix: str = ".psf") -> str:
    """Where PSFEx writes the PSF of ``catalog``."""
    stem = os.path.splitext(os.path.basename(catalog))[0]
    folder = psf_dir or os.path.dirname(os.path.abspath(catalog))
    return os.path.join(folder, stem + suffix)


def run_psfex(
    pipeline: Any,
    step_id: Any,
    catalogs: Any,
    api_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Model the PSF with PSFEx (the seed's ``run_psfex``).

    Returns
    -------
    dict
        The result, with ``psfs``: catalog -> PSF file (``psf`` for the first).
    """
    catalogs = [os.fspath(c) for c in as_list(catalogs)]
    api, config = _prepare(pipeline, step_id, "PSFEx", api_kwargs)
    if api.temp_path:
        config.setdefault("PSF_DIR", api.temp_path)
    config.setdefault("CHECKPLOT_TYPE", "NONE")
    config.setdefault("CHECKIMAGE_TYPE", "NONE")
    if not catalogs:
        return _error_result("PSFEx", "no catalogs given")
    missing = _check_inputs("PSFEx", catalogs)
    if missing:
        return _error_result("PSFEx", missing)
    result = _run(api, catalogs, None)
    suffix = _setting(api, "PSF_SUFFIX", ".psf")
    psfs = {}
    links = result.get("safe_links") or {}
    for catalog in catalogs:
        expected = psf_name(catalog, config.get("PSF_DIR"), suffix)
        if catalog in links:
            # PSFEx read the catalog through a safe link and named the PSF after the link.
            linked = psf_name(links[catalog], config.get("PSF_DIR"), suffix)
            if os.path.exists(linked):
                move_into_place(linked, expected)
        if os.path.exists(expected):
            psfs[catalog] = expected
    result["psfs"] = psfs
    _declare(result, read=catalogs, written=psfs.values())
    result["psf"] = next(iter(psfs.values()), None)
    result["catalogs"] = catalogs
    if result["status"] == "success" and len(psfs) < len(catalogs):
        lost = [c for c in catalogs if c not in psfs]
        result["status"], result["verdict"] = "error", "bad"
        result["error_msg"] = f"PSFEx wrote no PSF for {', '.join(lost)}"
    return result
