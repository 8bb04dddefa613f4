"""paths_in: which strings of a step's kwargs name files (the provenance's candidates)."""

from __future__ import annotations

import os

from aw_tui.rundir.provenance import paths_in


def test_names_frames_words_and_existing_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cat.fits").write_text("x")
    kwargs = {
        "files": {"image": "/data/img.fits[2]", "weight": "/data/img.wtmap.fits"},
        "config": {"CATALOG_NAME": "cat.fits", "CATALOG_TYPE": "FITS_LDAC", "N": 3},
        "params": ["NUMBER", "FLUX_AUTO", "/data/img.fits", ""],
        "tuple": ("sub/dir", "x\ny.fits", "[1]"),
    }
    found = paths_in(kwargs, exist=False)
    assert found == ["/data/img.fits", "/data/img.wtmap.fits", str(tmp_path / "cat.fits"),
                     str(tmp_path / "sub" / "dir")]
    assert paths_in(kwargs) == [os.path.join(str(tmp_path), "cat.fits")]
    assert paths_in(kwargs, limit=2, exist=False) == ["/data/img.fits", "/data/img.wtmap.fits"]
