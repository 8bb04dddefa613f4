"""The few figures per tool that a step's ``summary`` holds, made from its XML log.

Figures the tool did not measure are ``None`` (printed ``n/a`` by
:func:`aw_tui.astromatic.summaries.format_summary`), never a made-up 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aw_tui.astromatic.xmlvalues import column, mean, min_of, plain, quad, scalar, sum_int, vec

if TYPE_CHECKING:
    from aw_tui.astromatic.xmllog import XmlLog

__all__ = ["SUMMARIES", "summary_psfex", "summary_scamp", "summary_sextractor", "summary_swarp"]


def summary_sextractor(log: XmlLog) -> dict[str, Any]:
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
                row[key] = scalar(ext[col][i]) if col in ext.colnames else None
            rows.append(row)
    return {
        "image": log.meta.get("Image_Name"),
        "nextensions": (ext.meta.get("NExtensions") if ext is not None else None),
        "extensions": rows,
        "ndetect": sum_int([r["ndetect"] for r in rows]),
        "detections": sum_int([r["nsextracted"] for r in rows]),
    }


def summary_scamp(log: XmlLog) -> dict[str, Any]:
    fields_t = log.tables.get("Fields")
    groups_t = log.tables.get("FGroups")
    groups = []
    if groups_t is not None:
        for i in range(len(groups_t)):
            g: dict[str, Any] = {
                "name": plain(groups_t["Name"][i]) if "Name" in groups_t.colnames else None
            }
            for key, col in (
                ("astrom_sigma_internal", "AstromSigma_Internal"),
                ("astrom_sigma_internal_highsn", "AstromSigma_Internal_HighSN"),
                ("astrom_sigma_reference", "AstromSigma_Reference"),
                ("astrom_sigma_reference_highsn", "AstromSigma_Reference_HighSN"),
                ("astrom_offset_reference", "AstromOffset_Reference"),
            ):
                g[key] = vec(plain(groups_t[col][i])) if col in groups_t.colnames else None
            for key, col in (
                ("astrom_chi2_internal", "AstromChi2_Internal"),
                ("astrom_ndets_internal", "AstromNDets_Internal"),
                ("astrom_chi2_reference", "AstromChi2_Reference"),
                ("astrom_ndets_reference", "AstromNDets_Reference"),
                ("nfields", "NFields"),
            ):
                g[key] = scalar(groups_t[col][i]) if col in groups_t.colnames else None
            groups.append(g)

    for g in groups:
        # One field alone has no internal dispersion (SCAMP writes 0), and a group that
        # matched no reference star has no reference dispersion: not measured, not 0.
        if (g.get("nfields") or 0) < 2 or not g.get("astrom_ndets_internal"):
            g["astrom_sigma_internal"] = g["astrom_sigma_internal_highsn"] = None
        if not g.get("astrom_ndets_reference"):
            g["astrom_sigma_reference"] = g["astrom_sigma_reference_highsn"] = None
            g["astrom_offset_reference"] = None

    def worst(key: str) -> list[float] | None:
        vecs = [g[key] for g in groups if g.get(key)]
        return max(vecs, key=lambda v: quad(v) or 0.0) if vecs else None

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
                f[key] = scalar(fields_t[col][i]) if col in fields_t.colnames else None
            f["astrom_sigma_reference"] = (
                vec(plain(fields_t["AstromSigma_Reference"][i]))
                if "AstromSigma_Reference" in fields_t.colnames
                else None
            )
            fields.append(f)

    internal = worst("astrom_sigma_internal")
    reference = worst("astrom_sigma_reference")
    return {
        "nfields": len(fields),
        "ngroups": len(groups),
        "ndetect": sum_int([f["ndetect"] for f in fields]),
        "astrom_sigma_internal": internal,
        "astrom_sigma_internal_total": quad(internal),
        "astrom_sigma_reference": reference,
        "astrom_sigma_reference_total": quad(reference),
        "astrom_sigma_reference_highsn": worst("astrom_sigma_reference_highsn"),
        "as_contrast": min_of([f["as_contrast"] for f in fields]),
        "xy_contrast": min_of([f["xy_contrast"] for f in fields]),
        "fields": fields,
        "groups": groups,
    }


def summary_swarp(log: XmlLog) -> dict[str, Any]:
    inputs = log.tables.get("Input_Image_Data")
    nframes = inputs.meta.get("NFrames") if inputs is not None else None
    size = vec(log.config.get("Image_Size"))
    image_size = [int(v) for v in size] if size and any(v > 0 for v in size) else None
    if image_size is not None and len(image_size) == 1:
        image_size = image_size * 2
    return {
        "image": log.meta.get("Image_Name"),
        "weight": log.meta.get("Weight_Name"),
        "ninputs": nframes if nframes is not None else (len(inputs) if inputs is not None else 0),
        "ninputs_done": inputs.meta.get("CurrFrame") if inputs is not None else None,
        "inputs": column(inputs, "Image_Name"),
        # SWarp's XML does not record the size it chose: only a size forced with IMAGE_SIZE.
        "image_size": image_size,
        "center": vec(log.config.get("Center")),
        "noverlap_max": log.meta.get("NOverlap_Max"),
        "exptime_max": log.meta.get("ExpTime_Max"),
        "background_mean": mean(column(inputs, "Background_Mean")),
    }


#: PSFEx figures measured on the accepted stars: None when no star was accepted.
_PSFEX_MEASURED = ("fwhm_mean", "fwhm_wcs_mean", "fwhm_pixelfree_mean", "chi2_mean",
                   "ellipticity_mean", "moffat_beta_mean", "sampling_mean")


def summary_psfex(log: XmlLog) -> dict[str, Any]:
    psf = log.tables.get("PSF_Fields")
    summary = {
        "nfields": len(psf) if psf is not None else 0,
        "catalogs": column(psf, "Catalog_Name"),
        "nstars_loaded": sum_int(column(psf, "NStars_Loaded_Total")),
        "nstars_accepted": sum_int(column(psf, "NStars_Accepted_Total")),
        "fwhm_mean": mean(column(psf, "FWHM_Mean")),
        "fwhm_wcs_mean": mean(column(psf, "FWHM_WCS_Mean")),
        "fwhm_pixelfree_mean": mean(column(psf, "FWHM_PixelFree_Mean")),
        "chi2_mean": mean(column(psf, "Chi2_Mean")),
        "ellipticity_mean": mean(column(psf, "Ellipticity_Mean")),
        "moffat_beta_mean": mean(column(psf, "MoffatBeta_Mean")),
        "sampling_mean": mean(column(psf, "Sampling_Mean")),
    }
    if not summary["nstars_accepted"]:
        summary.update(dict.fromkeys(_PSFEX_MEASURED))
    return summary


#: canonical tool name -> the function making its summary from an XmlLog.
SUMMARIES: dict[str, Callable[[XmlLog], dict[str, Any]]] = {
    "sextractor": summary_sextractor,
    "scamp": summary_scamp,
    "swarp": summary_swarp,
    "psfex": summary_psfex,
}
