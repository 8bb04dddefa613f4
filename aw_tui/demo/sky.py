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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from aw_tui.demo.render import (
    mjd_to_isot,
    moffat_alpha,
    offset_radec,
    pixelized_fwhm,
    render_stars,
    sample_magnitudes,
    tan_header,
)

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
    progress: Callable[[str], None] | None = None,
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
    progress : callable, optional
        Called with one line of text when each exposure's files are written, then once when
        the truth and the reference catalog are (a 2048-pixel exposure takes a few seconds).

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
    if n_hot_pixels is None:
        n_hot_pixels = max(5, round(30 * size * size / 2048**2))
    recipe = _Recipe(
        n_exposures=n_exposures, size=size, seed=seed, fwhm_arcsec=fwhm_arcsec, beta=beta,
        pixel_scale=pixel_scale, n_extensions=n_extensions, ra_center=ra_center,
        dec_center=dec_center, mag_range=mag_range, star_density=star_density,
        min_stars=min_stars, zero_point=zero_point, sky=sky, gain=gain, read_noise=read_noise,
        exptime=exptime, dither_arcsec=dither_arcsec, wcs_error_arcsec=wcs_error_arcsec,
        wcs_rotation_deg=wcs_rotation_deg, ref_mag_limit=ref_mag_limit,
        ref_noise_mas=ref_noise_mas, name_prefix=name_prefix, chip_gap=chip_gap,
        n_hot_pixels=n_hot_pixels,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # One generator, drawn in a fixed order (star field, each exposure, reference catalog):
    # the same arguments give byte-identical files.
    rng = np.random.default_rng(seed)
    stars = _star_field(recipe, rng)
    exposures: list[dict[str, str]] = []
    exposure_truth: list[dict[str, Any]] = []
    for i, pointing in enumerate(_pointings(recipe)):
        paths, record = _make_exposure(recipe, rng, i, pointing, stars, out)
        exposures.append(paths)
        exposure_truth.append(record)
        if progress is not None:
            names = ", ".join(Path(path).name for path in paths.values())
            progress(f"exposure {i + 1}/{n_exposures} written: {names}")

    truth_path = out / "truth.fits"
    stars.truth.meta["ZP"] = zero_point
    stars.truth.meta["FWHM_PX"] = recipe.fwhm_px
    stars.truth.write(truth_path, overwrite=True)
    n_ref = _write_reference(recipe, rng, stars.truth, out)

    products = _sky_products(recipe, out, stars.n_stars, n_ref, exposures, exposure_truth)
    _write_truth_json(products, recipe)
    if progress is not None:
        progress(f"truth written: {stars.n_stars} stars in truth.fits, {n_ref} in reference.fits")
    return products


@dataclass(frozen=True)
class _Recipe:
    """The arguments of :func:`make_sky` and the quantities derived from them."""

    n_exposures: int
    size: int
    seed: int
    fwhm_arcsec: float
    beta: float
    pixel_scale: float
    n_extensions: int
    ra_center: float
    dec_center: float
    mag_range: tuple[float, float]
    star_density: float
    min_stars: int
    zero_point: float
    sky: float
    gain: float
    read_noise: float
    exptime: float
    dither_arcsec: float
    wcs_error_arcsec: float
    wcs_rotation_deg: tuple[float, float]
    ref_mag_limit: float
    ref_noise_mas: float
    name_prefix: str
    chip_gap: int
    n_hot_pixels: int

    @property
    def scale_deg(self) -> float:
        return self.pixel_scale / 3600.0

    @property
    def fwhm_px(self) -> float:
        return self.fwhm_arcsec / self.pixel_scale

    @property
    def alpha(self) -> float:
        return moffat_alpha(self.fwhm_px, self.beta)

    @property
    def radius(self) -> int:
        return math.ceil(8.0 * self.fwhm_px)

    @property
    def faint_radius(self) -> int:
        # Faint stars get a smaller cutout: beyond 5 FWHM a beta=3 Moffat holds 0.14% of the flux.
        return math.ceil(5.0 * self.fwhm_px)

    @property
    def n_chips(self) -> int:
        return max(self.n_extensions, 1)

    def chip_crpix(self, k: int) -> tuple[float, float]:
        """Reference pixel of chip ``k`` (0-based): a row of chips centred on the pointing."""
        chip_dx = (k - (self.n_chips - 1) / 2.0) * (self.size + self.chip_gap)
        centre_pix = (self.size + 1) / 2.0
        return (centre_pix - chip_dx, centre_pix)


@dataclass
class _StarField:
    """The injected stars: sky positions, fluxes and the truth table (filled per exposure)."""

    n_stars: int
    ra: np.ndarray
    dec: np.ndarray
    flux: np.ndarray
    is_faint: np.ndarray
    truth: Table


def _pointings(recipe: _Recipe) -> list[tuple[float, float]]:
    """The first pointing at the field centre, the others at dither_arcsec in golden-angle turns."""
    pointings = []
    for i in range(recipe.n_exposures):
        if i == 0:
            pointings.append((recipe.ra_center, recipe.dec_center))
        else:
            angle = math.radians(137.508 * i + 20.0)
            pointings.append(
                offset_radec(
                    recipe.ra_center,
                    recipe.dec_center,
                    recipe.dither_arcsec * math.cos(angle),
                    recipe.dither_arcsec * math.sin(angle),
                )
            )
    return pointings


def _star_field(recipe: _Recipe, rng: np.random.Generator) -> _StarField:
    """Draw the stars: uniform on the tangent plane, magnitudes with dN/dm ~ 10^(0.2 m).

    The box covers every chip of every exposure plus a margin of one PSF cutout (stars just off
    the edge still leak light in).
    """
    size, pixel_scale, n_chips = recipe.size, recipe.pixel_scale, recipe.n_chips
    margin_arcsec = recipe.dither_arcsec + (recipe.radius + 2) * pixel_scale
    half_w = (n_chips * size + (n_chips - 1) * recipe.chip_gap) / 2.0 * pixel_scale + margin_arcsec
    half_h = size / 2.0 * pixel_scale + margin_arcsec
    region_px = (2 * half_w / pixel_scale) * (2 * half_h / pixel_scale)
    density = max(recipe.star_density, recipe.min_stars / float(size * size))
    n_stars = round(density * region_px)
    centre = (recipe.ra_center, recipe.dec_center)
    field_wcs = WCS(tan_header(centre, (0.0, 0.0), recipe.scale_deg, 0.0))
    sx = rng.uniform(-half_w, half_w, n_stars) / pixel_scale
    sy = rng.uniform(-half_h, half_h, n_stars) / pixel_scale
    ra, dec = field_wcs.wcs_pix2world(sx, sy, 0)
    mags = sample_magnitudes(rng, n_stars, recipe.mag_range[0], recipe.mag_range[1])
    flux = 10.0 ** (-0.4 * (mags - recipe.zero_point))

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
    # Stars under 10^4 ADU are drawn to faint_radius only: they lose < 14 ADU (0.0015 mag).
    return _StarField(n_stars, ra, dec, flux, flux < 1.0e4, truth)


def _make_exposure(
    recipe: _Recipe,
    rng: np.random.Generator,
    i: int,
    pointing: tuple[float, float],
    stars: _StarField,
    out: Path,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Render and write exposure ``i`` (0-based); add its columns to the truth table.

    Returns the exposure's paths (``image``, ``wtmap``, ``dqmask``) and its WCS truth.
    """
    p_ra, p_dec = pointing
    base = f"{recipe.name_prefix}{i + 1:02d}"
    # Header WCS error of this exposure: a CRVAL shift and a rotation about the pointing.
    err_angle = rng.uniform(0.0, 2.0 * math.pi)
    err_size = recipe.wcs_error_arcsec * rng.uniform(0.8, 1.1)
    err_dx, err_dy = err_size * math.cos(err_angle), err_size * math.sin(err_angle)
    err_rot = rng.uniform(*recipe.wcs_rotation_deg) * rng.choice([-1.0, 1.0])
    head_crval = offset_radec(p_ra, p_dec, err_dx, err_dy)

    mjd = 60000.1 + 0.002 * i
    date_obs = mjd_to_isot(mjd)
    size, radius, n_stars = recipe.size, recipe.radius, stars.n_stars
    xcol = np.zeros(n_stars)
    ycol = np.zeros(n_stars)
    extcol = np.zeros(n_stars, dtype=np.int16)
    chips: list[tuple[np.ndarray, np.ndarray, np.ndarray, fits.Header]] = []
    true_wcs_cards: list[dict[str, Any]] = []
    head_wcs_cards: list[dict[str, Any]] = []
    for k in range(recipe.n_chips):
        crpix = recipe.chip_crpix(k)
        true_head = tan_header((p_ra, p_dec), crpix, recipe.scale_deg, 0.0)
        wrong_head = tan_header(head_crval, crpix, recipe.scale_deg, err_rot)
        true_wcs_cards.append(dict(true_head))
        head_wcs_cards.append(dict(wrong_head))
        x, y = WCS(true_head).wcs_world2pix(stars.ra, stars.dec, 0)
        keep = (x > -radius - 1) & (x < size + radius) & (y > -radius - 1) & (y < size + radius)
        on_chip = (x >= -0.5) & (x < size - 0.5) & (y >= -0.5) & (y < size - 0.5)
        if recipe.n_extensions == 0:
            xcol, ycol = x + 1.0, y + 1.0
            extcol[on_chip] = 1
        else:
            xcol[on_chip] = x[on_chip] + 1.0
            ycol[on_chip] = y[on_chip] + 1.0
            extcol[on_chip] = k + 1
        data, dq, weight = _chip_pixels(recipe, rng, x[keep], y[keep], stars.flux[keep],
                                        stars.is_faint[keep])
        header = _chip_header(recipe, k, mjd, date_obs, wrong_head)
        header["WCSERR"] = (round(err_size, 3), "[arcsec] deliberate CRVAL error")
        header["WCSROT"] = (round(err_rot, 4), "[deg] deliberate rotation error")
        chips.append((data, weight, dq, header))

    stars.truth[f"X_{i + 1}"] = xcol
    stars.truth[f"Y_{i + 1}"] = ycol
    stars.truth[f"EXT_{i + 1}"] = extcol
    paths = {
        "image": str(out / f"{base}.fits"),
        "wtmap": str(out / f"{base}.wtmap.fits"),
        "dqmask": str(out / f"{base}.dqmask.fits"),
    }
    _write_exposure(recipe, paths, chips, mjd, date_obs)
    record = {
        "name": base,
        "pointing": [p_ra, p_dec],
        "mjd": mjd,
        "wcs_error_arcsec": [err_dx, err_dy],
        "wcs_rotation_deg": err_rot,
        "true_wcs": true_wcs_cards,
        "header_wcs": head_wcs_cards,
    }
    return paths, record


def _chip_pixels(
    recipe: _Recipe,
    rng: np.random.Generator,
    x: np.ndarray,
    y: np.ndarray,
    flux: np.ndarray,
    is_faint: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of one chip: stars, sky and noise; a bad column and hot pixels in the DQ mask.

    ``x``, ``y`` are the 0-based positions of the stars near the chip. Returns the science
    data (float64, ADU), the DQ mask (int16) and the weight map (float32, 0 where flagged).
    """
    size, sky, gain, read_noise = recipe.size, recipe.sky, recipe.gain, recipe.read_noise
    bright, faint = ~is_faint, is_faint
    image = render_stars((size, size), x[bright], y[bright], flux[bright], recipe.alpha,
                         recipe.beta, recipe.radius)
    image += render_stars((size, size), x[faint], y[faint], flux[faint], recipe.alpha,
                          recipe.beta, recipe.faint_radius)
    electrons = (image + sky) * gain
    data = rng.poisson(electrons).astype(np.float64)
    data += rng.normal(0.0, read_noise, size=data.shape)
    data /= gain

    n_hot = recipe.n_hot_pixels
    dq = np.zeros((size, size), dtype=np.int16)
    bad_col = int(rng.integers(size // 8, size - size // 8))
    dq[:, bad_col] |= DQ_BAD_COLUMN
    data[:, bad_col] = rng.normal(0.3 * sky, 50.0, size=size)
    hot_y = rng.integers(0, size, n_hot)
    hot_x = rng.integers(0, size, n_hot)
    dq[hot_y, hot_x] |= DQ_HOT_PIXEL
    data[hot_y, hot_x] = rng.uniform(2.0e4, 6.0e4, n_hot)
    variance = (sky * gain + read_noise**2) / gain**2
    weight = np.where(dq == 0, 1.0 / variance, 0.0).astype(np.float32)
    return data, dq, weight


def _chip_header(
    recipe: _Recipe, k: int, mjd: float, date_obs: str, wrong_head: fits.Header
) -> fits.Header:
    """The header of chip ``k`` (0-based): observation cards and the deliberately wrong WCS."""
    header = fits.Header()
    if recipe.n_extensions:
        header["EXTNAME"] = f"CCD{k + 1}"
        header["CCDNUM"] = k + 1
    header["OBJECT"] = "aw-tui synthetic field"
    header["TELESCOP"] = "aw-tui sky"
    header["INSTRUME"] = "synthetic"
    header["FILTER"] = "r"
    header["EXPTIME"] = (recipe.exptime, "[s] exposure time")
    header["GAIN"] = (recipe.gain, "[e-/ADU]")
    header["RDNOISE"] = (recipe.read_noise, "[e-] read noise")
    header["SATURATE"] = (60000.0, "[ADU] saturation level")
    header["MAGZERO"] = (recipe.zero_point, "mag of 1 ADU in this exposure")
    header["SKYLEVEL"] = (recipe.sky, "[ADU] injected sky level")
    header["AIRMASS"] = 1.0
    header["DATE-OBS"] = date_obs
    header["MJD-OBS"] = mjd
    header["SEEING"] = (recipe.fwhm_arcsec, "[arcsec] injected Moffat FWHM")
    header.update(wrong_head)
    return header


def _write_exposure(
    recipe: _Recipe,
    paths: dict[str, str],
    chips: list[tuple[np.ndarray, np.ndarray, np.ndarray, fits.Header]],
    mjd: float,
    date_obs: str,
) -> None:
    """Write the image, weight map and DQ mask of one exposure (one HDU per chip)."""
    sci_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
    wt_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
    dq_hdus: list[fits.ImageHDU | fits.PrimaryHDU] = []
    hdu_class = fits.ImageHDU if recipe.n_extensions else fits.PrimaryHDU
    for data, weight, dq, header in chips:
        dq_header = header.copy()
        dq_header["DQBIT1"] = ("bad column", "value of DQ bit 1")
        dq_header["DQBIT2"] = ("hot pixel", "value of DQ bit 2")
        sci_hdus.append(hdu_class(data.astype(np.float32), header=header))
        wt_hdus.append(hdu_class(weight, header=header.copy()))
        dq_hdus.append(hdu_class(dq, header=dq_header))
    for key, hdus in (("image", sci_hdus), ("wtmap", wt_hdus), ("dqmask", dq_hdus)):
        if recipe.n_extensions:
            primary = fits.PrimaryHDU()
            primary.header["NEXTEND"] = recipe.n_extensions
            primary.header["OBJECT"] = "aw-tui synthetic field"
            primary.header["EXPTIME"] = recipe.exptime
            primary.header["DATE-OBS"] = date_obs
            primary.header["MJD-OBS"] = mjd
            hdul = fits.HDUList([primary, *hdus])
        else:
            hdul = fits.HDUList(hdus)
        hdul.writeto(paths[key], overwrite=True)


def _write_reference(
    recipe: _Recipe, rng: np.random.Generator, truth: Table, out: Path
) -> int:
    """Write the offline SCAMP reference catalog; return its number of stars.

    The truth stars brighter than ``ref_mag_limit``, with ``ref_noise_mas`` of position noise.
    """
    bright = truth["MAG"] < recipe.ref_mag_limit
    sigma_deg = recipe.ref_noise_mas / 1000.0 / 3600.0
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
    return n_ref


def _sky_products(
    recipe: _Recipe,
    out: Path,
    n_stars: int,
    n_ref: int,
    exposures: list[dict[str, str]],
    exposure_truth: list[dict[str, Any]],
) -> SkyProducts:
    """The `SkyProducts` of a sky written in ``out``."""
    return SkyProducts(
        out_dir=str(out),
        exposures=exposures,
        truth=str(out / "truth.fits"),
        reference=str(out / "reference.fits"),
        truth_json=str(out / "truth.json"),
        fwhm_pixels=recipe.fwhm_px,
        fwhm_pixelized=pixelized_fwhm(recipe.fwhm_px, recipe.beta),
        fwhm_arcsec=recipe.fwhm_arcsec,
        beta=recipe.beta,
        pixel_scale=recipe.pixel_scale,
        zero_point=recipe.zero_point,
        sky=recipe.sky,
        gain=recipe.gain,
        read_noise=recipe.read_noise,
        exptime=recipe.exptime,
        n_stars=n_stars,
        n_reference=n_ref,
        size=recipe.size,
        n_extensions=recipe.n_extensions,
        seed=recipe.seed,
        ra_center=recipe.ra_center,
        dec_center=recipe.dec_center,
        exposure_truth=exposure_truth,
    )


def _write_truth_json(products: SkyProducts, recipe: _Recipe) -> None:
    """Write ``truth.json``: the fields of ``products`` and the recipe's other scalars."""
    payload = asdict(products)
    payload["alpha_pixels"] = recipe.alpha
    payload["mag_range"] = list(recipe.mag_range)
    payload["ref_mag_limit"] = recipe.ref_mag_limit
    payload["ref_noise_mas"] = recipe.ref_noise_mas
    payload["scamp_config"] = products.scamp_config()
    Path(products.truth_json).write_text(json.dumps(payload, indent=2) + "\n")
