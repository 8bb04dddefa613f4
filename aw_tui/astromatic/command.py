"""The seed's ``Astromatic`` class: a tool's command line, built once, and running it.

``Astromatic(code, temp_path, config, config_file, store_output, **kwargs)`` turns a config
dict into a :class:`ToolCall` (binary, input files, ``-c`` file, ``-KEY value`` config, the
XML log it will write), rewrites the names the tool would mangle (see
:mod:`aw_tui.astromatic.argsafe`), builds the argv from it once (``True``/``False`` as
``Y``/``N``; lists joined by commas), runs it with :func:`aw_tui.base.process.run_command`
(no shell, own process group, raw output streamed to the step's ``steps/<id>.out``) and
returns a result dict:

``status`` (``success``/``error``), ``error_msg``, ``warnings`` (astropy Table from the XML
log, ``meta['filename']`` = the XML file), ``summary`` (a few numbers per tool), ``argv``,
``returncode``, ``duration``, ``output`` (the output file, or the text with
``store_output=True``), ``xml`` and ``code``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aw_tui.astromatic.argsafe import SafeNames, UnsafeNameError
from aw_tui.astromatic.configfile import resolve_companions
from aw_tui.astromatic.diagnose import diagnose
from aw_tui.astromatic.frames import (
    combine_frame_results,
    frame_file_name,
    frame_xml_name,
    link_original_xml_name,
    split_frame,
)
from aw_tui.astromatic.registry import (
    DIR_KEYS,
    TOOLS,
    ToolNotFoundError,
    canonical_code,
    find_tool,
    probe,
)
from aw_tui.astromatic.verdicts import judge, verdict_of
from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.errors import AwTuiError
from aw_tui.base.process import CommandResult, run_command
from aw_tui.base.stepcontext import current_step

__all__ = [
    "ApiError",
    "Astromatic",
    "AstromaticError",
    "ToolCall",
    "ToolCodes",
    "assemble_argv",
    "codes",
    "config_file_value",
    "format_value",
]

class ToolCodes(Mapping[str, str]):
    """Tool code -> the name of its binary, as the original's ``api.codes``
    (``codes['SExtractor']`` is ``'source-extractor'`` where Debian's package is installed,
    ``'sex'`` where that is the binary found).

    The binary is looked up when a code is first read (``-v`` checks it is the tool), not at
    import; a tool not installed gives its usual name (:attr:`ToolSpec.binary`).
    """

    def __getitem__(self, code: str) -> str:
        spec = TOOLS[code]
        try:
            return os.path.basename(find_tool(code).path)
        except ToolNotFoundError:
            return spec.binary

    def __iter__(self) -> Iterator[str]:
        return iter(TOOLS)

    def __len__(self) -> int:
        return len(TOOLS)

    def __repr__(self) -> str:
        return repr(dict(self))


#: The tools this API knows -> their binary names here (see :class:`ToolCodes`).
codes = ToolCodes()


class AstromaticError(AwTuiError):
    """A tool could not be run as asked (bad arguments, missing tool, failed run)."""


ApiError = AstromaticError

_run_counter = itertools.count()

#: Tool warnings and failures are reported here (and in the result dict).
logger = logging.getLogger("aw_tui.astromatic")

#: Values of file keywords that are not file names.
_NOT_FILES = {"", "STDOUT", "NONE", "NULL"}


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


def as_list(value: Any) -> list[Any]:
    """``value`` as a list (None -> [], a scalar -> [value])."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def config_file_value(config_file: str | None, key: str) -> str | None:
    """``key``'s value in an AstrOmatic config file (comments stripped; its last setting,
    as the tools read it), or None."""
    if not config_file:
        return None
    try:
        with open(config_file, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:  # the tools read the file in order: the last setting wins
        words = line.split("#", 1)[0].split(None, 1)
        if words and words[0] == key:
            found = words[1].strip() if len(words) > 1 else ""
    return found


def _absolute(name: str) -> str:
    """``name`` made absolute against the current folder (``[n]`` and ``@`` kept)."""
    if name.strip().upper() in _NOT_FILES:
        return name
    at = "@" if name.startswith("@") else ""
    base, frame = split_frame(name[len(at):])
    if os.path.isabs(base):
        return name
    return at + os.path.abspath(base) + frame


def _input_fixer(safe: SafeNames) -> Callable[[str], str]:
    """``safe.input`` for a name that may select an extension (``weight.fits[2]``): the
    file is linked, the ``[n]`` kept for the tool."""

    def fix(name: str) -> str:
        base, frame = split_frame(name)
        return safe.input(base) + frame

    return fix


@dataclass
class ToolCall:
    """One run of a tool, before its argv is built: everything the command line holds.

    Attributes
    ----------
    code : str
        Canonical tool code.
    binary : str
        The program to run.
    files : list of str
        Input files (``name[n]`` selects extension ``n``).
    config : dict
        ``-KEY value`` settings (this call's own copy).
    config_file : str or None
        The ``-c`` file.
    temp_path : str or None
        Folder the tool runs in (params file, resampled images, safe links).
    tag : str
        Names this run's files in temp.
    companions : list of str or None
        Suffixes of files the tool finds beside each input (SWarp's weights and heads).
    notes : list of str
        Warnings found while building the call (they join the result's ``warnings``).
    resolved : dict
        Companion files of the config file resolved against its folder (keyword -> name);
        they are also in ``config``, so they reach the tool on the command line.
    """

    code: str
    binary: str
    files: list[str]
    config: dict[str, Any]
    config_file: str | None = None
    temp_path: str | None = None
    tag: str = "run"
    companions: list[str] | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    resolved: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        """The command line, one argument per item."""
        return assemble_argv(self.binary, self.files, self.config_file, self.config)

    def setting(self, key: str) -> str | None:
        """The value the tool will use for ``key``: the command line, else the config file."""
        if key in self.config:
            return format_value(self.config[key])
        return config_file_value(self.config_file, key)

    @property
    def xml(self) -> str | None:
        """The XML log the tool writes (``WRITE_XML Y`` and ``XML_NAME``, on the command
        line or in the config file, else the tool's default name), or None."""
        write = self.setting("WRITE_XML")
        if write is None or not write.strip().upper().startswith("Y"):
            return None
        name = self.setting("XML_NAME")
        if not name:
            spec = TOOLS.get(self.code)
            name = spec.xml_default if spec is not None else ""
        if not name:
            return None
        if "XML_NAME" not in self.config and not os.path.isabs(name):
            # A relative name from the config file is relative to the folder the tool runs in.
            name = os.path.join(self.temp_path or os.getcwd(), name)
        return name

    def empty_inputs(self) -> list[str]:
        """The input files (and files named by input keys) that exist but are empty."""
        spec = TOOLS.get(self.code)
        names = list(self.files)
        for key in spec.input_keys if spec else ():
            names += [v for v in as_list(self.config.get(key)) if isinstance(v, str)]
        empty = []
        for name in names:
            base = split_frame(name)[0]
            try:
                if os.path.isfile(base) and os.path.getsize(base) == 0:
                    empty.append(name)
            except OSError:
                continue
        return empty

    def files_used(self) -> dict[str, list[str]]:
        """The files this call reads and writes, by name (links followed to what they name):
        the inputs and the files beside them the tool finds (``companions``), the ``-c``
        file and the files of its input keys and of the config file's companions; the files
        of its output keys. For the step's provenance (:mod:`aw_tui.rundir.provenance`)."""
        spec = TOOLS.get(self.code)

        def real(name: str) -> str:
            path = os.path.abspath(split_frame(name)[0])
            return os.path.realpath(path) if os.path.islink(path) else path

        read = [real(f) for f in self.files]
        for name in list(read):
            stem = name[:-5] if name.endswith(".fits") else os.path.splitext(name)[0]
            read += [real(stem + suffix) for suffix in self.companions or ()
                     if os.path.exists(stem + suffix)]
        if self.config_file:
            read.append(real(os.fspath(self.config_file)))
        written: list[str] = []
        for key, value in self.config.items():
            if spec is None or key not in spec.input_keys | spec.output_keys:
                continue
            names = [real(v) for v in as_list(value) if isinstance(v, str) and v]
            (written if key in spec.output_keys else read).extend(names)
        read += [real(v) for v in self.resolved.values() if isinstance(v, str) and v]
        return {"read": sorted(set(read) - set(written)), "written": sorted(set(written))}

    def made_safe(self, safe: SafeNames) -> ToolCall:
        """This call with every name the tool would mangle replaced by a safe link or a
        temporary output (moved into place by ``safe.finish()``).

        Relative names are made absolute first: they are relative to the caller's working
        folder, while the tool runs in the temp folder.
        """
        spec = TOOLS.get(self.code)
        inputs = spec.input_keys if spec else frozenset()
        outputs = spec.output_keys if spec else frozenset()
        config = dict(self.config)
        for key, value in self.config.items():
            if key in DIR_KEYS and isinstance(value, str):
                config[key] = safe.folder_arg(_absolute(value), key)
            elif key in inputs | outputs:
                items = as_list(value)
                if not all(isinstance(v, str) for v in items):
                    continue
                fix = safe.output if key in outputs else _input_fixer(safe)
                config[key] = (
                    [fix(_absolute(v)) for v in items] if isinstance(value, list)
                    else fix(_absolute(value))
                )
        files = []
        for name in self.files:
            base, frame = split_frame(_absolute(name))
            if self.companions:
                linked = safe.input_with_companions(base, self.companions)
            else:
                linked = safe.input(base)
            files.append(linked + frame)
        config_file = self.config_file
        if config_file:
            config_file = safe.input(_absolute(os.fspath(config_file)))
        return dataclasses.replace(self, files=files, config=config, config_file=config_file)


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

    Notes
    -----
    The object keeps deep copies of ``config`` and ``kwargs``: the caller's dicts are never
    modified.
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
        path = cmd or self.binary()
        info = probe(self.code, path)
        if info is None:
            raise AstromaticError(f"'{path} -v' did not print a {self.code} version")
        return info.version, info.date

    @staticmethod
    def params_file(params: Sequence[str], tag: str, temp_path: str | None) -> str:
        """Write SExtractor's output parameters to ``<temp>/<tag>.<digest>.param``."""
        if not temp_path:
            raise AstromaticError(
                "SExtractor needs either config PARAMETERS_NAME or a 'params' list and a "
                "temp_path to write the parameters file into"
            )
        os.makedirs(temp_path, exist_ok=True)
        digest = hashlib.sha1("\n".join(params).encode()).hexdigest()[:8]
        path = os.path.join(temp_path, f"{tag}.{digest}.param")
        atomic_write_text(path, "".join(f"{p}\n" for p in params), fsync=False)
        return path

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """This object's attributes merged with a call's overrides (copied once)."""
        used = dict(vars(self))
        used.update(copy.deepcopy(overrides))
        used["config"] = dict(used.get("config") or {})
        return used

    def build_call(self, filenames: Any, **kwargs: Any) -> ToolCall:
        """The :class:`ToolCall` for ``filenames`` (no file is touched but a params file).

        Parameters
        ----------
        filenames : str or list of str
            Input file(s).
        **kwargs
            Override this object's attributes for this call (``config``, ``config_file``,
            ``params``, ``cmd``, ``tag``, ``companions`` ...).
        """
        used = self.settings(**kwargs)
        config = used["config"]
        notes: list[str] = []
        if self.code == "SExtractor":
            self._sextractor_params(config, used, notes)
        resolved = resolve_companions(self.code, used.get("config_file"), config)
        config.update(resolved)
        context = current_step()
        tag = used.get("tag") or (
            f"{context.step_id}" if context and context.step_id is not None else "run"
        )
        return ToolCall(
            code=self.code,
            binary=used.get("cmd") or self.binary(used.get("build_paths") or {}),
            files=[os.fspath(f) for f in as_list(filenames)],
            config=config,
            config_file=used.get("config_file"),
            temp_path=used.get("temp_path") or self.temp_path,
            tag=str(tag),
            companions=used.get("companions"),
            notes=notes,
            resolved=resolved,
        )

    def _sextractor_params(
        self, config: dict[str, Any], used: dict[str, Any], notes: list[str]
    ) -> None:
        """Write the ``params`` list to a file and name it with PARAMETERS_NAME.

        The params win over a PARAMETERS_NAME in the ``config`` dict, with a warning (as the
        original astromatic_wrapper did). A PARAMETERS_NAME in the config *file* is replaced
        silently: a config file shared by several steps names a default the steps override
        (the demo's ``default.sex`` does).
        """
        params = used.get("params")
        if not params:
            if "PARAMETERS_NAME" not in config and not config_file_value(
                used.get("config_file"), "PARAMETERS_NAME"
            ):
                raise AstromaticError(
                    "To run SExtractor supply a 'params' list of output parameters or a "
                    "config PARAMETERS_NAME pointing to a parameters file"
                )
            return
        given = config.get("PARAMETERS_NAME")
        config["PARAMETERS_NAME"] = self.params_file(
            list(params), used.get("tag") or "sex", used.get("temp_path")
        )
        if given:
            note = (f"SExtractor: the 'params' list replaces config PARAMETERS_NAME {given} "
                    "(give only one of them to silence this warning)")
            notes.append(note)

    def build_cmd(self, filenames: Any, **kwargs: Any) -> tuple[list[str], dict[str, Any]]:
        """Build the argv list for ``filenames`` (no file is touched but a params file).

        Returns
        -------
        argv : list of str
            The command line, one argument per item.
        kwargs : dict
            The settings used (attributes merged with the overrides).
        """
        call = self.build_call(filenames, **kwargs)
        used = self.settings(**kwargs)
        used["config"] = call.config
        return call.argv, used

    # -- running ------------------------------------------------------------------------
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
            Overrides for this call, as in :meth:`build_call`.

        Raises
        ------
        AstromaticError
            With ``raise_error`` when the run failed; always when the tool is missing or
            a folder name cannot be passed safely.
        """
        store_output = self.store_output if store_output is None else store_output
        return self.run_call(self.build_call(filenames, **kwargs), store_output, raise_error)

    def run_call(
        self, call: ToolCall, store_output: bool = False, raise_error: bool = True
    ) -> dict[str, Any]:
        """Run a :class:`ToolCall` (see :meth:`run`)."""
        xml_name = call.xml
        temp = call.temp_path
        safe = SafeNames(
            temp or os.getcwd(),
            f"{call.tag}.{TOOLS[self.code].xml_tag if self.code in TOOLS else 'x'}."
            f"{os.getpid()}.{next(_run_counter)}",
        )
        try:
            argv = call.made_safe(safe).argv
        except UnsafeNameError as exc:
            raise AstromaticError(str(exc)) from None
        if temp:
            os.makedirs(temp, exist_ok=True)
        try:
            command = run_command(argv, cwd=temp or None)
        except FileNotFoundError:
            hint = TOOLS[self.code].install_hint() if self.code in TOOLS else ""
            raise AstromaticError(f"cannot run {argv[0]}: not found; {hint}") from None
        except PermissionError:
            raise AstromaticError(f"cannot run {argv[0]}: permission denied") from None
        finally:
            safe.finish()
        result = self._result(command, call, argv, xml_name, store_output)
        result["safe_links"] = dict(safe.links)
        if result["status"] == "error" and raise_error:
            raise AstromaticError(f"Error in '{self.code}' execution: {result['error_msg']}")
        return result

    def _result(
        self, command: CommandResult, call: ToolCall, argv: list[str], xml_real: str | None,
        store_output: bool,
    ) -> dict[str, Any]:
        from aw_tui.astromatic.xmllog import empty_warnings, parse_xml_log  # lazy: numpy

        log = None
        summary: dict[str, Any] = {}
        if xml_real and os.path.exists(xml_real):
            log = parse_xml_log(xml_real, self.code if self.code in TOOLS else None)
            summary = dict(log.summary)
        diagnosis = diagnose(self.code, command.returncode, command.text,
                             log.error_msg if log else None, call.config_file)
        found = judge(self.code, summary, command.text, log, call.notes + diagnosis.warnings,
                      call.config_file)
        status, error_msg = diagnosis.status, diagnosis.error_msg
        if status == "success" and found.errors:
            status, error_msg = "error", "; ".join(found.errors)
        empty = call.empty_inputs()
        if status == "error" and empty:
            error_msg = (f"{self.code} was given empty input file(s) {', '.join(empty)}: the step "
                         f"that wrote them failed or was interrupted; run it again. {error_msg}")
        table = log.warnings if log is not None else empty_warnings()
        table.meta["filename"] = xml_real or ""
        result = {
            "status": status,
            "error_msg": error_msg,
            "verdict": verdict_of(status, found.warnings),
            "warnings": list(found.warnings),
            "warnings_table": table,
            "summary": summary,
            "argv": argv,
            "returncode": command.returncode,
            "duration": command.duration,
            "output": command.text if store_output else command.output_path,
            "xml": xml_real,
            "code": self.code,
            "resolved_files": dict(call.resolved),
            "tool": self._tool_facts(argv[0]),
            "files": call.files_used(),
        }
        for text in found.warnings:
            logger.warning("%s", text)
        if status == "error":
            logger.error("%s failed: %s", self.code, error_msg)
        return result

    def _tool_facts(self, binary: str) -> dict[str, Any]:
        """The tool that ran (its code, binary and version), for the step's provenance."""
        info = probe(self.code, binary) if self.code in TOOLS else None
        return {"name": self.code, "binary": binary,
                "version": info.version if info is not None else None}

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
            names = [f"{f}[{frame}]" for f in as_list(filenames)]
            result = self.run(names, raise_error=False, config=frame_config, **kwargs)
            result["frame"] = frame
            if isinstance(config.get("XML_NAME"), str):
                result["xml_original_name"] = link_original_xml_name(
                    result.get("xml"), config["XML_NAME"], frame)
            results.append(result)
            if result["status"] == "error":
                break
        combined = combine_frame_results(results)
        combined.pop("xml_original_name", None)
        combined["xml_original_names"] = [r["xml_original_name"] for r in results
                                          if r.get("xml_original_name")]
        if combined["status"] == "error" and raise_error:
            raise AstromaticError(f"Error in '{self.code}' execution: {combined['error_msg']}")
        return combined
