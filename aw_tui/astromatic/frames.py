"""Runs per FITS extension: ``name[n]`` names, per-frame file names, combined results."""

from __future__ import annotations

import os
import shutil
import warnings
from typing import Any

from aw_tui.astromatic.verdicts import worst_verdict

__all__ = [
    "combine_frame_results",
    "frame_file_name",
    "frame_xml_name",
    "link_original_xml_name",
    "original_frame_xml_name",
    "split_frame",
]


def split_frame(name: str) -> tuple[str, str]:
    """``('a.fits', '[1]')`` for ``'a.fits[1]'``; ``(name, '')`` without a frame."""
    if name.endswith("]") and "[" in name:
        base, _, frame = name.rpartition("[")
        if frame[:-1].isdigit():
            return base, f"[{frame}"
    return name, ""


def frame_xml_name(xml_name: str, frame: str) -> str:
    """``<step>.<tool>.<frame>.log.xml`` for ``<step>.<tool>.log.xml``."""
    if xml_name.endswith(".log.xml"):
        return f"{xml_name[: -len('.log.xml')]}.{frame}.log.xml"
    root, ext = os.path.splitext(xml_name)
    return f"{root}.{frame}{ext}"


def original_frame_xml_name(xml_name: str, frame: str) -> str:
    """The original astromatic_wrapper's name of a frame's log: ``<step>.<tool>.log-<frame>.xml``
    for ``<step>.<tool>.log.xml`` (its last ``.xml`` becomes ``-<frame>.xml``)."""
    root, dot, tail = xml_name.rpartition(".xml")
    return f"{root}-{frame}.xml{tail}" if dot else f"{xml_name}-{frame}"


def link_original_xml_name(written: str | None, xml_name: str, frame: str) -> str | None:
    """Give the log ``written`` for ``frame`` the original's name as well (a hard link, else a
    copy), so scripts that open ``<step>.<tool>.log-<frame>.xml`` find it; that name, or None
    when there is no log."""
    if not written or not os.path.isfile(written):
        return None
    alias = original_frame_xml_name(xml_name, frame)
    if os.path.abspath(alias) == os.path.abspath(written):
        return alias
    try:
        if os.path.lexists(alias):
            os.unlink(alias)
        os.link(written, alias)
    except OSError:
        try:
            shutil.copyfile(written, alias)
        except OSError:
            return None
    return alias


def frame_file_name(path: str, frame: str) -> str:
    """Insert ``.<frame>`` before a file's extension(s)."""
    root, ext = os.path.splitext(path)
    return f"{root}.{frame}{ext}"


def combine_frame_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result for several per-frame runs: first error wins, worst verdict, warnings
    listed (``frame <n>: `` before each) and their tables stacked."""
    from astropy.table import Table, vstack  # lazy: slow import

    if not results:
        return {"status": "success", "verdict": "ok", "warnings": [], "warnings_table": None,
                "summary": {}, "frames": []}
    tables = []
    for result in results:
        table = result.get("warnings_table")
        if isinstance(table, Table):
            table = table.copy()
            table["frame"] = [str(result["frame"])] * len(table)
            tables.append(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stacked = vstack(tables, metadata_conflicts="silent") if tables else None
    if stacked is not None:
        stacked.meta["filename"] = ",".join(
            r.get("xml") or "" for r in results if r.get("xml")
        )
    errors = [r for r in results if r["status"] == "error"]
    combined = dict(results[-1])
    combined.update(
        status="error" if errors else "success",
        error_msg=(
            f"frame {errors[0]['frame']}: {errors[0]['error_msg']}" if errors else None
        ),
        verdict=worst_verdict([r.get("verdict", "ok") for r in results]),
        warnings=[f"frame {r['frame']}: {w}" if len(results) > 1 else w
                  for r in results for w in r.get("warnings") or []],
        warnings_table=stacked,
        argv=[r["argv"] for r in results] if len(results) > 1 else results[0]["argv"],
        duration=sum(r.get("duration") or 0.0 for r in results),
        returncode=max((r.get("returncode") or 0 for r in results), key=abs),
        frames=[r["frame"] for r in results],
        xml=[r.get("xml") for r in results] if len(results) > 1 else results[0].get("xml"),
    )
    if len(results) > 1:
        combined["summary"] = {"frames": {r["frame"]: r.get("summary", {}) for r in results}}
    return combined
