"""Read and write FITS_LDAC catalogs (SExtractor, SCAMP and PSFEx) as astropy Tables.

A FITS_LDAC file is an empty primary HDU followed by one pair of binary tables per frame
(image extension):

* ``LDAC_IMHEAD``: one row, one column ``Field Header Card`` holding the FITS header of the
  image as an array of 80-character cards (``TDIM = '(80, n)'``);
* ``LDAC_OBJECTS``: the catalog itself.

SCAMP's ``.head`` output files (plain text headers, one block per extension) are read by
:func:`read_head_file` and :func:`read_head_blocks`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning

__all__ = [
    "ldac_hdus",
    "read_head_blocks",
    "read_head_file",
    "read_ldac",
    "read_ldac_frames",
    "write_ldac",
    "write_ldac_frames",
]

_CARD = 80
_BLOCK_CARDS = 36  # one 2880-byte FITS block


def _cards_to_header(cards: object) -> fits.Header:
    """Rebuild a header from the ``Field Header Card`` cell of an ``LDAC_IMHEAD`` row.

    astropy returns the cards right-stripped (an array of strings when ``TDIM`` is set, one
    long string otherwise); each is padded back to 80 characters.
    """
    if isinstance(cards, (bytes, str)):
        text = cards.decode("ascii", "replace") if isinstance(cards, bytes) else cards
        width = -(-len(text) // _CARD) * _CARD
        text = text.ljust(width)
        lines = [text[i : i + _CARD] for i in range(0, len(text), _CARD)]
    else:
        lines = [
            (c.decode("ascii", "replace") if isinstance(c, bytes) else str(c)).ljust(_CARD)[:_CARD]
            for c in np.ravel(cards)
        ]
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.rstrip() == "END":
            break
    else:
        out.append("END".ljust(_CARD))
    text = "".join(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return fits.Header.fromstring(text)


def _hdu_to_table(hdu: fits.BinTableHDU) -> Table:
    """Convert an ``LDAC_OBJECTS`` HDU to a Table (units kept, NaN not masked)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        table = Table.read(hdu, unit_parse_strict="silent", mask_invalid=False)
    # Drop the FITS structural keywords astropy copies into meta; keep nothing else.
    table.meta.clear()
    return table


def read_ldac_frames(path: str | Path) -> list[tuple[fits.Header, Table]]:
    """Read every frame of a FITS_LDAC catalog.

    Parameters
    ----------
    path : str or Path
        The catalog.

    Returns
    -------
    list of (astropy.io.fits.Header, astropy.table.Table)
        One ``(image header, objects)`` pair per ``LDAC_OBJECTS`` table, in file order. A table
        without a preceding ``LDAC_IMHEAD`` gets an empty header. Each table's
        ``meta['header']`` is the same header.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file holds no ``LDAC_OBJECTS`` table.
    """
    frames: list[tuple[fits.Header, Table]] = []
    with fits.open(path, memmap=False) as hdul:
        pending: fits.Header | None = None
        for hdu in hdul[1:]:
            name = str(hdu.header.get("EXTNAME", "")).strip().upper()
            if name == "LDAC_IMHEAD" and isinstance(hdu, fits.BinTableHDU):
                data = hdu.data
                pending = _cards_to_header(data[0][0]) if data is not None and len(data) else None
            elif name == "LDAC_OBJECTS" and isinstance(hdu, fits.BinTableHDU):
                header = pending if pending is not None else fits.Header()
                table = _hdu_to_table(hdu)
                table.meta["header"] = header
                frames.append((header, table))
                pending = None
    if not frames:
        raise ValueError(f"{path}: not a FITS_LDAC catalog (no LDAC_OBJECTS table)")
    return frames


def read_ldac(path: str | Path, frame: int | None = None) -> Table:
    """Read one frame of a FITS_LDAC catalog as a Table.

    Parameters
    ----------
    path : str or Path
        The catalog.
    frame : int, optional
        1-based frame number (the image extension the objects come from). Optional when the
        catalog holds a single frame.

    Returns
    -------
    astropy.table.Table
        The ``LDAC_OBJECTS`` table; ``meta['header']`` is the image header recovered from the
        matching ``LDAC_IMHEAD`` (an :class:`astropy.io.fits.Header`).

    Raises
    ------
    ValueError
        If the file is not FITS_LDAC, if ``frame`` is out of range, or if ``frame`` is omitted
        for a multi-frame catalog.
    """
    frames = read_ldac_frames(path)
    if frame is None:
        if len(frames) > 1:
            raise ValueError(f"{path} holds {len(frames)} frames: pass frame=1..{len(frames)}")
        return frames[0][1]
    if not 1 <= frame <= len(frames):
        raise ValueError(f"{path} holds {len(frames)} frame(s): frame={frame} is out of range")
    return frames[frame - 1][1]


def _imhead_hdu(header: fits.Header | None) -> tuple[fits.BinTableHDU, bytes]:
    """Build an ``LDAC_IMHEAD`` HDU whose card array fills whole 2880-byte blocks.

    Returns the HDU and the exact bytes its data must hold: astropy writes the trailing blanks
    of each card as NUL bytes, and AstrOmatic's FITS reader then misses the ``END`` card
    (SCAMP 2.10 and PSFEx 3.21 crash with a segmentation fault), so
    :func:`write_ldac_frames` rewrites the data with blank-padded cards after astropy is done.
    """
    if header is None:
        header = fits.Header([("SIMPLE", True), ("BITPIX", 8), ("NAXIS", 0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        text = header.tostring(sep="", endcard=True, padding=False)
    cards = [text[i : i + _CARD].ljust(_CARD) for i in range(0, len(text), _CARD)]
    n = -(-len(cards) // _BLOCK_CARDS) * _BLOCK_CARDS
    cards += [" " * _CARD] * (n - len(cards))
    blob = "".join(cards).encode("ascii", "replace")
    array = np.array([cards], dtype=f"S{_CARD}")
    column = fits.Column(
        name="Field Header Card", format=f"{n * _CARD}A", dim=f"({_CARD}, {n})", array=array
    )
    return fits.BinTableHDU.from_columns([column], name="LDAC_IMHEAD"), blob


def _objects_hdu(table: Table) -> fits.BinTableHDU:
    """Build an ``LDAC_OBJECTS`` HDU from a table (its meta is not copied)."""
    plain = table.copy(copy_data=False)
    plain.meta.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        hdu = fits.table_to_hdu(plain)
    hdu.name = "LDAC_OBJECTS"
    return hdu


def ldac_hdus(
    table: Table, header: fits.Header | None = None
) -> tuple[fits.BinTableHDU, fits.BinTableHDU]:
    """The ``LDAC_IMHEAD`` and ``LDAC_OBJECTS`` HDUs of one frame, in memory.

    Parameters
    ----------
    table : astropy.table.Table
        The objects.
    header : astropy.io.fits.Header, optional
        The image header (default: ``table.meta['header']``, else a minimal header).

    Notes
    -----
    Written with astropy's ``writeto`` the header cards end in NUL bytes, which SCAMP and
    PSFEx misread: write files with :func:`write_ldac` instead.
    """
    if header is None:
        header = table.meta.get("header")
    imhead, _ = _imhead_hdu(header)
    return imhead, _objects_hdu(table)


def write_ldac_frames(
    path: str | Path,
    frames: Sequence[tuple[fits.Header | None, Table]],
    overwrite: bool = True,
) -> None:
    """Write a multi-frame FITS_LDAC catalog.

    Parameters
    ----------
    path : str or Path
        Output file.
    frames : sequence of (Header or None, Table)
        One ``(image header, objects)`` pair per frame. A ``None`` header falls back to the
        table's ``meta['header']`` and then to a minimal header.
    overwrite : bool, optional
        Replace an existing file.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OSError(f"{target} exists (pass overwrite=True to replace it)")
    hdus: list[fits.PrimaryHDU | fits.BinTableHDU] = [fits.PrimaryHDU()]
    blobs: list[bytes] = []
    for header, table in frames:
        if header is None:
            header = table.meta.get("header")
        imhead, blob = _imhead_hdu(header)
        hdus += [imhead, _objects_hdu(table)]
        blobs.append(blob)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)
        # Put the blank-padded header cards back (see _imhead_hdu).
        with fits.open(tmp) as written:
            locations = [
                written.fileinfo(i)["datLoc"]
                for i, hdu in enumerate(written)
                if hdu.name == "LDAC_IMHEAD"
            ]
        with open(tmp, "r+b") as fh:
            for location, blob in zip(locations, blobs, strict=True):
                fh.seek(location)
                fh.write(blob)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_ldac(
    path: str | Path,
    table: Table,
    header: fits.Header | None = None,
    overwrite: bool = True,
) -> None:
    """Write a single-frame FITS_LDAC catalog that SCAMP and PSFEx accept.

    Parameters
    ----------
    path : str or Path
        Output file.
    table : astropy.table.Table
        The objects; multidimensional columns (e.g. ``VIGNET``) are written with ``TDIM``.
    header : astropy.io.fits.Header, optional
        Image header stored in ``LDAC_IMHEAD`` (default: ``table.meta['header']``, else a
        minimal header). SCAMP needs the image WCS and size; PSFEx the image size.
    overwrite : bool, optional
        Replace an existing file.
    """
    write_ldac_frames(path, [(header, table)], overwrite=overwrite)


def _split_head_text(raw: bytes) -> list[str]:
    """Decode a ``.head`` file and split it into header blocks ending with ``END``."""
    text = raw.decode("utf-8", errors="replace")
    # Non-ASCII characters (SCAMP writes "Université") are not valid in FITS cards.
    text = "".join(ch if 32 <= ord(ch) < 127 or ch == "\n" else "?" for ch in text)
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == "END":
            blocks.append("\n".join(current))
            current = []
        elif line.strip():
            current.append(line[:_CARD])
    if any(line.strip() for line in current):
        blocks.append("\n".join(current))
    return blocks


def read_head_blocks(path: str | Path) -> list[fits.Header]:
    """Read every header block of a SCAMP ``.head`` file (one per image extension).

    Parameters
    ----------
    path : str or Path
        The ``.head`` (or ``.ahead``) text file.

    Returns
    -------
    list of astropy.io.fits.Header
        One header per ``END``-terminated block.
    """
    raw = Path(path).read_bytes()
    headers = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        for block in _split_head_text(raw):
            headers.append(fits.Header.fromstring(block, sep="\n"))
    return headers


def read_head_file(path: str | Path, block: int = 0) -> fits.Header:
    """Read a SCAMP ``.head`` file as a FITS header.

    Parameters
    ----------
    path : str or Path
        The ``.head`` text file.
    block : int, optional
        0-based header block for a multi-extension file (default: the first).

    Returns
    -------
    astropy.io.fits.Header
        The header, non-ASCII characters replaced by ``?``.

    Raises
    ------
    ValueError
        If the file holds no block ``block``.
    """
    headers = read_head_blocks(path)
    if not 0 <= block < len(headers):
        raise ValueError(f"{path} holds {len(headers)} header block(s), not block {block}")
    return headers[block]
