"""A verdict for every tool step: ``ok``, ``warn`` or ``bad``, with its reasons.

Built-in rules per tool read the run's XML log (its summary, configuration and warnings) and
what the tool printed. A rule either finds an *error* (the step's status becomes ``error``
even though the tool exited 0: the result is not usable) or a *warning* (the step succeeded,
but a human should look). The rules are listed in docs/verdicts.md; keep that table in step
with :data:`THRESHOLDS` and the functions here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aw_tui.astromatic.diagnose import clean_text

if TYPE_CHECKING:
    from aw_tui.astromatic.xmllog import XmlLog

__all__ = ["THRESHOLDS", "VERDICTS", "Judgement", "judge", "verdict_of", "worst_verdict"]

#: The verdicts, best first.
VERDICTS = ("ok", "warn", "bad")

#: Bounds of the warning rules (documented in docs/verdicts.md).
THRESHOLDS = {
    # SCAMP: a field's AS_Contrast or XY_Contrast below this is a doubtful match.
    "scamp_min_contrast": 2.0,
    # SCAMP: fewer reference detections matched in a field group than this.
    "scamp_min_reference_matches": 10,
    # PSFEx: fewer accepted PSF stars than this.
    "psfex_min_stars": 20,
}

_WARNING_LINE = re.compile(r"WARNING:\s*(.+)")
#: Without ``-c`` a tool looks for ``default.<tool>`` and says so: the normal way to run on
#: its internal defaults, not a warning.
_NO_DEFAULT_CONFIG = re.compile(r"default\.\w+ not found, using internal defaults")


@dataclass
class Judgement:
    """What the rules found: ``errors`` make the step fail, ``warnings`` make it ``warn``."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        """Add a warning unless the same text is already there."""
        text = text.strip()
        key = _key(text)
        if text and not any(_same_warning(key, _key(w)) for w in self.warnings):
            self.warnings.append(text)


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _same_warning(new: str, known: str) -> bool:
    """Whether ``new`` repeats ``known``: the same text, a part of it, or the same words with
    some cut short (the XML logs cut long file names: ``.../0000_206401.f has flux scale``
    repeats ``.../0000_206401.fits has flux scale`` from the tool's output)."""
    if new == known or new in known:
        return True
    words, known_words = new.split(" "), known.split(" ")
    return len(words) == len(known_words) and all(
        k.startswith(w) for w, k in zip(words, known_words, strict=True))


def verdict_of(status: str, warnings: list[str]) -> str:
    """``bad`` for a failed step, else ``warn`` with warnings, else ``ok``."""
    if status != "success":
        return "bad"
    return "warn" if warnings else "ok"


def worst_verdict(verdicts: list[str]) -> str:
    """The worst of several verdicts (``ok`` for none)."""
    known = [v for v in verdicts if v in VERDICTS]
    return max(known, key=VERDICTS.index) if known else "ok"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _sextractor(summary: dict[str, Any], text: str, found: Judgement) -> None:
    detections = summary.get("detections")
    if detections == 0:
        found.warn("SExtractor: 0 detections (check DETECT_THRESH, the image and its weight map)")
    if "mainly constant data" in text:
        found.warn("SExtractor: the image contains mainly constant data; the background it "
                   "reports is SExtractor's fallback, not a measurement")


def _scamp(summary: dict[str, Any], log: XmlLog | None, found: Judgement) -> None:
    uses_reference = True
    if log is not None:
        catalog = str(log.config.get("AstRef_Catalog") or "").strip().upper()
        uses_reference = catalog not in ("NONE",)
    fields = [f for f in summary.get("fields") or [] if isinstance(f, dict)]
    for group in summary.get("groups") or []:
        name = group.get("name") or "?"
        members = [str(f.get("catalog")) for f in fields if f.get("group") == _group_number(name)]
        where = f"field group {name}" + (f" ({', '.join(members)})" if members else "")
        matched = _number(group.get("astrom_ndets_reference"))
        if uses_reference and matched is not None:
            if matched == 0:
                found.errors.append(
                    f"SCAMP matched 0 reference detections in {where}: the reference catalog "
                    "does not overlap the field, or the header WCS is too far off (check "
                    "ASTREF_CATALOG / ASTREFCAT_NAME, the images' CRVAL/CD, and widen "
                    "POSITION_MAXERR)")
            elif matched < THRESHOLDS["scamp_min_reference_matches"]:
                found.warn(f"SCAMP matched only {int(matched)} reference detections in {where}")
    unsolved = [f for f in fields if not _number(f.get("xy_contrast"))
                and not _number(f.get("as_contrast"))]
    if fields and len(unsolved) == len(fields):
        found.errors.append(
            f"SCAMP found no astrometric solution in any of its {len(fields)} field(s) "
            f"(contrast 0 in {', '.join(str(f.get('catalog')) for f in unsolved)})")
    else:
        for f in unsolved:
            found.warn(f"SCAMP found no astrometric solution for {f.get('catalog')} (contrast 0)")
    low = THRESHOLDS["scamp_min_contrast"]
    for f in fields:
        if f in unsolved:
            continue
        for key in ("as_contrast", "xy_contrast"):
            value = _number(f.get(key))
            if value is not None and value < low:
                found.warn(f"SCAMP: low {key.replace('_', '-')} {value:.2f} (< {low}) for "
                           f"{f.get('catalog')}: the match may be wrong")


def _group_number(name: str) -> int | None:
    digits = "".join(c for c in str(name) if c.isdigit())
    return int(digits) if digits else None


def _psfex(summary: dict[str, Any], log: XmlLog | None, found: Judgement) -> None:
    accepted = _number(summary.get("nstars_accepted"))
    if accepted is None:
        return
    if accepted == 0:
        loaded = summary.get("nstars_loaded")
        found.errors.append(
            f"PSFEx accepted no PSF star (of {loaded if loaded is not None else 'n/a'} loaded): "
            "check SAMPLE_FWHMRANGE, SAMPLE_MINSN, SAMPLE_MAXELLIP and that the catalog has "
            "VIGNET and unsaturated stars")
        return
    if accepted < THRESHOLDS["psfex_min_stars"]:
        found.warn(f"PSFEx accepted only {int(accepted)} PSF stars (< "
                   f"{THRESHOLDS['psfex_min_stars']}): the PSF model is poorly constrained")
    fwhm = _number(summary.get("fwhm_mean"))
    window = log.config.get("Sample_FWHMRange") if log is not None else None
    if fwhm is not None and isinstance(window, list) and len(window) == 2:
        low, high = (_number(v) for v in window)
        if low is not None and high is not None and not low <= fwhm <= high:
            found.warn(f"PSFEx: FWHM {fwhm:.2f} px is outside SAMPLE_FWHMRANGE "
                       f"{low:g},{high:g}")


def judge(
    code: str, summary: dict[str, Any] | None, output: str, log: XmlLog | None = None,
    notes: list[str] | None = None, config_file: str | None = None,
) -> Judgement:
    """Apply the built-in rules to one run of ``code``.

    Parameters
    ----------
    code : str
        Canonical tool code (``'SExtractor'``, ``'SCAMP'``, ``'SWarp'``, ``'PSFEx'``).
    summary : dict or None
        The run's summary (from its XML log).
    output : str
        What the tool printed (escapes are stripped here).
    log : XmlLog, optional
        The parsed XML log (configuration and warnings).
    notes : list of str, optional
        Warnings found while building the command (e.g. params that replaced a
        PARAMETERS_NAME).
    config_file : str, optional
        The ``-c`` file given; without one, the tool's "default.<tool> not found, using
        internal defaults" is expected and not a warning.

    Returns
    -------
    Judgement
        Every ``WARNING:`` line of the output and every XML warning is a warning, with its
        text; then the tool's own rules.
    """
    found = Judgement()
    for note in notes or []:
        found.warn(note)
    text = clean_text(output)
    messages = [m.group(1).strip() for m in _WARNING_LINE.finditer(text)]
    if log is not None:
        messages += [clean_text(m) for m in log.warning_messages]
    for message in messages:
        if config_file is None and _NO_DEFAULT_CONFIG.search(message):
            continue
        found.warn(f"{code}: {message}")
    summary = summary or {}
    if code == "SExtractor":
        _sextractor(summary, text, found)
    elif code == "SCAMP":
        _scamp(summary, log, found)
    elif code == "PSFEx":
        _psfex(summary, log, found)
    return found
