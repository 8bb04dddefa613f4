"""One short line from a step's ``summary`` dict, for batch logs, ``status`` and the TUI."""

from __future__ import annotations

from typing import Any

__all__ = ["format_summary", "step_label"]


def _num(value: Any, fmt: str) -> str | None:
    try:
        return format(float(value), fmt)
    except (TypeError, ValueError):
        return None


def format_summary(summary: dict[str, Any] | None) -> str:
    """A few figures a user scans for: detections, astrometric sigma, stack size, FWHM.

    Unknown keys are ignored, so any step function may return a ``summary``; plain scalar
    values of a custom step are shown as ``key=value``.
    """
    if not summary:
        return ""
    if "frames" in summary and isinstance(summary["frames"], dict):
        parts = [f"[{frame}] {format_summary(s)}" for frame, s in summary["frames"].items()]
        return "  ".join(p for p in parts if p.strip())
    parts: list[str] = []
    if "detections" in summary:
        parts.append(f"{summary['detections']} det")
        exts = summary.get("extensions") or []
        if exts and isinstance(exts[0], dict):
            bkg = _num(exts[0].get("background_mean"), ".1f")
            rms = _num(exts[0].get("background_stdev"), ".1f")
            if bkg and rms:
                parts.append(f"bkg {bkg}±{rms}")
    if "astrom_sigma_reference_total" in summary or "astrom_sigma_internal_total" in summary:
        internal = _num(summary.get("astrom_sigma_internal_total"), ".3f")
        reference = _num(summary.get("astrom_sigma_reference_total"), ".3f")
        parts.append("astrom")
        if internal:
            parts.append(f'int {internal}"')
        if reference:
            parts.append(f'ref {reference}"')
        contrast = _num(summary.get("xy_contrast"), ".1f")
        if contrast:
            parts.append(f"xy-contrast {contrast}")
    if "ninputs" in summary:
        size = summary.get("image_size")
        if isinstance(size, (list, tuple)) and len(size) == 2:
            parts.append(f"{size[0]}x{size[1]} px")
        parts.append(f"{summary.get('ninputs_done', summary['ninputs'])} inputs")
    if "nstars_accepted" in summary:
        parts.append(
            f"{summary['nstars_accepted']}/{summary.get('nstars_loaded', '?')} stars"
        )
        fwhm = _num(summary.get("fwhm_mean"), ".2f")
        if fwhm:
            parts.append(f"FWHM {fwhm} px")
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
