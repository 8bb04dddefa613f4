"""The maths of the synthetic sky: Moffat stars on pixels, magnitudes, TAN headers, dates.

:mod:`aw_tui.demo.sky` draws and writes a sky with these; they hold no state and write no file.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
from astropy.io import fits

__all__ = [
    "mjd_to_isot",
    "moffat",
    "moffat_alpha",
    "offset_radec",
    "pixelized_fwhm",
    "render_stars",
    "sample_magnitudes",
    "tan_header",
]

#: Day 0 of the modified Julian date.
MJD_EPOCH = datetime(1858, 11, 17)


def moffat_alpha(fwhm: float, beta: float) -> float:
    """Return the Moffat core width ``alpha`` for a given FWHM and ``beta``.

    Parameters
    ----------
    fwhm : float
        Full width at half maximum (any unit).
    beta : float
        Moffat power index (> 1).

    Returns
    -------
    float
        ``alpha`` in the unit of ``fwhm``.
    """
    return fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))


def moffat(r2: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Unit-flux circular Moffat surface brightness at squared radius ``r2`` (per pixel^2).

    Parameters
    ----------
    r2 : numpy.ndarray
        Squared distances from the centre, in pixel^2.
    alpha, beta : float
        Moffat core width (pixels) and power index.

    Returns
    -------
    numpy.ndarray
        The profile, normalised to a total flux of 1.
    """
    u = 1.0 + r2 / (alpha * alpha)
    norm = (beta - 1.0) / (math.pi * alpha * alpha)
    if beta == 3.0:
        return norm / (u * u * u)
    return norm * np.power(u, -beta)


def pixelized_fwhm(fwhm: float, beta: float, oversample: int = 3) -> float:
    """FWHM of a Moffat profile integrated over unit pixels, as rendered by :func:`render_stars`.

    Averaging the profile over a pixel (``oversample`` x ``oversample`` sub-pixels, exactly like
    the renderer) is a convolution with the pixel box; this evaluates that convolved profile on
    a fine grid through the centre and returns twice the radius where it drops to half its peak.
    A PSF model fitted to the pixels (PSFEx's ``FWHM_Mean``) measures this width.

    Parameters
    ----------
    fwhm : float
        FWHM of the Moffat profile in pixels.
    beta : float
        Moffat power index.
    oversample : int, optional
        Sub-pixel sampling per axis used by the renderer.

    Returns
    -------
    float
        FWHM in pixels of the profile convolved with the pixel box.
    """
    alpha = moffat_alpha(fwhm, beta)
    step = 0.01
    x = np.arange(0.0, 3.0 * fwhm, step)
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    # Profile along the x axis through the centre, averaged over the pixel box.
    dx = x[:, None, None] + sub[None, :, None]
    dy = sub[None, None, :]
    prof = moffat(dx * dx + dy * dy, alpha, beta).mean(axis=(1, 2))
    half = prof[0] / 2.0
    i = int(np.argmax(prof < half))
    # Linear interpolation between the bracketing samples.
    x0, x1, p0, p1 = x[i - 1], x[i], prof[i - 1], prof[i]
    return float(2.0 * (x0 + (p0 - half) * (x1 - x0) / (p0 - p1)))


def render_stars(
    shape: tuple[int, int],
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    alpha: float,
    beta: float,
    radius: int,
    oversample: int = 3,
    chunk: int = 64,
) -> np.ndarray:
    """Render Moffat stars on a float64 image.

    Each star is drawn on a ``(2 radius + 1)^2`` cutout around its nearest pixel, each pixel
    being the mean of ``oversample^2`` sub-pixel samples; contributions are accumulated with
    ``np.bincount``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the image.
    x, y : numpy.ndarray
        0-based pixel coordinates of the stars (pixel centres at integers).
    flux : numpy.ndarray
        Total flux of each star.
    alpha, beta : float
        Moffat core width (pixels) and power index.
    radius : int
        Half side of each star's cutout in pixels.
    oversample : int, optional
        Sub-pixel samples per axis.
    chunk : int, optional
        Stars rendered per vectorised batch (bounds the memory used).

    Returns
    -------
    numpy.ndarray
        The image of the stars (no sky, no noise).
    """
    ny, nx = shape
    image = np.zeros(ny * nx, dtype=np.float64)
    if len(x) == 0:
        return image.reshape(shape)
    offs = np.arange(-radius, radius + 1)
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    for start in range(0, len(x), chunk):
        xs, ys, fs = x[start : start + chunk], y[start : start + chunk], flux[start : start + chunk]
        ix = np.rint(xs).astype(np.int64)
        iy = np.rint(ys).astype(np.int64)
        px = ix[:, None] + offs[None, :]  # (n, w) pixel columns
        py = iy[:, None] + offs[None, :]  # (n, w) pixel rows
        dx = (px - xs[:, None])[:, :, None] + sub  # (n, w, s)
        dy = (py - ys[:, None])[:, :, None] + sub
        dx2 = dx * dx
        dy2 = dy * dy
        r2 = dy2[:, :, None, :, None] + dx2[:, None, :, None, :]  # (n, wy, wx, s, s)
        stamp = moffat(r2, alpha, beta).mean(axis=(3, 4)) * fs[:, None, None]
        inside = ((py >= 0) & (py < ny))[:, :, None] & ((px >= 0) & (px < nx))[:, None, :]
        index = py[:, :, None] * nx + px[:, None, :]
        image += np.bincount(index[inside], weights=stamp[inside], minlength=ny * nx)
    return image.reshape(shape)


def sample_magnitudes(
    rng: np.random.Generator, n: int, mag_min: float, mag_max: float
) -> np.ndarray:
    """Draw ``n`` magnitudes with dN/dm proportional to 10^(0.2 m) in [mag_min, mag_max].

    Parameters
    ----------
    rng : numpy.random.Generator
        Random generator (one uniform draw of ``n`` values).
    n : int
        Number of magnitudes.
    mag_min, mag_max : float
        Magnitude range.

    Returns
    -------
    numpy.ndarray
        The magnitudes.
    """
    lo, hi = 10.0 ** (0.2 * mag_min), 10.0 ** (0.2 * mag_max)
    return 5.0 * np.log10(lo + rng.uniform(size=n) * (hi - lo))


def tan_header(
    crval: tuple[float, float], crpix: tuple[float, float], scale_deg: float, rotation_deg: float
) -> fits.Header:
    """A TAN WCS header with a CD matrix (north up, east left, then rotated).

    Parameters
    ----------
    crval : tuple of float
        Reference point (RA, DEC) in degrees.
    crpix : tuple of float
        Reference pixel (1-based).
    scale_deg : float
        Pixel scale in degrees.
    rotation_deg : float
        Rotation of the CD matrix in degrees.

    Returns
    -------
    astropy.io.fits.Header
        The WCS cards.
    """
    theta = math.radians(rotation_deg)
    c, s = math.cos(theta), math.sin(theta)
    header = fits.Header()
    header["CTYPE1"] = "RA---TAN"
    header["CTYPE2"] = "DEC--TAN"
    header["CUNIT1"] = "deg"
    header["CUNIT2"] = "deg"
    header["CRVAL1"] = float(crval[0])
    header["CRVAL2"] = float(crval[1])
    header["CRPIX1"] = float(crpix[0])
    header["CRPIX2"] = float(crpix[1])
    header["CD1_1"] = -scale_deg * c
    header["CD1_2"] = scale_deg * s
    header["CD2_1"] = scale_deg * s
    header["CD2_2"] = scale_deg * c
    header["RADESYS"] = "ICRS"
    header["EQUINOX"] = 2000.0
    return header


def offset_radec(ra: float, dec: float, dx_arcsec: float, dy_arcsec: float) -> tuple[float, float]:
    """Move (ra, dec) by small east/north offsets in arcsec.

    Parameters
    ----------
    ra, dec : float
        Position in degrees.
    dx_arcsec, dy_arcsec : float
        Offsets to the east and to the north in arcsec.

    Returns
    -------
    tuple of float
        The moved (ra, dec) in degrees.
    """
    return (
        ra + dx_arcsec / 3600.0 / math.cos(math.radians(dec)),
        dec + dy_arcsec / 3600.0,
    )


def mjd_to_isot(mjd: float) -> str:
    """ISO 8601 date of an MJD (UTC, to the millisecond) without astropy.time's leap tables.

    Parameters
    ----------
    mjd : float
        Modified Julian date.

    Returns
    -------
    str
        ``YYYY-MM-DDThh:mm:ss.sss``.
    """
    return (MJD_EPOCH + timedelta(days=mjd)).isoformat(timespec="milliseconds")
