"""The fast reader of the tools' XML logs: :mod:`xml.etree.ElementTree`.

The tools' files are small VOTables with TABLEDATA only: reading them with ElementTree and
typing the cells here is ~5x faster than astropy.io.votable (two thirds of what is left is
astropy building the Table columns). PARAMs become plain values and each TABLEDATA an astropy
Table typed by the FIELDs' datatypes, as astropy.io.votable would type it. Anything this reader
does not handle (BINARY data, multidimensional char arrays, unknown datatypes, a truncated
file...) raises, and :mod:`aw_tui.astromatic.xmllog` gives the file to astropy instead.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from aw_tui.astromatic.xmlvalues import plain

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["Unsupported", "read_votable"]


class Unsupported(Exception):
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
            raise Unsupported(f"{datatype} array of arraysize {arraysize}")
        return _Spec("text", None)
    if datatype in _INT_DTYPES:
        kind, dtype = "int", _INT_DTYPES[datatype]
    elif datatype in _FLOAT_DTYPES:
        kind, dtype = "float", _FLOAT_DTYPES[datatype]
    elif datatype == "boolean":
        kind, dtype = "bool", np.bool_
    else:
        raise Unsupported(f"datatype {datatype!r}")
    if not arraysize:
        return _Spec(kind, dtype)
    if "*" in arraysize or arraysize == "0":
        if "x" in arraysize:
            raise Unsupported(f"variable array of arraysize {arraysize}")
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
            return None if masked else plain(spec.dtype(value))
        data, mask = _convert(spec, [text])
        row = data[0]
        if mask is not None and mask[0].any():
            row = np.ma.array(row, mask=mask[0])
        return plain(row)
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
                    raise Unsupported(f"{kind} data")
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


def read_votable(
    root: ET.Element, meta: dict[str, Any], config: dict[str, Any], tables: dict[str, Table]
) -> None:
    """Fill ``meta`` (the ``MetaData`` PARAMs), ``config`` (the ``Config`` PARAMs) and
    ``tables`` (every table by name) from a parsed VOTable; raises :class:`Unsupported` (or
    ValueError) on anything it does not handle."""
    if _local(root.tag) != "VOTABLE":
        raise Unsupported(f"root element {_local(root.tag)!r}")
    try:
        version = tuple(int(v) for v in (root.get("version") or "1.1").split(".")[:2])
    except ValueError:
        version = (1, 1)
    unit_format = "vounit" if version >= (1, 4) else "cds"

    def walk(resource: ET.Element) -> None:
        rid = resource.get("ID") or resource.get("name") or ""
        target = meta if rid == "MetaData" else config if rid == "Config" else None
        found, nested = [], []
        for child in resource:
            tag = _local(child.tag)
            if tag == "PARAM" and target is not None:
                target[str(child.get("name") or child.get("ID"))] = _param_value(child)
            elif tag == "TABLE":
                found.append(child)
            elif tag == "RESOURCE":
                nested.append(child)
        for tab in found:
            name = tab.get("ID") or tab.get("name") or f"table{len(tables) + 1}"
            tables[name] = _etree_table(tab, unit_format)
        for sub in nested:
            walk(sub)

    with np.errstate(all="ignore"):
        for child in root:
            if _local(child.tag) == "RESOURCE":
                walk(child)
