"""What a step produced: its files, and a preview of each (no Textual here).

A tool step's files are the paths named in its journal summary (``image``, ``weight``,
``catalogs``, ``inputs``, SCAMP's per-field ``catalog`` ...), the ``.head`` and ``.psf`` files
beside its catalogs, its XML log ``<step_id>.<tool>*.xml`` in the run directory and the files
named on the command line that log records (SExtractor's catalog). Names
without a folder (PSFEx and SCAMP give catalogs by their base name) are looked for beside the
other files the run names. Only the journal and the layout of the run directory are read
(through `aw_tui.rundir`): nothing is unpickled.
"""

from __future__ import annotations

import glob
import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from aw_tui.rundir.journal import RunState

__all__ = ["Preview", "Product", "load_preview", "step_products"]

#: File endings that make a summary string a product.
PRODUCT_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".cat", ".ldac", ".head", ".psf", ".xml",
                    ".ahead", ".png", ".svg")
#: Files looked for beside a catalog (``x.cat`` -> ``x.head``, ``x.psf``).
BESIDE_CATALOG = (".head", ".psf")


@dataclass(frozen=True)
class Product:
    """One file of a step.

    Parameters
    ----------
    path : str
        Absolute path.
    kind : str
        ``image``, ``catalog``, ``psf``, ``head``, ``xml`` or ``file``.
    source : str
        Where it was found: a summary key, ``beside <catalog>`` or ``XML log``.
    size : int or None
        Bytes (None when the file does not exist).
    mtime : float or None
        Last modification time (None when the file does not exist).
    """

    path: str
    kind: str
    source: str
    size: int | None
    mtime: float | None

    @property
    def exists(self) -> bool:
        """Whether the file is there."""
        return self.size is not None


def _kind(path: str, source: str) -> str:
    name = os.path.basename(path).lower()
    if name.endswith(".psf"):
        return "psf"
    if name.endswith((".head", ".ahead")):
        return "head"
    if name.endswith(".xml"):
        return "xml"
    if name.endswith((".cat", ".ldac")) or ".ldac" in name or "catalog" in source:
        return "catalog"
    if name.endswith((".fits", ".fit", ".fts", ".fz")):
        return "image"
    return "file"


def _strings(value: Any, key: str = "") -> Iterable[tuple[str, str]]:
    """Every (key, string) in a summary, nested lists and dicts included."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for sub, item in value.items():
            yield from _strings(item, str(sub))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, key)


def _known_folders(state: RunState, log_dir: str) -> list[str]:
    folders: list[str] = []
    for step in state.steps.values():
        for _, text in _strings(step.summary):
            if os.path.isabs(text) and text.lower().endswith(PRODUCT_SUFFIXES):
                folder = os.path.dirname(text)
                if folder not in folders:
                    folders.append(folder)
    return [*folders, log_dir]


def _resolve(name: str, folders: list[str]) -> str:
    if os.path.isabs(name):
        return name
    for folder in folders:
        candidate = os.path.join(folder, name)
        if os.path.exists(candidate):
            return candidate
    return os.path.join(folders[0], name) if folders else os.path.abspath(name)


def _product(path: str, source: str) -> Product:
    try:
        stat = os.stat(path)
    except OSError:
        return Product(path, _kind(path, source), source, None, None)
    return Product(path, _kind(path, source), source, stat.st_size, stat.st_mtime)


def step_products(log_dir: str, state: RunState, step_id: int) -> list[Product]:
    """The files of one step (see the module), each once, in the order found.

    Parameters
    ----------
    log_dir : str
        The run directory.
    state : RunState
        The journal folded (its steps' summaries).
    step_id : int
        The step.

    Returns
    -------
    list of Product
        Its files, existing or not (a missing one is shown as missing).
    """
    folders = _known_folders(state, log_dir)
    found: dict[str, Product] = {}
    summary = state.steps[step_id].summary if step_id in state.steps else {}
    for key, text in _strings(summary):
        if not text.lower().endswith(PRODUCT_SUFFIXES):
            continue
        path = os.path.normpath(_resolve(text, folders))
        found.setdefault(path, _product(path, key))
        if found[path].kind == "catalog":
            stem = os.path.splitext(path)[0]
            for suffix in BESIDE_CATALOG:
                if os.path.exists(stem + suffix):
                    found.setdefault(stem + suffix, _product(stem + suffix,
                                                             f"beside {os.path.basename(path)}"))
    for path in sorted(glob.glob(os.path.join(glob.escape(log_dir), f"{step_id}.*.xml"))):
        found.setdefault(path, _product(path, "XML log"))
        for option, name in command_line_files(path):
            name = os.path.normpath(_resolve(name, folders))
            found.setdefault(name, _product(name, option))
    return list(found.values())


_COMMAND_LINE = re.compile(r'name="Command_Line"[^>]*?value="([^"]*)"')


def command_line_files(xml_path: str, limit: int = 256 * 1024) -> list[tuple[str, str]]:
    """The files named on the command line an XML log records (its ``Command_Line``).

    SExtractor's summary does not name its catalog; its XML log's command line does
    (``-CATALOG_NAME x.cat``). Options ending in ``_NAME`` or ``_IMAGE`` and bare arguments
    (the inputs) are taken when they end like a product; the text is only read.

    Parameters
    ----------
    xml_path : str
        The XML log.
    limit : int, optional
        Bytes read from its start (the command line is in the header).

    Returns
    -------
    list of tuple of str
        (option or ``input``, file name) pairs, in command-line order.
    """
    try:
        with open(xml_path, "rb") as stream:
            head = stream.read(limit).decode("utf-8", "replace")
    except OSError:
        return []
    match = _COMMAND_LINE.search(head)
    if match is None:
        return []
    tokens = html.unescape(match.group(1)).split()
    files: list[tuple[str, str]] = []
    for i, token in enumerate(tokens[1:], start=1):
        option = tokens[i - 1]
        named = option.startswith("-") and option.upper().endswith(("_NAME", "_IMAGE"))
        if token.startswith("-") or (option.startswith("-") and not named):
            continue
        if option.upper() == "-XML_NAME":
            continue
        for part in token.split(","):
            if part.lower().endswith(PRODUCT_SUFFIXES):
                files.append((option if named else "input", part))
    return files


@dataclass
class Preview:
    """What the products screen shows for one file.

    Parameters
    ----------
    title : str
        One line naming what is shown.
    thumbnail : Text or None
        An image or PSF model in half blocks.
    text : str
        A FITS header, the head of a text file, or why nothing can be shown.
    columns : list of str
        A catalog's column names (empty for other files).
    rows : list of list of str
        A catalog's first rows, as text.
    """

    title: str
    thumbnail: Text | None = None
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def load_preview(product: Product, columns: int = 40, rows: int = 16,
                 max_rows: int = 50) -> Preview:
    """Read what to show of a product (slow: call it in a thread).

    Parameters
    ----------
    product : Product
        The file.
    columns, rows : int, optional
        Character cells for a thumbnail.
    max_rows : int, optional
        Rows of a catalog shown.

    Returns
    -------
    Preview
        Never raises for a bad file: the preview then says what is wrong.
    """
    name = os.path.basename(product.path)
    if not product.exists:
        return Preview(name, text=f"{product.path} does not exist (yet)")
    try:
        if product.kind in ("head", "xml", "file"):
            return Preview(name, text=_head_of_text(product.path))
        if product.kind == "psf":
            return _psf_preview(product.path, columns, rows)
        if product.kind == "catalog":
            return _catalog_preview(product.path, max_rows)
        return _image_preview(product.path, columns, rows)
    except Exception as error:  # a damaged or unexpected file: say so, never crash
        return Preview(name, text=f"cannot read {product.path}: {type(error).__name__}: {error}")


def _head_of_text(path: str, limit: int = 64 * 1024) -> str:
    with open(path, "rb") as stream:
        data = stream.read(limit)
    text = data.decode("utf-8", "replace")
    if b"\0" in data:
        return f"{path} is a binary file"
    return text


def _image_preview(path: str, columns: int, rows: int) -> Preview:
    from astropy.io import fits  # lazy: slow import, only for a preview

    from aw_tui.tui.widgets.thumbnail import half_block_text  # lazy: numpy, for a preview

    with fits.open(path, memmap=True) as hdus:
        names = [hdu.name for hdu in hdus]
        if "LDAC_OBJECTS" in names:
            return _catalog_preview(path, 50)
        image = next((h for h in hdus if h.is_image and (h.header.get("NAXIS") or 0) >= 2),
                     None)
        if image is None:
            header = hdus[0].header
            return Preview(os.path.basename(path), text=header.tostring(sep="\n").rstrip())
        data = image.data
        while data.ndim > 2:
            data = data[0]
        header = image.header.tostring(sep="\n").rstrip()
        shape = " x ".join(str(n) for n in reversed(data.shape))
        thumb = half_block_text(data, columns, rows)
    return Preview(f"{os.path.basename(path)}  {shape} px  (asinh stretch)", thumb, header)


def _psf_preview(path: str, columns: int, rows: int) -> Preview:
    from astropy.io import fits  # lazy: slow import, only for a preview

    from aw_tui.tui.widgets.thumbnail import half_block_text  # lazy: numpy, for a preview

    with fits.open(path) as hdus:
        model = hdus[1].data["PSF_MASK"][0]
        while model.ndim > 2:
            model = model[0]  # the constant term of the PSF's variation with position
        header = hdus[1].header.tostring(sep="\n").rstrip()
        thumb = half_block_text(model, columns, rows)
    shape = " x ".join(str(n) for n in reversed(model.shape))
    return Preview(f"{os.path.basename(path)}  PSF model {shape}", thumb, header)


def _catalog_preview(path: str, max_rows: int) -> Preview:
    from aw_tui.astromatic.ldac import read_ldac  # lazy: imports astropy

    table = read_ldac(path)
    names = [name for name in table.colnames if table[name].ndim == 1]
    rows = [[_cell(table[name][i]) for name in names] for i in range(min(len(table), max_rows))]
    return Preview(f"{os.path.basename(path)}  {len(table)} rows, {len(table.colnames)} columns"
                   f" (first {len(rows)} shown)", columns=names, rows=rows)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    try:
        return f"{float(value):.6g}" if hasattr(value, "dtype") and value.dtype.kind == "f" \
            else str(value)
    except (TypeError, ValueError):
        return str(value)
