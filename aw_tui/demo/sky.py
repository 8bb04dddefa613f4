"""Deterministic synthetic skies that exercise the whole AstrOmatic chain.

:func:`make_sky` writes a small set of dithered exposures of one star field, each with a weight
map and a data-quality mask, plus the truth needed to check every step of a pipeline:

* ``<base>.fits``, ``<base>.wtmap.fits``, ``<base>.dqmask.fits`` for each exposure (the naming
  of the seed's example, e.g. ``206401.fits``);
* ``truth.fits``: every injected star (RA, DEC, MAG, FLUX and the true pixel position on each
  exposure);
* ``reference.fits``: an offline astrometric reference catalog for SCAMP (the truth stars
  brighter than ``ref_mag_limit`` with ``ref_noise_mas`` of noise), see
  :data:`SCAMP_REFERENCE_CONFIG`;
* ``truth.json``: the scalar truth (PSF FWHM in pixels, zero point, noise model, the true and
  the header WCS of every exposure...).

The pixels are rendered with the *true* WCS while the headers carry a WCS that is deliberately
wrong by ~5 arcsec (CRVAL offsets and a 0.05-0.1 deg rotation), so an astrometric solver has
something to fix. Stars are circular Moffat profiles integrated over each pixel (3x3
supersampling), with Poisson and read noise. The module only needs numpy and astropy.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

__all__ = [
    "SCAMP_REFERENCE_CONFIG",
    "SkyProducts",
    "make_sky",
    "moffat_alpha",
    "pixelized_fwhm",
    "scamp_reference_config",
]

#: Star density of the reference recipe: ~900 stars per 2048 x 2048 pixels.
STARS_PER_PIXEL = 900.0 / 2048**2

#: Data-quality bits written in the ``.dqmask.fits`` files.
DQ_BAD_COLUMN = 1
DQ_HOT_PIXEL = 2

#: SCAMP options that make it use the reference catalog written by :func:`make_sky` offline.
#: ``ASTREFCAT_NAME`` holds the default file name; use :func:`scamp_reference_config` (or
#: :meth:`SkyProducts.scamp_config`) to get it with the full path.
SCAMP_REFERENCE_CONFIG: dict[str, str] = {
    "ASTREF_CATALOG": "FILE",
    "ASTREFCAT_NAME": "reference.fits",
    "ASTREFCENT_KEYS": "RA_ICRS,DE_ICRS",
    "ASTREFERR_KEYS": "e_RA,e_DE",
    "ASTREFMAG_KEY": "Gmag",
    "ASTREFMAGERR_KEY": "e_Gmag",
    "ASTREFOBSDATE_KEY": "OBSDATE",
}


def scamp_reference_config(reference_path: str | Path) -> dict[str, str]:
    """Return the SCAMP options that read a reference catalog written by :func:`make_sky`.

    Parameters
    ----------
    reference_path : str or Path
        Path of the reference catalog (``SkyProducts.reference``).

    Returns
    -------
    dict of str to str
        :data:`SCAMP_REFERENCE_CONFIG` with ``ASTREFCAT_NAME`` set to ``reference_path``.
    """
    config = dict(SCAMP_REFERENCE_CONFIG)
    config["ASTREFCAT_NAME"] = str(reference_path)
    return config


@dataclass
class SkyProducts:
    """Paths and scalar truth of a synthetic sky written by :func:`make_sky`.

    Attributes
    ----------
    out_dir : str
        Directory holding every file.
    exposures : list of dict
        One dict per exposure with the keys ``'image'``, ``'wtmap'`` and ``'dqmask'`` (paths as
        strings), the format of the seed's ``exposures`` list.
    truth : str
        FITS table of every injected star: ``ID``, ``RA``, ``DEC``, ``MAG``, ``FLUX`` and, for
        exposure ``i`` (1-based), ``X_i``, ``Y_i`` (true FITS pixel coordinates, 1-based) and
        ``EXT_i`` (1-based image extension holding the star, 0 when it falls off every chip;
        always 0 or 1 for a single-image file).
    reference : str
        Offline SCAMP reference catalog (see :data:`SCAMP_REFERENCE_CONFIG`).
    truth_json : str
        JSON file with the fields of this object and the per-exposure WCS truth.
    fwhm_pixels : float
        FWHM of the injected Moffat profile in pixels.
    fwhm_pixelized : float
        FWHM of that profile integrated over square pixels (what a PSF model fitted to the
        pixels sees; slightly larger than ``fwhm_pixels``).
    fwhm_arcsec, beta, pixel_scale, zero_point, sky, gain, read_noise, exptime : float
        The rendering model (zero point for ADU in the whole exposure).
    n_stars, n_reference, size, n_extensions, seed : int
        Number of injected stars, of reference stars, image side in pixels, number of image
        extensions (0: a plain image) and random seed.
    ra_center, dec_center : float
        Field centre in degrees.
    """

    out_dir: str
    exposures: list[dict[str, str]]
    truth: str
    reference: str
    truth_json: str
    fwhm_pixels: float
    fwhm_pixelized: float
    fwhm_arcsec: float
    beta: float
    pixel_scale: float
    zero_point: float
    sky: float
    gain: float
    read_noise: float
    exptime: float
    n_stars: int
    n_reference: int
    size: int
    n_extensions: int
    seed: int
    ra_center: float
    dec_center: float
    exposure_truth: list[dict[str, Any]] = field(default_factory=list)

    @property
    def images(self) -> list[str]:
        """Paths of the exposure images, in order."""
        return [exp["image"] for exp in self.exposures]

    def scamp_config(self) -> dict[str, str]:
        """SCAMP options that use this sky's reference catalog (see :data:`SCAMP_REFERENCE_CONFIG`)."""
        return scamp_reference_config(self.reference)

    def load_truth(self) -> Table:
        """Read the truth table.

        Returns
        -------
        astropy.table.Table
            The star list described under ``truth``.
        """
        return Table.read(self.truth, hdu=1)

    def true_wcs(self, exposure: int, extension: int | None = None) -> WCS:
        """Return the WCS the pixels were rendered with.

        Parameters
        ----------
        exposure : int
            0-based exposure index.
        extension : int, optional
            1-based image extension for a multi-extension sky (default: the first chip).

        Returns
        -------
        astropy.wcs.WCS
            The true celestial WCS.
        """
        chips = self.exposure_truth[exposure]["true_wcs"]
        index = 0 if extension is None else extension - 1
        return WCS(fits.Header(chips[index]))


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


def _moffat(r2: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Unit-flux circular Moffat surface brightness at squared radius ``r2`` (per pixel^2)."""
    u = 1.0 + r2 / (alpha * alpha)
    norm = (beta - 1.0) / (math.pi * alpha * alpha)
    if beta == 3.0:
        return norm / (u * u * u)
    return norm * np.power(u, -beta)


def pixelized_fwhm(fwhm: float, beta: float, oversample: int = 3) -> float:
    """FWHM of a Moffat profile integrated over unit pixels, as rendered by :func:`make_sky`.

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
    prof = _moffat(dx * dx + dy * dy, alpha, beta).mean(axis=(1, 2))
    half = prof[0] / 2.0
    i = int(np.argmax(prof < half))
    # Linear interpolation between the bracketing samples.
    x0, x1, p0, p1 = x[i - 1], x[i], prof[i - 1], prof[i]
    return float(2.0 * (x0 + (p0 - half) * (x1 - x0) / (p0 - p1)))


def _render(
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

    ``x`` and ``y`` are 0-based pixel coordinates (pixel centres at integers). Each star is drawn
    on a ``(2 radius + 1)^2`` cutout around its nearest pixel, each pixel being the mean of
    ``oversample^2`` sub-pixel samples; contributions are accumulated with ``np.bincount``.
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
        stamp = _moffat(r2, alpha, beta).mean(axis=(3, 4)) * fs[:, None, None]
        inside = ((py >= 0) & (py < ny))[:, :, None] & ((px >= 0) & (px < nx))[:, None, :]
        index = py[:, :, None] * nx + px[:, None, :]
        image += np.bincount(index[inside], weights=stamp[inside], minlength=ny * nx)
    return image.reshape(shape)


def _sample_magnitudes(
    rng: np.random.Generator, n: int, mag_min: float, mag_max: float
) -> np.ndarray:
    """Draw ``n`` magnitudes with dN/dm proportional to 10^(0.2 m) in [mag_min, mag_max]."""
    lo, hi = 10.0 ** (0.2 * mag_min), 10.0 ** (0.2 * mag_max)
    return 5.0 * np.log10(lo + rng.uniform(size=n) * (hi - lo))


def _tan_header(
    crval: tuple[float, float], crpix: tuple[float, float], scale_deg: float, rotation_deg: float
) -> fits.Header:
    """A TAN WCS header with a CD matrix (north up, east left, then rotated)."""
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


def _offset_radec(ra: float, dec: float, dx_arcsec: float, dy_arcsec: float) -> tuple[float, float]:
    """Move (ra, dec) by small east/north offsets in arcsec."""
    return (
        ra + dx_arcsec / 3600.0 / math.cos(math.radians(dec)),
        dec + dy_arcsec / 3600.0,
    )


def make_sky(
    out_dir: str | Path,
    n_exposures: int = 3,
    size: int = 2048,
    seed: int = 2064,
    fwhm_arcsec: float = 1.0,
    beta: float = 3.0,
    pixel_scale: float = 0.26,
    *,
    n_extensions: int = 0,
    ra_center: float = 150.1,
    dec_center: float = 2.2,
    mag_range: tuple[float, float] = (16.0, 22.5),
    star_density: float = STARS_PER_PIXEL,
    min_stars: int = 160,
    zero_point: float = 30.0,
    sky: float = 1000.0,
    gain: float = 1.0,
    read_noise: float = 5.0,
    exptime: float = 90.0,
    dither_arcsec: float = 30.0,
    wcs_error_arcsec: float = 5.0,
    wcs_rotation_deg: tuple[float, float] = (0.05, 0.1),
    ref_mag_limit: float = 22.0,
    ref_noise_mas: float = 15.0,
    name_prefix: str = "2064",
    chip_gap: int = 40,
    n_hot_pixels: int | None = None,
) -> SkyProducts:
    """Write a deterministic synthetic star field, its masks and its truth.

    Parameters
    ----------
    out_dir : str or Path
        Output directory (created if needed; existing files of the same names are replaced).
    n_exposures : int, optional
        Number of dithered exposures.
    size : int, optional
        Side of each (square) image or chip in pixels.
    seed : int, optional
        Random seed: the same arguments give byte-identical images.
    fwhm_arcsec : float, optional
        FWHM of the Moffat PSF in arcsec.
    beta : float, optional
        Moffat power index.
    pixel_scale : float, optional
        Pixel scale in arcsec per pixel.
    n_extensions : int, optional
        0 writes each image in the primary HDU; ``k > 0`` writes ``k`` image extensions (chips
        side by side on the sky, ``chip_gap`` pixels apart) after an empty primary HDU, so a
        per-frame run (``image.fits[1]``) can be tested.
    ra_center, dec_center : float, optional
        Field centre in degrees.
    mag_range : tuple of float, optional
        Magnitude range of the stars, drawn with dN/dm ~ 10^(0.2 m).
    star_density : float, optional
        Stars per square pixel (default ~900 per 2048^2).
    min_stars : int, optional
        Minimum mean number of stars on one chip of one exposure (small images keep enough
        stars for SCAMP and PSFEx; with Poisson scatter 160 gives ~150 or more).
    zero_point : float, optional
        Magnitude of 1 ADU in the whole exposure (``MAGZERO`` header).
    sky : float, optional
        Sky level in ADU per pixel.
    gain : float, optional
        Gain in e-/ADU (Poisson noise is drawn in electrons).
    read_noise : float, optional
        Read noise in electrons.
    exptime : float, optional
        Exposure time written to ``EXPTIME`` (the zero point already includes it).
    dither_arcsec : float, optional
        Distance of each exposure's pointing from the first one.
    wcs_error_arcsec : float, optional
        Size of the CRVAL error of the header WCS (each exposure gets 0.8-1.1 times this).
    wcs_rotation_deg : tuple of float, optional
        Range of the absolute rotation error of the header WCS (random sign).
    ref_mag_limit : float, optional
        Stars brighter than this go into the reference catalog.
    ref_noise_mas : float, optional
        Per-axis Gaussian noise added to the reference positions (milliarcsec).
    name_prefix : str, optional
        Exposure ``i`` (1-based) is named ``f"{name_prefix}{i:02d}"``.
    chip_gap : int, optional
        Gap between chips in pixels (multi-extension only).
    n_hot_pixels : int, optional
        Hot pixels per chip (default: 30 per 2048^2, at least 5).

    Returns
    -------
    SkyProducts
        Paths of the written files and the scalar truth.
    """
    if n_exposures < 1:
        raise ValueError("n_exposures must be at least 1")
    if size < 64:
        raise ValueError("size must be at least 64 pixels")
    if n_extensions < 0:
        raise ValueError("n_extensions must be 0 (plain image) or positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    scale_deg = pixel_scale / 3600.0
    fwhm_px = fwhm_arcsec / pixel_scale
    alpha = moffat_alpha(fwhm_px, beta)
    radius = math.ceil(8.0 * fwhm_px)
    # Faint stars get a smaller cutout: beyond 5 FWHM a beta=3 Moffat holds 0.14% of the flux.
    faint_radius = math.ceil(5.0 * fwhm_px)
    n_chips = max(n_extensions, 1)

    # Chip layout in the focal plane: a row of chips centred on the pointing.
    chip_dx = [(k - (n_chips - 1) / 2.0) * (size + chip_gap) for k in range(n_chips)]
    centre_pix = (size + 1) / 2.0

    # Pointings: the first at the field centre, the others at dither_arcsec in golden-angle turns.
    pointings = []
    for i in range(n_exposures):
        if i == 0:
            pointings.append((ra_center, dec_center))
        else:
            angle = math.radians(137.508 * i + 20.0)
            pointings.append(
                _offset_radec(
                    ra_center,
                    dec_center,
                    dither_arcsec * math.cos(angle),
                    dither_arcsec * math.sin(angle),
                )
            )

    # Star field: uniform on the tangent plane over a box that covers every chip of every
    # exposure plus a margin of one PSF cutout (stars just off the edge still leak light in).
    margin_arcsec = dither_arcsec + (radius + 2) * pixel_scale
    half_w = (n_chips * size + (n_chips - 1) * chip_gap) / 2.0 * pixel_scale + margin_arcsec
    half_h = size / 2.0 * pixel_scale + margin_arcsec
    region_px = (2 * half_w / pixel_scale) * (2 * half_h / pixel_scale)
    density = max(star_density, min_stars / float(size * size))
    n_stars = round(density * region_px)
    field_wcs = WCS(_tan_header((ra_center, dec_center), (0.0, 0.0), scale_deg, 0.0))
    sx = rng.uniform(-half_w, half_w, n_stars) / pixel_scale
    sy = rng.uniform(-half_h, half_h, n_stars) / pixel_scale
    ra, dec = field_wcs.wcs_pix2world(sx, sy, 0)
    mags = _sample_magnitudes(rng, n_stars, mag_range[0], mag_range[1])
    flux = 10.0 ** (-0.4 * (mags - zero_point))
    # Stars under 10^4 ADU are drawn to faint_radius only: they lose < 14 ADU (0.0015 mag).
    is_faint = flux < 1.0e4

    truth = Table()
    truth["ID"] = np.arange(1, n_stars + 1, dtype=np.int32)
    truth["RA"] = ra
    truth["RA"].unit = "deg"
    truth["DEC"] = dec
    truth["DEC"].unit = "deg"
    truth["MAG"] = mags
    truth["MAG"].unit = "mag"
    truth["FLUX"] = flux
    truth["FLUX"].unit = "adu"

    if n_hot_pixels is None:
        n_hot_pixels = max(5, round(30 * size * size / 2048**2))

    exposures: list[dict[str, str]] = []
    exposure_truth: list[dict[str, Any]] = []
    for i, (p_ra, p_dec) in enumerate(pointings):
        base = f"{name_prefix}{i + 1:02d}"
        # Header WCS error of this exposure: a CRVAL shift and a rotation about the pointing.
        err_angle = rng.uniform(0.0, 2.0 * math.pi)
        err_size = wcs_error_arcsec * rng.uniform(0.8, 1.1)
        err_dx, err_dy = err_size * math.cos(err_angle), err_size * math.sin(err_angle)
        err_rot = rng.uniform(*wcs_rotation_deg) * rng.choice([-1.0, 1.0])
        head_crval = _offset_radec(p_ra, p_dec, err_dx, err_dy)

        mjd = 60000.1 + 0.002 * i
        date_obs = _mjd_to_isot(mjd)
        xcol = np.zeros(n_stars)
        ycol = np.zeros(n_stars)
        extcol = np.zeros(n_stars, dtype=np.int16)
        sci_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
        wt_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
        dq_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
        true_wcs_cards: list[dict[str, Any]] = []
        head_wcs_cards: list[dict[str, Any]] = []
        for k in range(n_chips):
            crpix = (centre_pix - chip_dx[k], centre_pix)
            true_head = _tan_header((p_ra, p_dec), crpix, scale_deg, 0.0)
            wrong_head = _tan_header(head_crval, crpix, scale_deg, err_rot)
            true_wcs_cards.append(dict(true_head))
            head_wcs_cards.append(dict(wrong_head))
            x, y = WCS(true_head).wcs_world2pix(ra, dec, 0)
            keep = (x > -radius - 1) & (x < size + radius) & (y > -radius - 1) & (y < size + radius)
            on_chip = (x >= -0.5) & (x < size - 0.5) & (y >= -0.5) & (y < size - 0.5)
            if n_extensions == 0:
                xcol, ycol = x + 1.0, y + 1.0
                extcol[on_chip] = 1
            else:
                xcol[on_chip] = x[on_chip] + 1.0
                ycol[on_chip] = y[on_chip] + 1.0
                extcol[on_chip] = k + 1

            bright = keep & ~is_faint
            faint = keep & is_faint
            stars = _render((size, size), x[bright], y[bright], flux[bright], alpha, beta, radius)
            stars += _render(
                (size, size), x[faint], y[faint], flux[faint], alpha, beta, faint_radius
            )
            electrons = (stars + sky) * gain
            data = rng.poisson(electrons).astype(np.float64)
            data += rng.normal(0.0, read_noise, size=data.shape)
            data /= gain

            dq = np.zeros((size, size), dtype=np.int16)
            bad_col = int(rng.integers(size // 8, size - size // 8))
            dq[:, bad_col] |= DQ_BAD_COLUMN
            data[:, bad_col] = rng.normal(0.3 * sky, 50.0, size=size)
            hot_y = rng.integers(0, size, n_hot_pixels)
            hot_x = rng.integers(0, size, n_hot_pixels)
            dq[hot_y, hot_x] |= DQ_HOT_PIXEL
            data[hot_y, hot_x] = rng.uniform(2.0e4, 6.0e4, n_hot_pixels)
            variance = (sky * gain + read_noise**2) / gain**2
            weight = np.where(dq == 0, 1.0 / variance, 0.0).astype(np.float32)

            header = fits.Header()
            if n_extensions:
                header["EXTNAME"] = f"CCD{k + 1}"
                header["CCDNUM"] = k + 1
            header["OBJECT"] = "aw-tui synthetic field"
            header["TELESCOP"] = "aw-tui sky"
            header["INSTRUME"] = "synthetic"
            header["FILTER"] = "r"
            header["EXPTIME"] = (exptime, "[s] exposure time")
            header["GAIN"] = (gain, "[e-/ADU]")
            header["RDNOISE"] = (read_noise, "[e-] read noise")
            header["SATURATE"] = (60000.0, "[ADU] saturation level")
            header["MAGZERO"] = (zero_point, "mag of 1 ADU in this exposure")
            header["SKYLEVEL"] = (sky, "[ADU] injected sky level")
            header["AIRMASS"] = 1.0
            header["DATE-OBS"] = date_obs
            header["MJD-OBS"] = mjd
            header["SEEING"] = (fwhm_arcsec, "[arcsec] injected Moffat FWHM")
            header.update(wrong_head)
            header["WCSERR"] = (round(err_size, 3), "[arcsec] deliberate CRVAL error")
            header["WCSROT"] = (round(err_rot, 4), "[deg] deliberate rotation error")

            dq_header = header.copy()
            dq_header["DQBIT1"] = ("bad column", "value of DQ bit 1")
            dq_header["DQBIT2"] = ("hot pixel", "value of DQ bit 2")
            if n_extensions:
                sci_hdus.append(fits.ImageHDU(data.astype(np.float32), header=header))
                wt_hdus.append(fits.ImageHDU(weight, header=header.copy()))
                dq_hdus.append(fits.ImageHDU(dq, header=dq_header))
            else:
                sci_hdus.append(fits.PrimaryHDU(data.astype(np.float32), header=header))
                wt_hdus.append(fits.PrimaryHDU(weight, header=header.copy()))
                dq_hdus.append(fits.PrimaryHDU(dq, header=dq_header))

        truth[f"X_{i + 1}"] = xcol
        truth[f"Y_{i + 1}"] = ycol
        truth[f"EXT_{i + 1}"] = extcol

        paths = {
            "image": str(out / f"{base}.fits"),
            "wtmap": str(out / f"{base}.wtmap.fits"),
            "dqmask": str(out / f"{base}.dqmask.fits"),
        }
        for key, hdus in (("image", sci_hdus), ("wtmap", wt_hdus), ("dqmask", dq_hdus)):
            if n_extensions:
                primary = fits.PrimaryHDU()
                primary.header["NEXTEND"] = n_extensions
                primary.header["OBJECT"] = "aw-tui synthetic field"
                primary.header["EXPTIME"] = exptime
                primary.header["DATE-OBS"] = date_obs
                primary.header["MJD-OBS"] = mjd
                hdul = fits.HDUList([primary, *hdus])
            else:
                hdul = fits.HDUList(hdus)
            hdul.writeto(paths[key], overwrite=True)
        exposures.append(paths)
        exposure_truth.append(
            {
                "name": base,
                "pointing": [p_ra, p_dec],
                "mjd": mjd,
                "wcs_error_arcsec": [err_dx, err_dy],
                "wcs_rotation_deg": err_rot,
                "true_wcs": true_wcs_cards,
                "header_wcs": head_wcs_cards,
            }
        )

    truth_path = out / "truth.fits"
    truth.meta["ZP"] = zero_point
    truth.meta["FWHM_PX"] = fwhm_px
    truth.write(truth_path, overwrite=True)

    bright = truth["MAG"] < ref_mag_limit
    sigma_deg = ref_noise_mas / 1000.0 / 3600.0
    n_ref = int(bright.sum())
    ref = Table()
    ref_dec = truth["DEC"][bright] + rng.normal(0.0, sigma_deg, n_ref)
    ref["RA_ICRS"] = np.asarray(
        truth["RA"][bright] + rng.normal(0.0, sigma_deg, n_ref) / np.cos(np.radians(ref_dec)),
        dtype=np.float64,
    )
    ref["DE_ICRS"] = np.asarray(ref_dec, dtype=np.float64)
    ref["e_RA"] = np.full(n_ref, sigma_deg, dtype=np.float64)
    ref["e_DE"] = np.full(n_ref, sigma_deg, dtype=np.float64)
    ref["Gmag"] = np.asarray(truth["MAG"][bright] + rng.normal(0.0, 0.01, n_ref), dtype=np.float64)
    ref["e_Gmag"] = np.full(n_ref, 0.01, dtype=np.float64)
    # Epoch of the positions (SCAMP's default ASTREFOBSDATE_KEY) and clean flags (16-bit).
    ref["OBSDATE"] = np.full(n_ref, 2016.0, dtype=np.float64)
    ref["FLAGS"] = np.zeros(n_ref, dtype=np.int16)
    for name in ("RA_ICRS", "DE_ICRS", "e_RA", "e_DE"):
        ref[name].unit = "deg"
    ref["Gmag"].unit = "mag"
    ref["e_Gmag"].unit = "mag"
    ref["OBSDATE"].unit = "yr"
    ref_hdu = fits.table_to_hdu(ref)
    ref_hdu.name = "OBJECTS"
    ref_path = out / "reference.fits"
    fits.HDUList([fits.PrimaryHDU(), ref_hdu]).writeto(ref_path, overwrite=True)

    products = SkyProducts(
        out_dir=str(out),
        exposures=exposures,
        truth=str(truth_path),
        reference=str(ref_path),
        truth_json=str(out / "truth.json"),
        fwhm_pixels=fwhm_px,
        fwhm_pixelized=pixelized_fwhm(fwhm_px, beta),
        fwhm_arcsec=fwhm_arcsec,
        beta=beta,
        pixel_scale=pixel_scale,
        zero_point=zero_point,
        sky=sky,
        gain=gain,
        read_noise=read_noise,
        exptime=exptime,
        n_stars=n_stars,
        n_reference=n_ref,
        size=size,
        n_extensions=n_extensions,
        seed=seed,
        ra_center=ra_center,
        dec_center=dec_center,
        exposure_truth=exposure_truth,
    )
    payload = asdict(products)
    payload["alpha_pixels"] = alpha
    payload["mag_range"] = list(mag_range)
    payload["ref_mag_limit"] = ref_mag_limit
    payload["ref_noise_mas"] = ref_noise_mas
    payload["scamp_config"] = products.scamp_config()
    Path(products.truth_json).write_text(json.dumps(payload, indent=2) + "\n")
    return products


def _mjd_to_isot(mjd: float) -> str:
    """ISO 8601 date of an MJD (UTC, to the millisecond) without astropy.time's leap tables."""
    from datetime import datetime, timedelta

    epoch = datetime(1858, 11, 17)
    return (epoch + timedelta(days=mjd)).isoformat(timespec="milliseconds")
