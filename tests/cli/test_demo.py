"""The README's demo command, run headless, and its products checked against the truth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from tooling import require_tool

from aw_tui.astromatic.ldac import read_ldac
from aw_tui.rundir.journal import RunState, read_events

ROOT = Path(__file__).resolve().parents[2]


def _require_all_tools() -> None:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)


def _check_products(folder: Path) -> None:
    truth_meta = json.loads((folder / "images" / "truth.json").read_text())
    state = RunState.from_events(read_events(str(folder / "work" / "log")))
    assert state.state == "finished"
    assert all(state.step(s).status == "success" for s in state.run_steps)
    by_func = {state.step(s).func: state.step(s).summary for s in state.run_steps}
    # SCAMP brought the deliberately wrong header WCS (~5") to the reference within 0.05".
    assert by_func["SCAMP"]["astrom_sigma_reference_total"] < 0.05
    # PSFEx's FWHM within 5% of the injected one.
    fwhm = by_func["PSFEx"]["fwhm_mean"]
    assert abs(fwhm - truth_meta["fwhm_pixels"]) / truth_meta["fwhm_pixels"] < 0.05
    # PSF photometry on the stack against the truth list, bright stars.
    catalog = read_ldac(folder / "work" / "catalogs" / "test_psf.ldac.fits")
    truth = Table.read(folder / "images" / "truth.fits")
    good = (catalog["FLAGS"] == 0) & (catalog["MAG_PSF"] < 90)
    catalog = catalog[good]
    measured = SkyCoord(catalog["ALPHAPSF_SKY"], catalog["DELTAPSF_SKY"], unit="deg")
    true = SkyCoord(truth["RA"], truth["DEC"], unit="deg")
    index, separation, _ = measured.match_to_catalog_sky(true)
    matched = separation.arcsec < 0.3
    bright = matched & (np.asarray(truth["MAG"])[index] < 19)
    assert bright.sum() >= 15
    delta = np.asarray(catalog["MAG_PSF"])[bright] - np.asarray(truth["MAG"])[index][bright]
    rms = float(np.sqrt(np.mean((delta - np.median(delta)) ** 2)))
    assert rms < 0.02, rms
    assert abs(float(np.median(delta))) < 0.05
    # The products were moved into place by the save_output step.
    assert (folder / "work" / "stacks" / "test_stack.fits").exists()


def test_readme_demo_command_in_batch_form(tmp_path):
    """`make demo-batch` (the README's demo command, headless), on small images."""
    _require_all_tools()
    if shutil.which("make") is None:
        raise AssertionError("make is needed for the README's commands")
    folder = tmp_path / "demo"
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        ["make", "-C", str(ROOT), "demo-batch", f"DEMO_DIR={folder}", "DEMO_SIZE=1024",
         f"VENV={Path(sys.executable).parent.parent}"],
        capture_output=True, text=True, timeout=600, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "aw-tui: done, 9 steps" in proc.stdout
    _check_products(folder)
    # Running the same command again resumes nothing and keeps the products.
    again = subprocess.run(
        [sys.executable, "-m", "aw_tui", str(folder / "project.toml"), "--batch", "--resume"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0, again.stderr
    assert "started" not in again.stdout
