"""The numeric summary fields of each tool step: what quality checks can compare.

The one list of them, with units (``docs/checks.md`` is written from it): a ``checks`` entry
of a tool step names one of these (``aw-tui check`` says which, with a did-you-mean).
"""

from __future__ import annotations

__all__ = ["SUMMARY_FIELDS", "summary_fields"]

#: Tool code -> {field: (unit, meaning)}.
SUMMARY_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "SExtractor": {
        "ndetect": ("count", "sources detected, all extensions"),
        "detections": ("count", "sources extracted into the catalog, all extensions"),
        "nextensions": ("count", "image extensions processed"),
    },
    "SCAMP": {
        "nfields": ("count", "catalogs (fields) solved"),
        "ngroups": ("count", "field groups"),
        "ndetect": ("count", "detections loaded from all catalogs"),
        "astrom_sigma_internal_total": ("arcsec", "internal dispersion, both axes in quadrature "
                                                  "(worst group; n/a with one field)"),
        "astrom_sigma_reference_total": ("arcsec", "dispersion against the reference, both axes "
                                                   "(worst group; n/a without matches)"),
        "as_contrast": ("ratio", "lowest angle/scale matching contrast of the fields"),
        "xy_contrast": ("ratio", "lowest position matching contrast of the fields"),
    },
    "SWarp": {
        "ninputs": ("count", "input images"),
        "ninputs_done": ("count", "input images resampled"),
        "noverlap_max": ("count", "most inputs overlapping one output pixel"),
        "exptime_max": ("s", "largest total exposure time of an output pixel"),
        "background_mean": ("ADU", "mean background of the inputs"),
    },
    "PSFEx": {
        "nfields": ("count", "catalogs modelled"),
        "nstars_loaded": ("count", "stars loaded"),
        "nstars_accepted": ("count", "stars accepted for the model"),
        "fwhm_mean": ("pixel", "mean FWHM of the PSF model"),
        "fwhm_wcs_mean": ("arcsec", "mean FWHM on the sky"),
        "fwhm_pixelfree_mean": ("pixel", "mean pixel-free FWHM"),
        "chi2_mean": ("", "mean reduced chi2 of the fit"),
        "ellipticity_mean": ("", "mean ellipticity"),
        "moffat_beta_mean": ("", "mean Moffat beta"),
        "sampling_mean": ("pixel", "mean model sampling step"),
    },
}


def summary_fields(code: str) -> dict[str, tuple[str, str]] | None:
    """The numeric summary fields of a tool (by its canonical code), or None if not a tool."""
    return SUMMARY_FIELDS.get(code)
