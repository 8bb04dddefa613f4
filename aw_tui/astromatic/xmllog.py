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
import math
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["TOOL_NAMES", "XmlLog", "normalize_tool", "parse_xml_bytes", "parse_xml_log"]

#: Accepted spellings of each tool name (case-insensitive) and the canonical name.
TOOL_NAMES: dict[str, str] = {
    "sex": "sextractor",
    "sextractor": "sextractor",
    "source-extractor": "sextractor",
    "source extractor": "sextractor",
    "source_extractor": "sextractor",
    "scamp": "scamp",
    "swarp": "swarp",
    "psfex": "psfex",
}

_SOFTWARE_TO_TOOL = {
    "source extractor": "sextractor",
    "sextractor": "sextractor",
    "scamp": "scamp",
    "swarp": "swarp",
    "psfex": "psfex",
}


def normalize_tool(tool: str | None) -> str | None:
    """Return the canonical tool name (``sextractor``, ``scamp``, ``swarp``, ``psfex``).

    Parameters
    ----------
    tool : str or None
        Any spelling listed in :data:`TOOL_NAMES`, a path to a binary (``/usr/bin/SWarp``) or
        ``None``.

    Returns
    -------
    str or None
        The canonical name, or ``None`` when ``tool`` is ``None`` or unknown.
    """
    if tool is None:
        return None
    name = Path(str(tool)).name.strip().lower()
    return TOOL_NAMES.get(name)


def _empty_warnings() -> Table:
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
    warnings: Table = field(default_factory=_empty_warnings)
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


def _plain(value: Any) -> Any:
    """Convert numpy / masked / bytes values to JSON-serialisable Python values."""
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):
        if value.ndim == 0:
            return None if value.mask else _plain(value.item())
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.float32):
        # The shortest repr of the float32 (1001.08, not 1001.0800170898438).
        value = float(str(value))
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _scalar(value: Any) -> Any:
    """A one-element list (``arraysize="1"`` fields) as its element."""
    value = _plain(value)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _column(table: Table | None, name: str) -> list[Any]:
    """Plain values of a column, or an empty list when the table or column is missing."""
    if table is None or name not in table.colnames:
        return []
    return [_scalar(v) for v in table[name]]


def _numbers(values: list[Any]) -> list[float]:
    """The finite numbers of a list (None and strings dropped)."""
    out = []
    for v in values:
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.append(float(v))
    return out


def _mean(values: list[Any]) -> float | None:
    nums = _numbers(values)
    return float(sum(nums) / len(nums)) if nums else None


def _sum_int(values: list[Any]) -> int | None:
    nums = _numbers(values)
    return int(sum(nums)) if nums else None


def _min(values: list[Any]) -> float | None:
    nums = _numbers(values)
    return float(min(nums)) if nums else None


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
        software = str(log.meta.get("Software", "")).strip().lower()
        log.tool = _SOFTWARE_TO_TOOL.get(software)
    warn = log.tables.get("Warnings")
    if warn is not None and {"Date", "Time", "Msg"} <= set(warn.colnames):
        from astropy.table import Table  # lazy: slow import

        log.warnings = Table(
            {
                "Date": [str(_plain(v) or "") for v in warn["Date"]],
                "Time": [str(_plain(v) or "") for v in warn["Time"]],
                "Msg": [str(_plain(v) or "") for v in warn["Msg"]],
            },
            dtype=(str, str, str),
        )


# --------------------------------------------------------------------------------------------
# Fast path: xml.etree.ElementTree
#
# The tools' files are small VOTables with TABLEDATA only: reading them with ElementTree and
# typing the cells here is ~5x faster than astropy.io.votable (two thirds of what is left is
# astropy building the Table columns). Anything this reader does not handle (BINARY data,
# multidimensional char arrays, unknown datatypes, a truncated file...) raises, and the file
# goes to the astropy path below.


class _Unsupported(Exception):
    """A construct the fast path leaves to astropy."""


_INT_DTYPES: dict[str, Any] = {
    "short": np.int16,
    "int": np.int32,
    "long": np.int64,
    "unsignedByte": np.uint8,
}
_FLOAT_DTYPES: dict[str, Any] = {"float": np.float32, "double": np.float64}
_TEXT_TYPES = frozenset({"char", "unicodeChar"})
_BOOL_VALUES = {"T": True, "TRUE": True, "1": True, "F": False, "FALSE": False, "0": False}
_BOOL_NULL = frozenset({"", "?", "\0"})


def _parse_int(text: str) -> tuple[int, bool]:
    """(value, masked) of an integer cell: empty or ``nan`` is masked; ``0x`` is hexadecimal."""
    text = text.strip()
    if not text or text.lower() == "nan":
        return 0, True
    if text[:2].lower() == "0x":
        return int(text[2:], 16), False
    return int(text), False


def _parse_float(text: str) -> tuple[float, bool]:
    """(value, masked) of a floating-point cell: empty or NaN is masked."""
    text = text.strip()
    if not text:
        return math.nan, True
    value = float(text)
    return value, value != value


def _parse_bool(text: str) -> tuple[bool, bool]:
    """(value, masked) of a boolean cell (``T``/``F``, ``true``/``false``, ``1``/``0``)."""
    text = text.strip().upper()
    if text in _BOOL_NULL:
        return False, True
    value = _BOOL_VALUES.get(text)
    if value is None:
        raise ValueError(f"not a boolean: {text!r}")
    return value, False


_PARSERS = {"int": _parse_int, "float": _parse_float, "bool": _parse_bool}
_DEFAULTS: dict[str, Any] = {"int": 0, "float": math.nan, "bool": False}


@dataclass(frozen=True)
class _Spec:
    """How to read the values of a FIELD or PARAM."""

    kind: str  # "text", "int", "float" or "bool"
    dtype: Any  # numpy scalar type (None for text)
    shape: tuple[int, ...] | None = None  # fixed array shape (numpy order); None: scalar
    variable: bool = False  # arraysize with "*" (or SCAMP's "0" when it has no fields)


def _spec(elem: ET.Element) -> _Spec:
    datatype = elem.get("datatype", "")
    arraysize = (elem.get("arraysize") or "").strip()
    if datatype == "boolean" and "*" in arraysize:
        datatype = "char"  # SWarp's Weight_Type: declared boolean, holds MAP_WEIGHT
    if datatype in _TEXT_TYPES:
        if "x" in arraysize:
            raise _Unsupported(f"{datatype} array of arraysize {arraysize}")
        return _Spec("text", None)
    if datatype in _INT_DTYPES:
        kind, dtype = "int", _INT_DTYPES[datatype]
    elif datatype in _FLOAT_DTYPES:
        kind, dtype = "float", _FLOAT_DTYPES[datatype]
    elif datatype == "boolean":
        kind, dtype = "bool", np.bool_
    else:
        raise _Unsupported(f"datatype {datatype!r}")
    if not arraysize:
        return _Spec(kind, dtype)
    if "*" in arraysize or arraysize == "0":
        if "x" in arraysize:
            raise _Unsupported(f"variable array of arraysize {arraysize}")
        return _Spec(kind, dtype, variable=True)
    # VOTable arraysizes run fastest first ("2x3": 3 rows of 2), numpy's last first.
    shape = tuple(int(d) for d in reversed(arraysize.split("x")))
    return _Spec(kind, dtype, shape=shape)


def _text_array(cells: Any) -> np.ndarray:
    data = np.empty(len(cells), dtype=object)
    data[:] = list(cells)
    return data


def _convert(spec: _Spec, cells: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Typed values and mask of the cells of a numeric or boolean column.

    Raises ValueError or OverflowError when a cell does not fit the datatype.
    """
    parse, dtype, n = _PARSERS[spec.kind], spec.dtype, len(cells)
    values: list[Any] = []
    mask: list[bool] = []
    if spec.shape is None and not spec.variable:
        for cell in cells:
            v, m = parse(cell)
            values.append(v)
            mask.append(m)
        return np.array(values, dtype=dtype), np.array(mask, dtype=bool)
    if spec.variable:
        rows = []
        for cell in cells:
            parsed = [parse(part) for part in cell.split()]
            rows.append(
                (
                    np.array([v for v, _ in parsed], dtype=dtype),
                    np.array([m for _, m in parsed], dtype=bool),
                )
            )
        if n and len({len(r) for r, _ in rows}) == 1:  # all the same length: a 2-D column
            return np.stack([r for r, _ in rows]), np.stack([m for _, m in rows])
        data = np.empty(n, dtype=object)
        for i, (r, m) in enumerate(rows):
            data[i] = np.ma.array(r, mask=m) if m.any() else r
        return data, None
    assert spec.shape is not None
    size = math.prod(spec.shape)
    default = _DEFAULTS[spec.kind]
    for cell in cells:
        parts = cell.split()[:size]
        for part in parts:
            v, m = parse(part)
            values.append(v)
            mask.append(m)
        missing = size - len(parts)  # an empty or short cell: masked padding
        values.extend([default] * missing)
        mask.extend([True] * missing)
    shape = (n, *spec.shape)
    return np.array(values, dtype=dtype).reshape(shape), np.array(mask, dtype=bool).reshape(shape)


_UNITS: dict[tuple[str, str], Any] = {}


def _unit(text: str | None, unit_format: str) -> Any:
    """The astropy unit of a FIELD as astropy.io.votable makes it (cached)."""
    if text is None:
        return None
    key = (text, unit_format)  # unit="" is dimensionless, as astropy reads it
    if key not in _UNITS:
        import astropy.units as u  # lazy: slow import

        if len(_UNITS) >= 512:
            _UNITS.clear()
        try:
            _UNITS[key] = u.Unit(text, format=unit_format, parse_strict="silent")
        except Exception:
            _UNITS[key] = None
    return _UNITS[key]


def _local(tag: Any) -> str:
    """Tag name without its namespace (the tools write the VOTable namespace or none)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _description(elem: ET.Element) -> str | None:
    for child in elem:
        if _local(child.tag) == "DESCRIPTION":
            return (child.text or "").strip()
    return None


def _param_value(elem: ET.Element) -> Any:
    """A PARAM's value as a plain Python value (arrays as lists, empty or NaN as None)."""
    spec = _spec(elem)
    text = elem.get("value", "")
    if spec.kind == "text":
        return text
    try:
        if spec.shape is None and not spec.variable:
            value, masked = _PARSERS[spec.kind](text)
            return None if masked else _plain(spec.dtype(value))
        data, mask = _convert(spec, [text])
        row = data[0]
        if mask is not None and mask[0].any():
            row = np.ma.array(row, mask=mask[0])
        return _plain(row)
    except (ValueError, OverflowError):
        return text  # a value that does not fit its datatype: kept as written


def _etree_table(elem: ET.Element, unit_format: str) -> Table:
    """An astropy Table from a TABLE element (TABLEDATA, or no data)."""
    from astropy.table import Table  # lazy: slow import

    fields: list[ET.Element] = []
    params: list[ET.Element] = []
    rows: list[list[str]] = []
    description = None
    for child in elem:
        tag = _local(child.tag)
        if tag == "FIELD":
            fields.append(child)
        elif tag == "PARAM":
            params.append(child)
        elif tag == "DESCRIPTION":
            description = (child.text or "").strip()
        elif tag == "DATA":
            for data in child:
                kind = _local(data.tag)
                if kind == "TABLEDATA":
                    rows = [[td.text or "" for td in tr] for tr in data]
                elif kind != "FITS":  # SExtractor's pointer to the catalog: never opened
                    raise _Unsupported(f"{kind} data")
    nfields = len(fields)
    rows = [r if len(r) == nfields else (r + [""] * nfields)[:nfields] for r in rows]
    columns_cells = list(zip(*rows, strict=True)) if rows else [()] * nfields
    arrays: list[np.ndarray] = []
    names: list[str] = []
    for i, (fld, cells) in enumerate(zip(fields, columns_cells, strict=True)):
        spec = _spec(fld)
        names.append(fld.get("name") or fld.get("ID") or f"col{i}")
        if spec.kind == "text":
            arrays.append(_text_array([c.strip() for c in cells]))  # astropy strips them too
            continue
        try:
            data, mask = _convert(spec, cells)
        except (ValueError, OverflowError):
            arrays.append(_text_array(cells))  # a value that does not fit: the column as text
            continue
        # A MaskedColumn only where a cell is empty (or NaN): plain Columns are cheaper.
        arrays.append(np.ma.array(data, mask=mask) if mask is not None and mask.any() else data)
    # Building astropy columns dominates the cost: one Column per field, attributes after.
    table = Table(arrays, names=names, copy=False)
    for fld, col in zip(fields, table.itercols(), strict=True):
        unit = _unit(fld.get("unit"), unit_format)
        if unit is not None:
            col.unit = unit
        text = _description(fld)
        if text:
            col.description = text
        ucd = fld.get("ucd")
        if ucd:
            col.meta["ucd"] = ucd
    for key in ("ID", "name"):
        if elem.get(key) is not None:
            table.meta[key] = elem.get(key)
    if description is not None:
        table.meta["description"] = description
    for p in params:
        table.meta[str(p.get("name") or p.get("ID"))] = _param_value(p)
    return table


def _from_etree(root: ET.Element, log: XmlLog) -> None:
    """Fill ``log`` from the parsed XML; raises on anything it does not handle."""
    if _local(root.tag) != "VOTABLE":
        raise _Unsupported(f"root element {_local(root.tag)!r}")
    try:
        version = tuple(int(v) for v in (root.get("version") or "1.1").split(".")[:2])
    except ValueError:
        version = (1, 1)
    unit_format = "vounit" if version >= (1, 4) else "cds"

    def walk(resource: ET.Element) -> None:
        rid = resource.get("ID") or resource.get("name") or ""
        target = log.meta if rid == "MetaData" else log.config if rid == "Config" else None
        tables, nested = [], []
        for child in resource:
            tag = _local(child.tag)
            if tag == "PARAM" and target is not None:
                target[str(child.get("name") or child.get("ID"))] = _param_value(child)
            elif tag == "TABLE":
                tables.append(child)
            elif tag == "RESOURCE":
                nested.append(child)
        for tab in tables:
            name = tab.get("ID") or tab.get("name") or f"table{len(log.tables) + 1}"
            log.tables[name] = _etree_table(tab, unit_format)
        for sub in nested:
            walk(sub)

    for child in root:
        if _local(child.tag) == "RESOURCE":
            walk(child)
    _finish(log)


def _parse_fast(data: bytes, log: XmlLog) -> XmlLog:
    """The XmlLog of a complete, well-formed file; raises otherwise (``log`` is not touched)."""
    root = ET.fromstring(data)
    fast = XmlLog(path=log.path, tool=log.tool, parse_error=log.parse_error, warnings=log.warnings)
    with np.errstate(all="ignore"):
        _from_etree(root, fast)
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
            out[str(p.name)] = _plain(p.value)
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
                    table.meta[str(p.name)] = _plain(p.value)
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
            log.tool = _SOFTWARE_TO_TOOL.get(m.group(1).strip().lower())
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


def _summary_sextractor(log: XmlLog) -> dict[str, Any]:
    ext = log.tables.get("Extension_Data")
    rows = []
    if ext is not None:
        for i in range(len(ext)):
            row = {}
            for key, col in (
                ("extension", "Extension"),
                ("ndetect", "NDetect"),
                ("nsextracted", "NSextracted"),
                ("background_mean", "Background_Mean"),
                ("background_stdev", "Background_StDev"),
                ("threshold", "Threshold"),
            ):
                row[key] = _scalar(ext[col][i]) if col in ext.colnames else None
            rows.append(row)
    return {
        "image": log.meta.get("Image_Name"),
        "nextensions": (ext.meta.get("NExtensions") if ext is not None else None),
        "extensions": rows,
        "ndetect": _sum_int([r["ndetect"] for r in rows]),
        "detections": _sum_int([r["nsextracted"] for r in rows]) or 0,
    }


def _vec(value: Any) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, list):
        nums = _numbers(value)
        return nums if len(nums) == len(value) and nums else None
    nums = _numbers([value])
    return nums or None


def _quad(vec: list[float] | None) -> float | None:
    return float(math.hypot(*vec)) if vec else None


def _summary_scamp(log: XmlLog) -> dict[str, Any]:
    fields_t = log.tables.get("Fields")
    groups_t = log.tables.get("FGroups")
    groups = []
    if groups_t is not None:
        for i in range(len(groups_t)):
            g: dict[str, Any] = {
                "name": _plain(groups_t["Name"][i]) if "Name" in groups_t.colnames else None
            }
            for key, col in (
                ("astrom_sigma_internal", "AstromSigma_Internal"),
                ("astrom_sigma_internal_highsn", "AstromSigma_Internal_HighSN"),
                ("astrom_sigma_reference", "AstromSigma_Reference"),
                ("astrom_sigma_reference_highsn", "AstromSigma_Reference_HighSN"),
                ("astrom_offset_reference", "AstromOffset_Reference"),
            ):
                g[key] = _vec(_plain(groups_t[col][i])) if col in groups_t.colnames else None
            for key, col in (
                ("astrom_chi2_internal", "AstromChi2_Internal"),
                ("astrom_ndets_internal", "AstromNDets_Internal"),
                ("astrom_chi2_reference", "AstromChi2_Reference"),
                ("astrom_ndets_reference", "AstromNDets_Reference"),
                ("nfields", "NFields"),
            ):
                g[key] = _scalar(groups_t[col][i]) if col in groups_t.colnames else None
            groups.append(g)

    def worst(key: str) -> list[float] | None:
        vecs = [g[key] for g in groups if g.get(key)]
        return max(vecs, key=lambda v: _quad(v) or 0.0) if vecs else None

    fields = []
    if fields_t is not None:
        for i in range(len(fields_t)):
            f: dict[str, Any] = {}
            for key, col in (
                ("catalog", "Catalog_Name"),
                ("ndetect", "NDetect"),
                ("group", "Group"),
                ("as_contrast", "AS_Contrast"),
                ("xy_contrast", "XY_Contrast"),
                ("dposangle", "DPosAngle"),
                ("dpixelscale", "DPixelScale"),
                ("dx", "DX"),
                ("dy", "DY"),
                ("chi2_reference", "Chi2_Reference"),
            ):
                f[key] = _scalar(fields_t[col][i]) if col in fields_t.colnames else None
            f["astrom_sigma_reference"] = (
                _vec(_plain(fields_t["AstromSigma_Reference"][i]))
                if "AstromSigma_Reference" in fields_t.colnames
                else None
            )
            fields.append(f)

    internal = worst("astrom_sigma_internal")
    reference = worst("astrom_sigma_reference")
    return {
        "nfields": len(fields),
        "ngroups": len(groups),
        "ndetect": _sum_int([f["ndetect"] for f in fields]),
        "astrom_sigma_internal": internal,
        "astrom_sigma_internal_total": _quad(internal),
        "astrom_sigma_reference": reference,
        "astrom_sigma_reference_total": _quad(reference),
        "astrom_sigma_reference_highsn": worst("astrom_sigma_reference_highsn"),
        "as_contrast": _min([f["as_contrast"] for f in fields]),
        "xy_contrast": _min([f["xy_contrast"] for f in fields]),
        "fields": fields,
        "groups": groups,
    }


def _summary_swarp(log: XmlLog) -> dict[str, Any]:
    inputs = log.tables.get("Input_Image_Data")
    nframes = inputs.meta.get("NFrames") if inputs is not None else None
    size = _vec(log.config.get("Image_Size"))
    image_size = [int(v) for v in size] if size and any(v > 0 for v in size) else None
    if image_size is not None and len(image_size) == 1:
        image_size = image_size * 2
    return {
        "image": log.meta.get("Image_Name"),
        "weight": log.meta.get("Weight_Name"),
        "ninputs": nframes if nframes is not None else (len(inputs) if inputs is not None else 0),
        "ninputs_done": inputs.meta.get("CurrFrame") if inputs is not None else None,
        "inputs": _column(inputs, "Image_Name"),
        # SWarp's XML does not record the size it chose: only a size forced with IMAGE_SIZE.
        "image_size": image_size,
        "center": _vec(log.config.get("Center")),
        "noverlap_max": log.meta.get("NOverlap_Max"),
        "exptime_max": log.meta.get("ExpTime_Max"),
        "background_mean": _mean(_column(inputs, "Background_Mean")),
    }


def _summary_psfex(log: XmlLog) -> dict[str, Any]:
    psf = log.tables.get("PSF_Fields")
    return {
        "nfields": len(psf) if psf is not None else 0,
        "catalogs": _column(psf, "Catalog_Name"),
        "nstars_loaded": _sum_int(_column(psf, "NStars_Loaded_Total")),
        "nstars_accepted": _sum_int(_column(psf, "NStars_Accepted_Total")),
        "fwhm_mean": _mean(_column(psf, "FWHM_Mean")),
        "fwhm_wcs_mean": _mean(_column(psf, "FWHM_WCS_Mean")),
        "fwhm_pixelfree_mean": _mean(_column(psf, "FWHM_PixelFree_Mean")),
        "chi2_mean": _mean(_column(psf, "Chi2_Mean")),
        "ellipticity_mean": _mean(_column(psf, "Ellipticity_Mean")),
        "moffat_beta_mean": _mean(_column(psf, "MoffatBeta_Mean")),
        "sampling_mean": _mean(_column(psf, "Sampling_Mean")),
    }


_SUMMARIES = {
    "sextractor": _summary_sextractor,
    "scamp": _summary_scamp,
    "swarp": _summary_swarp,
    "psfex": _summary_psfex,
}


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
    summarize = _SUMMARIES.get(log.tool or "")
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
