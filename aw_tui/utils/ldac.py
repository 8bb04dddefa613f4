"""The original astromatic_wrapper's ``astromatic_wrapper.utils.ldac``, as thin aliases.

Code written for the original keeps working with ``from aw_tui.utils import ldac``:

========================================  =================================================
original name (argument order kept)        what it calls
========================================  =================================================
``get_table_from_ldac(filename, frame=1)``  :func:`aw_tui.ldac.read_ldac` (frame is 1-based)
``convert_hdu_to_ldac(hdu)``                 ``(LDAC_IMHEAD, LDAC_OBJECTS)`` HDUs of a table HDU
``convert_table_to_ldac(tbl)``               an :class:`~astropy.io.fits.HDUList` (primary,
                                             ``LDAC_IMHEAD``, ``LDAC_OBJECTS``)
``save_table_as_ldac(tbl, filename, **kw)``  :func:`aw_tui.ldac.write_ldac` (``overwrite``
                                             defaults to False, as astropy's ``writeto``)
========================================  =================================================

New code should call :mod:`aw_tui.ldac` directly. A catalog for SCAMP or PSFEx must be
written with :func:`save_table_as_ldac` (or :func:`aw_tui.ldac.write_ldac`), not with the
``writeto`` of the HDUList :func:`convert_table_to_ldac` returns: astropy pads the header
cards with NUL bytes, which the tools misread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import Table

from aw_tui.astromatic.ldac import ldac_hdus, read_ldac, write_ldac

__all__ = [
    "convert_hdu_to_ldac",
    "convert_table_to_ldac",
    "get_table_from_ldac",
    "save_table_as_ldac",
]


def get_table_from_ldac(filename: str | Path, frame: int = 1) -> Table:
    """Read frame ``frame`` (1-based) of a FITS_LDAC catalog as a Table.

    Parameters
    ----------
    filename : str or Path
        The catalog.
    frame : int, optional
        The frame (image extension) to read; the first by default.

    Returns
    -------
    astropy.table.Table
        The objects; ``meta['header']`` holds the image header.
    """
    return read_ldac(filename, frame=frame)


def convert_hdu_to_ldac(hdu: fits.BinTableHDU) -> tuple[fits.BinTableHDU, fits.BinTableHDU]:
    """The ``LDAC_IMHEAD`` (``hdu``'s header as cards) and ``LDAC_OBJECTS`` (its data) HDUs.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        A table HDU.

    Returns
    -------
    tuple of astropy.io.fits.BinTableHDU
        ``(LDAC_IMHEAD, LDAC_OBJECTS)``, as the original returned them.
    """
    return ldac_hdus(Table.read(hdu), hdu.header)


def convert_table_to_ldac(tbl: Table) -> fits.HDUList:
    """A FITS_LDAC HDUList (primary, ``LDAC_IMHEAD``, ``LDAC_OBJECTS``) of a Table.

    Parameters
    ----------
    tbl : astropy.table.Table
        The objects; ``meta['header']``, if set, is stored as the image header.

    Returns
    -------
    astropy.io.fits.HDUList
        In memory; save it with :func:`save_table_as_ldac` for the tools.
    """
    imhead, objects = ldac_hdus(tbl)
    return fits.HDUList([fits.PrimaryHDU(), imhead, objects])


def save_table_as_ldac(tbl: Table, filename: str | Path, **kwargs: Any) -> None:
    """Write a Table as a single-frame FITS_LDAC catalog the tools read.

    Parameters
    ----------
    tbl : astropy.table.Table
        The objects.
    filename : str or Path
        Output file.
    **kwargs
        ``overwrite`` (default False, as the original's ``HDUList.writeto``) and ``header``
        (the image header; default ``tbl.meta['header']``).
    """
    overwrite = bool(kwargs.pop("overwrite", False))
    header = kwargs.pop("header", None)
    if kwargs:
        raise TypeError(f"save_table_as_ldac() got unexpected keyword argument(s) "
                        f"{', '.join(sorted(kwargs))}: only overwrite and header are accepted")
    write_ldac(filename, tbl, header=header, overwrite=overwrite)
