"""The seed's API for the AstrOmatic tools: ``Astromatic`` and ``run_sex/scamp/swarp/psfex``.

``Astromatic(code, temp_path, config, config_file, store_output, **kwargs)`` turns a config
dict into an argv list (``-KEY value``; ``True``/``False`` as ``Y``/``N``; lists joined by
commas), runs the tool with :func:`aw_tui.base.process.run_command` (no shell, own process group,
raw output streamed to the step's ``steps/<id>.out``), and returns a result dict:

``status`` (``success``/``error``), ``error_msg``, ``warnings`` (astropy Table from the XML
log, ``meta['filename']`` = the XML file), ``summary`` (a few numbers per tool), ``argv``,
``returncode``, ``duration``, ``output`` (the output file, or the text with
``store_output=True``), ``xml``, and tool-specific products (``catalogs``, ``heads``,
``image``, ``psf`` ...).

The step functions take the seed's arguments and fill in its defaults: CATALOG_NAME from the
image name, FLAG_IMAGE from ``dqmask``, WEIGHT_IMAGE from ``wtmap``, a params file in temp,
RESAMPLE_DIR and PSF_DIR in temp, WRITE_XML and ``<log>/<step_id>.<tool>.log.xml`` when the
pipeline has a log path, the binary from ``pipeline.build_paths``. They never modify the
caller's dicts.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from aw_tui.astromatic.argsafe import SafeNames, UnsafeNameError, move_into_place
from aw_tui.astromatic.diagnose import diagnose
from aw_tui.astromatic.registry import TOOLS, ToolNotFoundError, canonical_code, find_tool
from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.errors import AwTuiError
from aw_tui.base.process import run_command
from aw_tui.base.stepcontext import current_step

__all__ = [
    "ApiError",
    "Astromatic",
    "AstromaticError",
    "codes",
    "run_psfex",
    "run_scamp",
    "run_sex",
    "run_swarp",
]

#: The tools this API knows, with the binary names each platform uses.
codes = {code: list(spec.names) for code, spec in TOOLS.items()}

#: Short names used in XML log file names.
XML_TAGS = {"SExtractor": "sex", "SCAMP": "scamp", "SWarp": "swarp", "PSFEx": "psfex"}

#: Config keys naming files the tool reads / writes, and folders.
INPUT_KEYS = {
    "SExtractor": {"FLAG_IMAGE", "WEIGHT_IMAGE", "PARAMETERS_NAME", "FILTER_NAME",
                   "STARNNW_NAME", "PSF_NAME", "ASSOC_NAME"},
    "SCAMP": {"ASTREFCAT_NAME", "AHEADER_GLOBAL"},
    "SWarp": {"WEIGHT_IMAGE"},
    "PSFEx": set(),
}
OUTPUT_KEYS = {
    "SExtractor": {"CATALOG_NAME", "CHECKIMAGE_NAME", "XML_NAME"},
    "SCAMP": {"XML_NAME", "MERGEDOUTCAT_NAME", "FULLOUTCAT_NAME"},
    "SWarp": {"IMAGEOUT_NAME", "WEIGHTOUT_NAME", "XML_NAME"},
    "PSFEx": {"XML_NAME"},
}
DIR_KEYS = {"RESAMPLE_DIR", "PSF_DIR"}


class AstromaticError(AwTuiError):
    """A tool could not be run as asked (bad arguments, missing tool, failed run)."""


ApiError = AstromaticError

_run_counter = itertools.count()


def format_value(value: Any) -> str:
    """A config value as the tools expect it on the command line."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def assemble_argv(
    cmd: str, files: list[str], config_file: Any, config: dict[str, Any]
) -> list[str]:
    """``[cmd, *files, -c config_file, -KEY value ...]``: one argument per item, no shell."""
    argv = [cmd, *files]
    if config_file:
        argv += ["-c", os.fspath(config_file)]
    for key, value in config.items():
        argv += [f"-{key}", format_value(value)]
    return argv


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


#: Values of file keywords that are not file names.
_NOT_FILES = {"", "STDOUT", "NONE", "NULL"}


def _absolute(name: str) -> str:
    """``name`` made absolute against the current folder (``[n]`` and ``@`` kept)."""
    if name.strip().upper() in _NOT_FILES:
        return name
    at = "@" if name.startswith("@") else ""
    base, frame = split_frame(name[len(at):])
    if os.path.isabs(base):
        return name
    return at + os.path.abspath(base) + frame


def _input_fixer(safe: SafeNames) -> Any:
    """``safe.input`` for a name that may select an extension (``weight.fits[2]``): the
    file is linked, the ``[n]`` kept for the tool."""

    def fix(name: str) -> str:
        base, frame = split_frame(name)
        return safe.input(base) + frame

    return fix


class Astromatic:
    """One AstrOmatic tool with its configuration (the seed's class).

    Parameters
    ----------
    code : str
        ``'SExtractor'``, ``'SCAMP'``, ``'SWarp'`` or ``'PSFEx'`` (usual spellings accepted).
    temp_path : str, optional
        Folder for temporary files (params file, resampled images); the tool runs there.
    config : dict, optional
        Command-line configuration (``{'CATALOG_TYPE': 'FITS_LDAC', 'FILTER': False}``).
    config_file : str, optional
        A config file passed with ``-c``.
    store_output : bool
        Also return what the tool printed as text in ``result['output']``.
    **kwargs
        Become attributes: ``params`` (SExtractor output parameters), ``cmd`` (the binary),
        ``build_paths`` (tool name to binary, as a pipeline's), anything else.
    """

    def __init__(
        self,
        code: str,
        temp_path: str | None = None,
        config: dict[str, Any] | None = None,
        config_file: str | None = None,
        store_output: bool = False,
        **kwargs: Any,
    ) -> None:
        try:
            self.code = canonical_code(code)
        except ToolNotFoundError:
            if "cmd" not in kwargs:
                raise AstromaticError(
                    f"'{code}' is not an AstrOmatic code this API knows "
                    f"({', '.join(codes)}); give 'cmd' to run another program"
                ) from None
            self.code = code
        self.temp_path = temp_path
        self.config = copy.deepcopy(dict(config or {}))
        self.config_file = config_file
        self.store_output = store_output
        self.params: list[str] | None = None
        self.cmd: str | None = None
        self.build_paths: dict[str, str] = {}
        for key, value in kwargs.items():
            setattr(self, key, copy.deepcopy(value))

    # -- the command --------------------------------------------------------------------
    def binary(self, build_paths: dict[str, str] | None = None) -> str:
        """The tool's binary: ``cmd``, else ``build_paths`` (default: the attribute), else
        found on PATH."""
        if self.cmd:
            return self.cmd
        try:
            return find_tool(self.code, self.build_paths if build_paths is None
                             else build_paths).path
        except ToolNotFoundError as exc:
            raise AstromaticError(str(exc)) from None

    def get_version(self, cmd: str | None = None) -> tuple[str, str]:
        """The tool's ``(version, date)`` from ``-v``."""
        from aw_tui.astromatic.registry import probe

        path = cmd or self.binary()
        info = probe(self.code, path)
        if info is None:
            raise AstromaticError(f"'{path} -v' did not print a {self.code} version")
        return info.version, info.date

    @staticmethod
    def _params_file(params: Sequence[str], tag: str, temp_path: str | None) -> str:
        if not temp_path:
            raise AstromaticError(
                "SExtractor needs either config PARAMETERS_NAME or a 'params' list and a "
                "temp_path to write the parameters file into"
            )
        digest = hashlib.sha1("\n".join(params).encode()).hexdigest()[:8]
        path = os.path.join(temp_path, f"{tag}.{digest}.param")
        atomic_write_text(path, "".join(f"{p}\n" for p in params), fsync=False)
        return path

    def build_cmd(self, filenames: Any, **kwargs: Any) -> tuple[list[str], dict[str, Any]]:
        """Build the argv list for ``filenames`` (no file is touched but a params file).

        Parameters
        ----------
        filenames : str or list of str
            Input file(s).
        **kwargs
            Override this object's attributes for this call (``config``, ``config_file``,
            ``params``, ``cmd`` ...).

        Returns
        -------
        argv : list of str
            The command line, one argument per item.
        kwargs : dict
            The settings used (attributes merged with the overrides).
        """
        used = {k: copy.deepcopy(v) for k, v in vars(self).items()}
        used.update(copy.deepcopy(kwargs))
        config = dict(used.get("config") or {})
        if self.code == "SExtractor" and "PARAMETERS_NAME" not in config:
            params = used.get("params")
            if not params:
                raise AstromaticError(
                    "To run SExtractor supply a 'params' list of output parameters or a "
                    "config PARAMETERS_NAME pointing to a parameters file"
                )
            config["PARAMETERS_NAME"] = self._params_file(
                list(params), used.get("tag") or "sex", used.get("temp_path")
            )
        used["config"] = config
        cmd = used.get("cmd") or self.binary(used.get("build_paths") or {})
        files = [os.fspath(f) for f in _as_list(filenames)]
        return assemble_argv(cmd, files, used.get("config_file"), config), used

    # -- running ------------------------------------------------------------------------
    def _safe_argv(
        self, filenames: list[str], used: dict[str, Any], safe: SafeNames,
        companions: list[str] | None = None,
    ) -> tuple[list[str], dict[str, Any]]:
        """Rewrite file names the tool would mangle (see :mod:`aw_tui.astromatic.argsafe`).

        Relative names are made absolute first: they are relative to the caller's working
        folder, while the tool runs in the temp folder.
        """
        config = dict(used["config"])
        inputs = INPUT_KEYS.get(self.code, set())
        outputs = OUTPUT_KEYS.get(self.code, set())
        for key in list(config):
            value = config[key]
            if key in DIR_KEYS and isinstance(value, str):
                config[key] = safe.folder_arg(_absolute(value), key)
            elif key in inputs | outputs:
                items = _as_list(value)
                if not all(isinstance(v, str) for v in items):
                    continue
                fix = safe.output if key in outputs else _input_fixer(safe)
                config[key] = (
                    [fix(_absolute(v)) for v in items] if isinstance(value, list)
                    else fix(_absolute(value))
                )
        files = []
        for name in filenames:
            base, frame = split_frame(_absolute(name))
            if companions:
                linked = safe.input_with_companions(base, companions)
            else:
                linked = safe.input(base)
            files.append(linked + frame)
        used = dict(used)
        used["config"] = config
        if used.get("config_file"):
            used["config_file"] = safe.input(_absolute(os.fspath(used["config_file"])))
        return files, used

    def run(
        self,
        filenames: Any,
        store_output: bool | None = None,
        raise_error: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Run the tool on ``filenames`` and return the result dict (see the module doc).

        Parameters
        ----------
        filenames : str or list of str
            Input file(s); ``name[n]`` selects extension ``n``.
        store_output : bool, optional
            Return the printed text in ``result['output']`` (default: the attribute).
        raise_error : bool
            Raise :class:`AstromaticError` when the run fails (the seed's default);
            ``False`` returns a result with ``status='error'``.
        **kwargs
            Overrides for this call, as in :meth:`build_cmd`; also ``companions`` (suffixes
            of files the tool finds beside each input) and ``tag``.

        Raises
        ------
        AstromaticError
            With ``raise_error`` when the run failed; always when the tool is missing or
            a folder name cannot be passed safely.
        """
        store_output = self.store_output if store_output is None else store_output
        companions = kwargs.pop("companions", None)
        argv, used = self.build_cmd(filenames, **kwargs)
        config_file = used.get("config_file")
        files = argv[1 : 1 + len(_as_list(filenames))]
        xml_name = None
        if format_value(used["config"].get("WRITE_XML", "N")).upper().startswith("Y"):
            xml_name = used["config"].get("XML_NAME")
        temp = used.get("temp_path") or self.temp_path
        context = current_step()
        tag = used.get("tag") or (
            f"{context.step_id}" if context and context.step_id is not None else "run"
        )
        safe = SafeNames(
            temp or os.getcwd(),
            f"{tag}.{XML_TAGS.get(self.code, 'x')}.{os.getpid()}.{next(_run_counter)}",
        )
        try:
            files, safe_used = self._safe_argv(files, used, safe, companions)
        except UnsafeNameError as exc:
            raise AstromaticError(str(exc)) from None
        argv = assemble_argv(argv[0], files, safe_used.get("config_file"), safe_used["config"])
        if temp:
            os.makedirs(temp, exist_ok=True)
        try:
            command = run_command(argv, cwd=temp or None)
        except FileNotFoundError:
            raise AstromaticError(
                f"cannot run {argv[0]}: not found. " + TOOLS_HINT.get(self.code, "")
            ) from None
        except PermissionError:
            raise AstromaticError(f"cannot run {argv[0]}: permission denied") from None
        finally:
            safe.finish()
        result = self._result(command, argv, xml_name, config_file, store_output)
        result["safe_links"] = dict(safe.links)
        if result["status"] == "error" and raise_error:
            raise AstromaticError(f"Error in '{self.code}' execution: {result['error_msg']}")
        return result

    def _result(
        self, command: Any, argv: list[str], xml_real: str | None, config_file: str | None,
        store_output: bool,
    ) -> dict[str, Any]:
        from aw_tui.astromatic.xmllog import parse_xml_log

        xml_error = None
        warnings_table = None
        summary: dict[str, Any] = {}
        if xml_real and os.path.exists(xml_real):
            log = parse_xml_log(xml_real, XML_TAGS.get(self.code))
            xml_error = log.error_msg
            warnings_table = log.warnings
            warnings_table.meta["filename"] = xml_real
            summary = dict(log.summary)
        verdict = diagnose(
            self.code, command.returncode, command.text, xml_error, config_file
        )
        if warnings_table is None:
            from astropy.table import Table  # lazy: slow import

            warnings_table = Table(names=("Date", "Time", "Msg"), dtype=(str, str, str))
            warnings_table.meta["filename"] = xml_real or ""
        return {
            "status": verdict.status,
            "error_msg": verdict.error_msg,
            "warnings": warnings_table,
            "summary": summary,
            "argv": argv,
            "returncode": command.returncode,
            "duration": command.duration,
            "output": command.text if store_output else command.output_path,
            "xml": xml_real,
            "code": self.code,
        }

    def run_frames(
        self,
        filenames: Any,
        code: str | None = None,
        frames: Iterable[int | str] = ("1",),
        raise_error: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Run once per FITS extension: ``image.fits[n]`` (and the same for weight and flag
        maps), one XML log per frame; warnings combined with a ``frame`` column.

        Parameters
        ----------
        filenames : str or list of str
            Input file(s) without extension suffix.
        code : str, optional
            Ignored when it names this object's code (kept for the seed's signature).
        frames : iterable of int or str, or a comma-separated string
            The extensions.
        raise_error : bool
            As in :meth:`run`.
        """
        if isinstance(frames, str):
            frames = [f for f in frames.split(",") if f.strip()]
        frames = [str(f).strip() for f in frames]
        config = dict(kwargs.pop("config", None) or self.config)
        results = []
        for frame in frames:
            frame_config = dict(config)
            for key in ("FLAG_IMAGE", "WEIGHT_IMAGE"):
                if self.code in ("SExtractor",) and isinstance(frame_config.get(key), str):
                    frame_config[key] = f"{frame_config[key]}[{frame}]"
            if isinstance(frame_config.get("XML_NAME"), str) and len(frames) > 1:
                frame_config["XML_NAME"] = frame_xml_name(frame_config["XML_NAME"], frame)
            if isinstance(frame_config.get("CATALOG_NAME"), str) and len(frames) > 1:
                frame_config["CATALOG_NAME"] = frame_file_name(
                    frame_config["CATALOG_NAME"], frame
                )
            names = [f"{f}[{frame}]" for f in _as_list(filenames)]
            result = self.run(names, raise_error=False, config=frame_config, **kwargs)
            result["frame"] = frame
            results.append(result)
            if result["status"] == "error":
                break
        combined = combine_frame_results(results)
        if combined["status"] == "error" and raise_error:
            raise AstromaticError(f"Error in '{self.code}' execution: {combined['error_msg']}")
        return combined


TOOLS_HINT = {
    code: f"Install it (Debian: apt-get install {spec.debian}; conda-forge: {spec.conda})."
    for code, spec in TOOLS.items()
}


def split_frame(name: str) -> tuple[str, str]:
    """``('a.fits', '[1]')`` for ``'a.fits[1]'``; ``(name, '')`` without a frame."""
    if name.endswith("]") and "[" in name:
        base, _, frame = name.rpartition("[")
        if frame[:-1].isdigit():
            return base, f"[{frame}"
    return name, ""


def frame_xml_name(xml_name: str, frame: str) -> str:
    """``<step>.<tool>.<frame>.log.xml`` for ``<step>.<tool>.log.xml``."""
    if xml_name.endswith(".log.xml"):
        return f"{xml_name[: -len('.log.xml')]}.{frame}.log.xml"
    root, ext = os.path.splitext(xml_name)
    return f"{root}.{frame}{ext}"


def frame_file_name(path: str, frame: str) -> str:
    """Insert ``.<frame>`` before a file's extension(s)."""
    root, ext = os.path.splitext(path)
    return f"{root}.{frame}{ext}"


def combine_frame_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result for several per-frame runs: first error wins, warnings stacked."""
    from astropy.table import Table, vstack  # lazy: slow import

    if not results:
        return {"status": "success", "warnings": None, "summary": {}, "frames": []}
    tables = []
    for result in results:
        table = result.get("warnings")
        if isinstance(table, Table):
            table = table.copy()
            table["frame"] = [str(result["frame"])] * len(table)
            tables.append(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stacked = vstack(tables, metadata_conflicts="silent") if tables else None
    if stacked is not None:
        stacked.meta["filename"] = ",".join(
            r.get("xml") or "" for r in results if r.get("xml")
        )
    errors = [r for r in results if r["status"] == "error"]
    combined = dict(results[-1])
    combined.update(
        status="error" if errors else "success",
        error_msg=(
            f"frame {errors[0]['frame']}: {errors[0]['error_msg']}" if errors else None
        ),
        warnings=stacked,
        argv=[r["argv"] for r in results] if len(results) > 1 else results[0]["argv"],
        duration=sum(r.get("duration") or 0.0 for r in results),
        returncode=max((r.get("returncode") or 0 for r in results), key=abs),
        frames=[r["frame"] for r in results],
        xml=[r.get("xml") for r in results] if len(results) > 1 else results[0].get("xml"),
    )
    if len(results) > 1:
        combined["summary"] = {"frames": {r["frame"]: r.get("summary", {}) for r in results}}
    return combined


# ------------------------------------------------------------------------------------------
# The pipeline step functions


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
) -> tuple[Astromatic, dict[str, Any], str | None]:
    """An :class:`Astromatic` with the seed's defaults, from copies of the caller's dicts."""
    kwargs = copy.deepcopy(dict(api_kwargs or {}))
    kwargs.update(copy.deepcopy(extra or {}))
    config = kwargs.pop("config", None) or {}
    temp = _temp_dir(pipeline, kwargs)
    kwargs["temp_path"] = temp
    if pipeline is not None and "build_paths" not in kwargs:
        kwargs["build_paths"] = dict(getattr(pipeline, "build_paths", {}) or {})
    log_dir = _log_dir(pipeline)
    xml = None
    if log_dir and "XML_NAME" not in config:
        config.setdefault("WRITE_XML", "Y")
        xml = os.path.join(log_dir, f"{step_id}.{XML_TAGS[canonical_code(code)]}.log.xml")
        config["XML_NAME"] = xml
    elif "XML_NAME" in config:
        config.setdefault("WRITE_XML", "Y")
        xml = config["XML_NAME"]
    kwargs.setdefault("tag", f"{step_id}" if step_id is not None else "run")
    api = Astromatic(code, config=config, **kwargs)
    return api, config, xml


def _files_dict(files: Any) -> dict[str, Any]:
    if isinstance(files, dict):
        return copy.deepcopy(files)
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
            problems.append(f"{path} cannot be read (permission denied)")
    if missing:
        problems.insert(0, f"input file(s) not found: {', '.join(missing)}")
    if problems:
        return f"{code}: {'; '.join(problems)}"
    return None


def _error_result(code: str, message: str, **extra: Any) -> dict[str, Any]:
    result = {"status": "error", "error_msg": message, "warnings": None, "summary": {},
              "code": code}
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
    api, config, _ = _prepare(pipeline, step_id, "SExtractor", api_kwargs, extra)
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
    missing = _check_inputs("SExtractor", [image, *_as_list(config.get("WEIGHT_IMAGE")),
                                           *_as_list(config.get("FLAG_IMAGE")),
                                           *_as_list(config.get("PARAMETERS_NAME")),
                                           *_as_list(config.get("PSF_NAME"))])
    if missing:
        return _error_result("SExtractor", missing, image=image)
    api.config = config
    result = _run(api, [image], frames, config=config)
    catalog = config["CATALOG_NAME"]
    if frames and len(list(frames)) > 1:
        result["catalogs"] = [frame_file_name(catalog, str(f)) for f in result.get("frames", [])]
    else:
        result["catalogs"] = [catalog]
    result["catalog"] = result["catalogs"][0]
    result["image"] = image
    return result


def config_file_value(config_file: str | None, key: str) -> str | None:
    """``key``'s value in an AstrOmatic config file (comments stripped), or None."""
    if not config_file:
        return None
    try:
        with open(config_file, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split("#", 1)[0].split(None, 1)
        if words and words[0] == key:
            return words[1].strip() if len(words) > 1 else ""
    return None


def _setting(api: Astromatic, config: dict[str, Any], key: str, default: str) -> str:
    """The value the tool will use: the command line, else the config file, else the
    tool's default."""
    if key in config:
        return format_value(config[key])
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
        Also write the merged catalog here (MERGEDOUTCAT_NAME, FITS_LDAC).

    Returns
    -------
    dict
        The result, with ``heads``: catalog name -> the ``.head`` file SCAMP wrote.
    """
    catalogs = [os.fspath(c) for c in _as_list(catalogs)]
    api, config, _ = _prepare(pipeline, step_id, "SCAMP", api_kwargs)
    config.setdefault("CHECKPLOT_DEV", "NULL")
    config.setdefault("CHECKPLOT_TYPE", "NONE")
    if save_catalog:
        config["MERGEDOUTCAT_TYPE"] = "FITS_LDAC"
        config["MERGEDOUTCAT_NAME"] = save_catalog
    if not catalogs:
        return _error_result("SCAMP", "no catalogs given")
    missing = _check_inputs("SCAMP", catalogs)
    if missing:
        return _error_result("SCAMP", missing)
    suffix = _setting(api, config, "HEADER_SUFFIX", ".head")
    before = {c: _mtime(head_name(c, suffix)) for c in catalogs}
    api.config = config
    result = _run(api, catalogs, None, config=config, companions=None)
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
    if result["status"] == "success" and len(heads) < len(catalogs):
        lost = [c for c in catalogs if c not in heads]
        result["status"] = "error"
        result["error_msg"] = f"SCAMP wrote no header for {', '.join(lost)}"
    return result


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
    images = [os.fspath(f) for f in _as_list(filenames)]
    api, config, _ = _prepare(pipeline, step_id, "SWarp", api_kwargs)
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
    suffix = _setting(api, config, "WEIGHT_SUFFIX", ".weight.fits")
    head_suffix = _setting(api, config, "HEADER_SUFFIX", ".head")
    if frames:
        images = [f"{img}[{frames[0]}]" for img in images] if len(list(frames)) == 1 else images
    staged, heads, error = _stage_swarp_inputs(pipeline, step_id, images, temp, suffix,
                                               head_suffix)
    if error:
        return _error_result("SWarp", error, image=config["IMAGEOUT_NAME"])
    api.config = config
    result = _run(api, staged, None, config=config, companions=[suffix, head_suffix])
    result["image"] = config["IMAGEOUT_NAME"]
    result["weight"] = config["WEIGHTOUT_NAME"]
    result["heads_used"] = heads
    if result["status"] == "success" and not os.path.exists(result["image"]):
        result["status"] = "error"
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
    catalogs = [os.fspath(c) for c in _as_list(catalogs)]
    api, config, _ = _prepare(pipeline, step_id, "PSFEx", api_kwargs)
    if api.temp_path:
        config.setdefault("PSF_DIR", api.temp_path)
    config.setdefault("CHECKPLOT_TYPE", "NONE")
    config.setdefault("CHECKIMAGE_TYPE", "NONE")
    if not catalogs:
        return _error_result("PSFEx", "no catalogs given")
    missing = _check_inputs("PSFEx", catalogs)
    if missing:
        return _error_result("PSFEx", missing)
    api.config = config
    result = _run(api, catalogs, None, config=config)
    suffix = _setting(api, config, "PSF_SUFFIX", ".psf")
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
    result["psf"] = next(iter(psfs.values()), None)
    result["catalogs"] = catalogs
    if result["status"] == "success" and len(psfs) < len(catalogs):
        lost = [c for c in catalogs if c not in psfs]
        result["status"] = "error"
        result["error_msg"] = f"PSFEx wrote no PSF for {', '.join(lost)}"
    return result
