"""``aw-tui report``: one self-contained HTML page of a run, worth looking at.

The page holds the run's steps (status, verdict, warnings, duration, summary), a plot per
group of like steps (every numeric summary field per member: FWHM, ellipticity, detections,
background per exposure...), SCAMP's internal and reference dispersion, the PSFEx model of
each PSF step and the stack as a scaled thumbnail (zscale-like limits, asinh stretch). Images
are embedded as ``data:`` PNGs: the page needs no network and no other file.

The plots need matplotlib, an optional extra (``pip install 'aw-tui[report]'``); without it
:func:`write_report` raises :class:`ReportError` saying so.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import time
from collections import defaultdict
from typing import Any

import numpy as np

from aw_tui.astromatic.summaries import format_summary
from aw_tui.base.atomic import atomic_write_text
from aw_tui.base.errors import AwTuiError
from aw_tui.report.results import results
from aw_tui.report.stretch import stretch
from aw_tui.rundir.journal import RunState, read_events

__all__ = ["ReportError", "write_report"]

#: Numeric summary fields not worth a plot (bookkeeping).
_NOT_PLOTTED = {"index", "step_id", "n_warnings", "nextensions", "nfields", "ngroups",
                "ninputs", "ninputs_done"}


class ReportError(AwTuiError):
    """The report cannot be made (matplotlib missing, no run)."""


def _pyplot() -> Any:
    try:
        import matplotlib  # lazy: an optional extra, only the report needs it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # lazy: as above
    except ImportError as exc:
        raise ReportError("the report's plots need matplotlib, which is not installed",
                          "pip install 'aw-tui[report]' (or pip install matplotlib)") from exc
    return plt


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    figure.clf()
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image(path: str, plt: Any, title: str, max_pixels: int = 800) -> str | None:
    from astropy.io import fits  # lazy: slow import

    try:
        with fits.open(path, memmap=True) as hdus:
            hdu = next(h for h in hdus if h.is_image and (h.header.get("NAXIS") or 0) >= 2)
            data = np.asarray(hdu.data, dtype=float)
    except (OSError, StopIteration, ValueError, TypeError):
        return None
    while data.ndim > 2:
        data = data[0]
    step = max(1, math.ceil(max(data.shape) / max_pixels))
    figure = plt.figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.imshow(stretch(data[::step, ::step]), origin="lower", cmap="gray")
    axes.set_title(title, fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    return _png(figure)


def _psf_model(path: str, plt: Any, title: str) -> str | None:
    from astropy.io import fits  # lazy: slow import

    try:
        with fits.open(path) as hdus:
            model = np.asarray(hdus[1].data["PSF_MASK"][0], dtype=float)
    except (OSError, IndexError, KeyError, ValueError):
        return None
    while model.ndim > 2:
        model = model[0]  # the constant term of the PSF's variation with position
    figure = plt.figure(figsize=(3.5, 3.5))
    axes = figure.add_subplot()
    axes.imshow(stretch(model), origin="lower", cmap="viridis")
    axes.set_title(title, fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    return _png(figure)


def _group_plot(label: str, rows: list[dict[str, Any]], fields: list[str], plt: Any) -> str:
    columns = min(3, len(fields))
    lines = math.ceil(len(fields) / columns)
    figure = plt.figure(figsize=(4 * columns, 2.6 * lines))
    for n, name in enumerate(fields):
        axes = figure.add_subplot(lines, columns, n + 1)
        values = [row.get(name) for row in rows]
        xs = [i for i, v in enumerate(values) if isinstance(v, int | float)]
        axes.plot(xs, [values[i] for i in xs], "o-", color="tab:blue")
        outliers = [i for i in xs if rows[i].get(f"{name}_outlier")]
        axes.plot(outliers, [values[i] for i in outliers], "o", color="tab:red")
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("member", fontsize=8)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.tick_params(labelsize=7)
    figure.suptitle(label, fontsize=10)
    figure.tight_layout()
    return _png(figure)


def _scamp_plot(summary: dict[str, Any], plt: Any) -> str | None:
    internal = summary.get("astrom_sigma_internal")
    reference = summary.get("astrom_sigma_reference")
    if not isinstance(internal, list) or not isinstance(reference, list):
        return None
    figure = plt.figure(figsize=(4.5, 3))
    axes = figure.add_subplot()
    width = 0.35
    axes.bar([0 - width / 2, 1 - width / 2], [v * 1000 for v in internal], width,
             label="internal")
    axes.bar([0 + width / 2, 1 + width / 2], [v * 1000 for v in reference], width,
             label="reference")
    axes.set_xticks([0, 1], ["axis 1", "axis 2"])
    axes.set_ylabel("dispersion (mas)")
    axes.set_title("SCAMP astrometric dispersion", fontsize=9)
    axes.legend(fontsize=8)
    return _png(figure)


def _rows(table: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(len(table)):
        row = {}
        for name in table.colnames:
            column = table[name]
            masked = getattr(column, "mask", None) is not None and bool(column.mask[i])
            value = None if masked else column[i]
            row[name] = value.item() if hasattr(value, "item") else value
        rows.append(row)
    return rows


def _existing(path: str, log_dir: str) -> str | None:
    """``path``, or a file of the same name under the project's folder (a product moved by a
    later step, as the demo's save_output moves the stack)."""
    if os.path.isfile(path):
        return path
    root = os.path.dirname(os.path.dirname(os.path.abspath(log_dir)))
    name = os.path.basename(path)
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        if folder[len(root):].count(os.sep) > 3:
            subfolders[:] = []
        if name in files:
            return os.path.join(folder, name)
    return None


def _psf_file(summary: dict[str, Any], images: list[str]) -> str | None:
    for catalog in summary.get("catalogs") or []:
        stem = os.path.splitext(os.path.basename(str(catalog)))[0]
        for folder in {os.path.dirname(p) for p in images}:
            candidate = os.path.join(folder, f"{stem}.psf")
            if os.path.isfile(candidate):
                return candidate
    return None


def write_report(log_dir: str, path: str, title: str | None = None) -> str:
    """Write the HTML report of the newest run in ``log_dir`` to ``path``; return ``path``.

    Raises
    ------
    ReportError
        Without matplotlib, or when ``log_dir`` holds no run.
    """
    plt = _pyplot()
    events = read_events(log_dir)
    state = RunState.from_events(events)
    if not state.run_steps:
        raise ReportError(f"{log_dir} holds no run yet", "run the project first")
    table = results(log_dir)
    rows = _rows(table)
    summaries = {sid: state.step(sid).summary or {} for sid in state.run_steps}
    figures: list[tuple[str, str]] = []
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["label"]].append(row)
    for label, members in groups.items():
        fields = [name for name in table.colnames
                  if name not in _NOT_PLOTTED and not name.endswith("_outlier")
                  and table[name].dtype.kind in "if"
                  and any(isinstance(m.get(name), int | float) for m in members)]
        if len(members) >= 2 and fields:
            figures.append((f"{label}: per member", _group_plot(label, members, fields[:9], plt)))
    images = [str(s["image"]) for s in summaries.values() if isinstance(s.get("image"), str)]
    for sid in state.run_steps:
        step, summary = state.step(sid), summaries[sid]
        if step.func == "SCAMP" and (png := _scamp_plot(summary, plt)):
            figures.append((f"step {sid} SCAMP", png))
        psf = _psf_file(summary, images) if step.func == "PSFEx" else None
        if psf and (png := _psf_model(psf, plt, f"PSFEx model {os.path.basename(psf)}")):
            figures.append((f"step {sid} PSFEx model", png))
        stack = summary.get("image") if step.func == "SWarp" else None
        stack = _existing(stack, log_dir) if isinstance(stack, str) else None
        if stack and (png := _image(stack, plt, os.path.basename(stack))):
            figures.append((f"step {sid} SWarp stack", png))
    page = _page(title or state.pipeline_name or "aw-tui run", state, rows, figures, log_dir)
    atomic_write_text(path, page)
    return path


def _cell(value: Any) -> str:
    if value is None or value == "":
        return '<td class="na">n/a</td>'
    if isinstance(value, float):
        return f"<td>{value:.4g}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _page(title: str, state: RunState, rows: list[dict[str, Any]],
          figures: list[tuple[str, str]], log_dir: str) -> str:
    summaries = {sid: format_summary(state.step(sid).summary) for sid in state.run_steps}
    counts = state.counts()
    head = ["#", "step", "status", "verdict", "warnings", "duration (s)", "summary"]
    body = []
    for row in rows:
        verdict = row.get("verdict") or ""
        body.append(
            f'<tr class="{html.escape(str(row["status"]))} v-{html.escape(verdict)}">'
            + _cell(row["index"]) + _cell(row["label"]) + _cell(row["status"])
            + _cell(row.get("verdict")) + _cell(row.get("first_warning") or (
                "" if not row.get("n_warnings") else f"{row['n_warnings']} warning(s)"))
            + _cell(row.get("duration")) + _cell(summaries.get(row["step_id"])) + "</tr>")
    images = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>" for name, png in figures)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
tr.error td {{ background: #fdd; }} tr.v-warn td {{ background: #ffd; }}
td.na {{ color: #999; }}
figure {{ display: inline-block; margin: 1em; vertical-align: top; }}
figcaption {{ font-size: 0.8em; color: #555; text-align: center; }}
</style></head>
<body data-figures="{len(figures)}">
<h1>{html.escape(title)}</h1>
<p>Run state: <b>{html.escape(state.state)}</b> ({html.escape(summary)}).
Run directory: <code>{html.escape(log_dir)}</code>. Written {time.strftime("%Y-%m-%d %H:%M")}.</p>
<h2>Steps</h2>
<table><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>
{"".join(body)}
</table>
<h2>Plots</h2>
{images}
<script>
// For a reader's check only: how many plots the browser decoded (no network is used).
window.addEventListener("load", () => {{
  const shown = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-figures-shown", String(shown));
}});
</script>
</body></html>
"""
