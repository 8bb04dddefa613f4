"""One short line from a step's ``summary`` dict, for batch logs, ``status`` and the TUI.

The summaries themselves are made from the XML logs by :mod:`aw_tui.astromatic.xmlsummaries`;
this module stays free of numpy and astropy, so ``--batch``, ``status`` and the TUI start
fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "format_summary", "step_label"]


#: How a measurement the tool did not make is printed.
MISSING = "n/a"


def _num(value: Any, fmt: str) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        return format(float(value), fmt)
    except (TypeError, ValueError):
        return None


def _count(value: Any) -> str:
    """A count, or ``n/a`` when unknown (never ``None``, never a made-up 0)."""
    if isinstance(value, bool) or value is None:
        return MISSING
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return MISSING


def _sextractor_parts(summary: dict[str, Any]) -> list[str]:
    parts = [f"{_count(summary.get('detections'))} det"]
    exts = summary.get("extensions") or []
    if exts and isinstance(exts[0], dict):
        bkg = _num(exts[0].get("background_mean"), ".1f")
        rms = _num(exts[0].get("background_stdev"), ".1f")
        if bkg and rms:
            parts.append(f"bkg {bkg}±{rms}")
    return parts


def _scamp_parts(summary: dict[str, Any]) -> list[str]:
    internal = _num(summary.get("astrom_sigma_internal_total"), ".3f")
    reference = _num(summary.get("astrom_sigma_reference_total"), ".3f")
    contrast = _num(summary.get("xy_contrast"), ".1f")
    return [
        "astrom",
        f'int {internal}"' if internal else f"int {MISSING}",
        f'ref {reference}"' if reference else f"ref {MISSING}",
        f"xy-contrast {contrast if contrast else MISSING}",
    ]


def _psfex_parts(summary: dict[str, Any]) -> list[str]:
    parts = [f"{_count(summary.get('nstars_accepted'))}/{_count(summary.get('nstars_loaded'))} "
             "stars"]
    fwhm = _num(summary.get("fwhm_mean"), ".2f")
    parts.append(f"FWHM {fwhm} px" if fwhm else f"FWHM {MISSING}")
    return parts


def format_summary(summary: dict[str, Any] | None) -> str:
    """A few figures a user scans for: detections, astrometric sigma, stack size, FWHM.

    A measurement the tool did not make (``None`` in the summary) is printed ``n/a``, never
    ``0`` or ``None``. Unknown keys are ignored, so any step function may return a
    ``summary``; plain scalar values of a custom step are shown as ``key=value``.
    """
    if not summary:
        return ""
    if "frames" in summary and isinstance(summary["frames"], dict):
        parts = [f"[{frame}] {format_summary(s)}" for frame, s in summary["frames"].items()]
        return "  ".join(p for p in parts if p.strip())
    parts: list[str] = []
    if "detections" in summary:
        parts += _sextractor_parts(summary)
    if "astrom_sigma_reference_total" in summary or "astrom_sigma_internal_total" in summary:
        parts += _scamp_parts(summary)
    if "ninputs" in summary:
        size = summary.get("image_size")
        if isinstance(size, (list, tuple)) and len(size) == 2:
            parts.append(f"{size[0]}x{size[1]} px")
        done = summary.get("ninputs_done")
        parts.append(f"{_count(done if done is not None else summary['ninputs'])} inputs")
    if "nstars_accepted" in summary:
        parts += _psfex_parts(summary)
    if not parts:
        for key, value in summary.items():
            if isinstance(value, (int, float, str, bool)) and len(parts) < 4:
                parts.append(f"{key}={value}")
    return "  ".join(parts)


def step_label(tags: list[str] | None, func: str | None) -> str:
    """``'step2 SCAMP'`` from the tags, else the function name."""
    if tags:
        return " ".join(tags)
    return func or "?"
