"""Parse the XML (VOTable) logs the AstrOmatic tools write with ``WRITE_XML Y``.

:func:`parse_xml_log` turns the XML of SExtractor, SCAMP, SWarp or PSFEx into an
:class:`XmlLog`: the error message of a failed run, the warnings table, every table by name and
a small JSON-serialisable summary (detections, astrometric dispersion, PSF FWHM...).

A complete file is read with :mod:`xml.etree.ElementTree` (~2-5 ms a file, against 10-30 ms
with astropy.io.votable): PARAMs become plain values and each TABLEDATA an astropy Table typed
by the FIELDs' datatypes, as astropy.io.votable would type it. Anything that reader refuses (a
truncated or garbled file, BINARY data, an unknown datatype...) goes to astropy.io.votable,
which works around the tools' quirks (measured with SExtractor 2.25, SCAMP 2.10, SWarp 2.41,
PSFEx 3.21 and astropy 8):

* SExtractor's ``Source_List`` table points to the catalog with
  ``<DATA><FITS><STREAM href="file:cat.fits"/></FITS></DATA>``, which astropy would open
  relative to the current directory: the block is removed before parsing (the ElementTree
  reader never opens it and leaves the table empty).
* SWarp declares ``Weight_Type`` as ``boolean`` but writes ``MAP_WEIGHT`` in it, and omits the
  ``version`` attribute: the datatype is fixed and a version added. Both readers read a
  ``boolean`` with ``arraysize="*"`` as text; the ElementTree reader also keeps as text any
  column or PARAM whose values do not fit the declared datatype.
* A run killed mid-way leaves a truncated file: it is cut after the last complete table and
  closed, and if that still fails the error message and warnings are read with regular
  expressions. Parsing never raises; problems are reported in :attr:`XmlLog.parse_error`.
"""

from __future__ import annotations

import html
import io
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aw_tui.astromatic.registry import TOOLS, lookup
from aw_tui.astromatic.xmlfast import read_votable
from aw_tui.astromatic.xmlsummaries import SUMMARIES
from aw_tui.astromatic.xmlvalues import plain

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "TOOL_NAMES", "XmlLog", "empty_warnings", "normalize_tool", "parse_xml_bytes", "parse_xml_log",
]

#: Accepted spellings of each tool name (lower case) and the canonical name (from the
#: tool registry).
TOOL_NAMES: dict[str, str] = {
    word: spec.name for spec in TOOLS.values() for word in spec.spellings()
}


def normalize_tool(tool: str | None) -> str | None:
    """Return the canonical tool name (``sextractor``, ``scamp``, ``swarp``, ``psfex``).

    Parameters
    ----------
    tool : str or None
        Any spelling the tool registry knows (``'SExtractor'``, ``'sex'``...), a path to a
        binary (``/usr/bin/SWarp``) or ``None``.

    Returns
    -------
    str or None
        The canonical name, or ``None`` when ``tool`` is ``None`` or unknown.
    """
    spec = lookup(tool, paths=True)
    return spec.name if spec is not None else None


def empty_warnings() -> Table:
    """The warnings table of a run without warnings."""
    from astropy.table import Table  # lazy: slow import

    return Table(names=("Date", "Time", "Msg"), dtype=(str, str, str))


@dataclass
class XmlLog:
    """What a tool's XML log says about a run.

    Attributes
    ----------
    path : str
        The XML file.
    tool : str or None
        Canonical tool name (``sextractor``, ``scamp``, ``swarp`` or ``psfex``).
    error_msg : str or None
        The ``Error_Msg`` PARAM of the ``MetaData`` resource: set only when the run failed.
    warnings : astropy.table.Table
        Columns ``Date``, ``Time``, ``Msg`` (empty when the tool raised none).
    tables : dict of str to astropy.table.Table
        Every table of the file by name (``Extension_Data``, ``Fields``, ``FGroups``,
        ``Input_Image_Data``, ``PSF_Fields``...). Columns are named after the FIELDs and typed
        by their datatype (``char`` as str objects, ``int`` int32, ``short`` int16, ``float``
        float32, ``double`` float64, ``boolean`` bool); a fixed ``arraysize`` (``"2"``, and
        also ``"1"``) gives a 2-D column. Empty or NaN cells are masked: those columns are
        MaskedColumns, the others plain Columns.
    summary : dict
        A few plain (JSON-serialisable) figures per tool, see :func:`parse_xml_log`.
    meta : dict
        The ``MetaData`` PARAMs (``Software``, ``Version``, ``Date``, ``Duration``...) as plain
        values.
    config : dict
        The ``Config`` PARAMs (the configuration the tool actually used) as plain values.
    parse_error : str or None
        Why (part of) the file could not be read; ``None`` when it parsed cleanly.
    """

    path: str
    tool: str | None
    error_msg: str | None = None
    warnings: Table = field(default_factory=empty_warnings)
    tables: dict[str, Table] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    parse_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file parsed and reports no error."""
        return self.error_msg is None and self.parse_error is None

    @property
    def warning_messages(self) -> list[str]:
        """The warning messages as plain strings."""
        return [str(m) for m in self.warnings["Msg"]] if len(self.warnings) else []


# --------------------------------------------------------------------------------------------
# Plain-value conversion


# --------------------------------------------------------------------------------------------
# Text fixes

_FITS_DATA = re.compile(r"<DATA>\s*<FITS\b.*?</FITS>\s*</DATA>", re.S | re.I)
_FITS_ONLY = re.compile(r"<FITS\b.*?</FITS>", re.S | re.I)
_BOOL_ARRAY = re.compile(r'datatype="boolean"(\s+arraysize="\*")')
_VOTABLE_TAG = re.compile(r"<VOTABLE\b([^>]*)>", re.S)
# Numeric arrays written with leading blanks ("    150.09     2.19") would gain an empty
# first element.
_LEADING_BLANKS_ATTR = re.compile(r'value="\s+(?=[-+.0-9])')
_LEADING_BLANKS_TD = re.compile(r"<TD>\s+(?=[-+.0-9])")


def _fix_text(text: str) -> str:
    """Apply the quirk fixes described in the module docstring."""
    text = _FITS_DATA.sub("", text)
    text = _FITS_ONLY.sub("", text)
    # Variable-length boolean arrays hold strings (SWarp's Weight_Type = MAP_WEIGHT).
    text = _BOOL_ARRAY.sub(r'datatype="char"\1', text)
    text = _LEADING_BLANKS_ATTR.sub('value="', text)
    text = _LEADING_BLANKS_TD.sub("<TD>", text)

    def add_version(match: re.Match[str]) -> str:
        attrs = match.group(1)
        if "version=" in attrs:
            return match.group(0)
        return f'<VOTABLE version="1.1"{attrs}>'

    return _VOTABLE_TAG.sub(add_version, text, count=1)


def _repair_truncated(text: str) -> str | None:
    """Cut a truncated XML after its last complete table and close the open elements."""
    end = text.rfind("</TABLE>")
    if end < 0:
        return None
    head = text[: end + len("</TABLE>")]
    opened = len(re.findall(r"<RESOURCE\b", head)) - len(re.findall(r"</RESOURCE>", head))
    return head + "\n" + "</RESOURCE>\n" * max(opened, 0) + "</VOTABLE>\n"


# --------------------------------------------------------------------------------------------
# What both parsers share


def _finish(log: XmlLog) -> None:
    """Error message, tool and warnings from the PARAMs and tables already read."""
    msg = log.meta.get("Error_Msg")
    log.error_msg = str(msg) if msg not in (None, "") else None
    if log.tool is None:
        log.tool = normalize_tool(str(log.meta.get("Software", "")))
    warn = log.tables.get("Warnings")
    if warn is not None and {"Date", "Time", "Msg"} <= set(warn.colnames):
        from astropy.table import Table  # lazy: slow import

        log.warnings = Table(
            {
                "Date": [str(plain(v) or "") for v in warn["Date"]],
                "Time": [str(plain(v) or "") for v in warn["Time"]],
                "Msg": [str(plain(v) or "") for v in warn["Msg"]],
            },
            dtype=(str, str, str),
        )


def _parse_fast(data: bytes, log: XmlLog) -> XmlLog:
    """The XmlLog of a complete, well-formed file; raises otherwise (``log`` is not touched).

    The fast path: :func:`aw_tui.astromatic.xmlfast.read_votable` (~5x faster than astropy).
    """
    root = ET.fromstring(data)
    fast = XmlLog(path=log.path, tool=log.tool, parse_error=log.parse_error, warnings=log.warnings)
    read_votable(root, fast.meta, fast.config, fast.tables)
    _finish(fast)
    return fast



# --------------------------------------------------------------------------------------------
# Fallback: astropy.io.votable, with the text fixes, for what the fast path refuses (a
# truncated or garbled file from a killed run, or a construct it does not handle).


def _iter_resources(resources: list[Any]):
    for res in resources:
        yield res
        yield from _iter_resources(list(res.resources))


def _params_dict(params: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        try:
            out[str(p.name)] = plain(p.value)
        except Exception:  # a PARAM astropy could not convert: keep nothing rather than fail
            continue
    return out


def _to_table(tab: Any, name: str, log: XmlLog) -> Table | None:
    """Convert a VOTable table; an empty one (failed runs) keeps its column names."""
    from astropy.table import Table  # lazy: slow import

    try:
        return tab.to_table(use_names_over_ids=True)
    except Exception as exc:
        if tab.array is None or len(tab.array) == 0:
            # astropy fails on empty tables with fixed-size array fields (SCAMP's Fields).
            return Table(names=[str(f.name) for f in tab.fields], dtype=[object] * len(tab.fields))
        log.parse_error = log.parse_error or f"table {name}: {exc}"
        return None


def _from_votable(votable: Any, log: XmlLog) -> None:
    """Fill ``log`` from a VOTable parsed by astropy."""
    resources = list(_iter_resources(list(votable.resources)))
    for res in resources:
        rid = str(res.ID or res.name or "")
        if rid == "MetaData":
            log.meta.update(_params_dict(list(res.params)))
        elif rid == "Config":
            log.config.update(_params_dict(list(res.params)))
        for tab in res.tables:
            name = str(tab.ID or tab.name or f"table{len(log.tables) + 1}")
            table = _to_table(tab, name, log)
            if table is None:
                continue
            for p in tab.params:
                try:
                    table.meta[str(p.name)] = plain(p.value)
                except Exception:
                    continue
            log.tables[name] = table
    _finish(log)


_ERROR_RE = re.compile(r'<PARAM\s+name="Error_Msg"[^>]*?value="([^"]*)"', re.S)
_SOFTWARE_RE = re.compile(r'<PARAM\s+name="Software"[^>]*?value="([^"]*)"', re.S)
_WARN_BLOCK_RE = re.compile(r'<TABLE\s+ID="Warnings".*?(?:</TABLE>|$)', re.S)
_WARN_ROW_RE = re.compile(r"<TR>\s*<TD>(.*?)</TD>\s*<TD>(.*?)</TD>\s*<TD>(.*?)</TD>\s*</TR>", re.S)


def _from_regex(text: str, log: XmlLog) -> None:
    """Last resort for garbled files: error message, software and warnings by pattern."""
    m = _ERROR_RE.search(text)
    if m:
        log.error_msg = html.unescape(m.group(1))
    if log.tool is None:
        m = _SOFTWARE_RE.search(text)
        if m:
            log.meta["Software"] = html.unescape(m.group(1))
            log.tool = normalize_tool(html.unescape(m.group(1)))
    block = _WARN_BLOCK_RE.search(text)
    if block:
        rows = [tuple(html.unescape(c) for c in r) for r in _WARN_ROW_RE.findall(block.group(0))]
        if rows:
            from astropy.table import Table  # lazy: slow import

            log.warnings = Table(rows=rows, names=("Date", "Time", "Msg"), dtype=(str, str, str))


def _parse_astropy(text: str, log: XmlLog) -> None:
    """Fill ``log`` with astropy.io.votable, repairing a truncated file and reading what is
    left by pattern; sets ``parse_error`` when (part of) the file could not be read."""
    from astropy.io.votable import parse  # lazy: slow import
    from astropy.io.votable.exceptions import VOTableSpecWarning, VOWarning  # lazy: slow import
    from astropy.utils.exceptions import AstropyWarning  # lazy: slow import

    fixed = _fix_text(text)
    votable = None
    errors: list[str] = []
    for candidate in (fixed, _repair_truncated(fixed)):
        if candidate is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", VOWarning)
                warnings.simplefilter("ignore", VOTableSpecWarning)
                warnings.simplefilter("ignore", AstropyWarning)
                votable = parse(io.BytesIO(candidate.encode("utf-8")), verify="ignore")
            break
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    if errors:
        prefix = (
            "truncated or invalid XML (partially read)" if votable is not None else ("invalid XML")
        )
        log.parse_error = f"{prefix}: {errors[0]}"
    if votable is not None:
        try:
            _from_votable(votable, log)
        except Exception as exc:
            log.parse_error = log.parse_error or f"{type(exc).__name__}: {exc}"
    # What the parsed part does not hold (a cut file) may still be found by pattern.
    if log.error_msg is None or not len(log.warnings) or log.tool is None:
        probe = XmlLog(path=log.path, tool=log.tool)
        _from_regex(text, probe)
        if log.error_msg is None and probe.error_msg:
            log.error_msg = probe.error_msg
        if not len(log.warnings) and len(probe.warnings):
            log.warnings = probe.warnings
        if log.tool is None and probe.tool:
            log.tool = probe.tool
            log.meta.setdefault("Software", probe.meta.get("Software"))


# --------------------------------------------------------------------------------------------
# Per-tool summaries


# --------------------------------------------------------------------------------------------
# Public entry points


def parse_xml_bytes(data: bytes, tool: str | None = None, path: str = "<bytes>") -> XmlLog:
    """Parse an XML log held in memory.

    Parameters
    ----------
    data : bytes
        The file's content.
    tool : str, optional
        Tool name (any spelling of :data:`TOOL_NAMES`); guessed from the ``Software`` PARAM
        when omitted.
    path : str, optional
        Name recorded in :attr:`XmlLog.path`.

    Returns
    -------
    XmlLog
        Never raises for bad content: see :attr:`XmlLog.parse_error`.
    """
    log = XmlLog(path=str(path), tool=normalize_tool(tool))
    if tool is not None and log.tool is None:
        log.parse_error = f"unknown tool {tool!r}"
    if not data.strip():
        log.parse_error = "empty XML file"
        return log
    try:
        log = _parse_fast(data, log)
    except Exception:
        # Truncated, garbled or unusual: astropy with the text fixes, then patterns.
        _parse_astropy(data.decode("utf-8", errors="replace"), log)
    summarize = SUMMARIES.get(log.tool or "")
    if summarize is not None:
        try:
            log.summary = summarize(log)
        except Exception as exc:
            log.parse_error = log.parse_error or f"summary: {type(exc).__name__}: {exc}"
    return log


def parse_xml_log(path: str | Path, tool: str | None = None) -> XmlLog:
    """Parse the XML log (``XML_NAME``) of a SExtractor, SCAMP, SWarp or PSFEx run.

    Parameters
    ----------
    path : str or Path
        The XML file.
    tool : str, optional
        ``sextractor`` (also ``sex``, ``source-extractor``), ``scamp``, ``swarp`` or ``psfex``;
        guessed from the file when omitted.

    Returns
    -------
    XmlLog
        ``summary`` holds, per tool (all values plain Python, ``None`` when unknown):

        * SExtractor: ``extensions`` (per extension: ``extension``, ``ndetect``,
          ``nsextracted``, ``background_mean``, ``background_stdev``, ``threshold``),
          ``ndetect`` and ``detections`` (total sextracted), ``image``, ``nextensions``.
        * SCAMP: ``astrom_sigma_internal`` / ``astrom_sigma_reference`` (arcsec, the
          2-vector of the worst field group) with ``..._total`` (their quadrature sum),
          ``astrom_sigma_reference_highsn``, ``as_contrast`` / ``xy_contrast`` (minimum over
          fields), ``ndetect`` (total), ``nfields``, ``ngroups``, ``fields`` and ``groups``.
        * SWarp: ``ninputs``, ``ninputs_done``, ``inputs``, ``image``, ``weight``,
          ``image_size`` (only when forced with ``IMAGE_SIZE``: SWarp's XML does not record the
          size it chose, else ``None``), ``center``, ``noverlap_max``, ``exptime_max``.
        * PSFEx: ``nstars_loaded``, ``nstars_accepted``, ``fwhm_mean`` (pixels),
          ``fwhm_wcs_mean`` (arcsec), ``fwhm_pixelfree_mean``, ``chi2_mean``,
          ``ellipticity_mean``, ``moffat_beta_mean``, ``nfields``, ``catalogs``.

        A missing, empty or garbled file gives an :class:`XmlLog` with ``parse_error`` set;
        this function does not raise.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        log = XmlLog(path=str(p), tool=normalize_tool(tool))
        log.parse_error = f"cannot read {p}: {exc.strerror or exc}"
        return log
    return parse_xml_bytes(data, tool=tool, path=str(p))
