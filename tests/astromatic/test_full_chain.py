"""The seed's Full Example end to end with the real tools, checked against the truth.

The pipeline is built by ``sample_configs/full_example.py`` (the seed's seven steps:
SExtractor per exposure, SCAMP, SWarp, SExtractor with VIGNET, PSFEx, SExtractor PSF
photometry, save_output) on a sky from :func:`aw_tui.demo.sky.make_sky`, run through
:class:`aw_tui.Pipeline`. What a user of the chain cares about is measured against the truth:

* SCAMP takes the header WCS from ~5" off to under 0.05" rms;
* PSFEx's FWHM is within 5 % of the injected FWHM;
* MAG_PSF on the stack is within 0.02 mag rms of the true magnitudes (bright isolated stars).

Most tests share one 1024x1024 run; one (slow) runs the full 2048x2048 demo scale.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from tooling import DEMO_CONFIG, REPO, require_tool

from aw_tui.astromatic.ldac import read_head_file, read_ldac

SCRIPT = REPO / "sample_configs" / "full_example.py"
SEED_TAGS = [["step1", "SExtractor"]] * 3 + [
    ["step2", "SCAMP"], ["step3", "SWarp"], ["step4", "SExtractor"], ["step5", "PSFEx"],
    ["step6", "SExtractor"], ["step7", "save_output"],
]


def _load_full_example():
    if "full_example" in sys.modules:
        return sys.modules["full_example"]
    spec = importlib.util.spec_from_file_location("full_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # Registered so that the checkpoint (dill) refers to save_output by module name instead
    # of pickling the module by value.
    sys.modules["full_example"] = module
    spec.loader.exec_module(module)
    return module


def _require_all_tools() -> None:
    for tool in ("sextractor", "scamp", "swarp", "psfex"):
        require_tool(tool)


def run_full_example(folder: Path, size: int):
    """Build and run the Full Example on a fresh sky; return (pipeline, sky, seconds)."""
    full_example = _load_full_example()
    pipeline, sky = full_example.make_pipeline(str(folder), size=size)
    start = time.monotonic()
    pipeline.run()
    return pipeline, sky, time.monotonic() - start


# -- measurements against the truth ------------------------------------------------------------


def match_sky(ra, dec, ra_ref, dec_ref):
    """Nearest reference star to each (ra, dec): index and separation in arcsec."""
    ra0, dec0 = float(np.mean(ra_ref)), float(np.mean(dec_ref))
    cosd = np.cos(np.radians(dec0))
    x = (np.asarray(ra, float) - ra0) * cosd * 3600.0
    y = (np.asarray(dec, float) - dec0) * 3600.0
    xr = (np.asarray(ra_ref, float) - ra0) * cosd * 3600.0
    yr = (np.asarray(dec_ref, float) - dec0) * 3600.0
    d2 = (x[:, None] - xr[None, :]) ** 2 + (y[:, None] - yr[None, :]) ** 2
    idx = d2.argmin(axis=1)
    return idx, np.sqrt(d2[np.arange(len(idx)), idx])


def separation_arcsec(ra1, dec1, ra2, dec2):
    """Small-angle separations in arcsec."""
    dra = (np.asarray(ra1) - np.asarray(ra2)) * np.cos(np.radians(np.asarray(dec2)))
    return np.hypot(dra, np.asarray(dec1) - np.asarray(dec2)) * 3600.0


def rms(values) -> float:
    values = np.asarray(values, float)
    return float(np.sqrt(np.mean(values**2)))


def wcs_errors(sky, truth: Table, exposure: int, catalog: str, head: str | None):
    """World-coordinate error (arcsec) of the catalog's bright stars under the image's raw
    header WCS (``head=None``) or with SCAMP's ``.head`` applied."""
    cat = read_ldac(catalog)
    n = exposure + 1
    # Match the detections to the truth by their true pixel positions on this exposure.
    dx = cat["XWIN_IMAGE"][:, None] - truth[f"X_{n}"][None, :]
    dy = cat["YWIN_IMAGE"][:, None] - truth[f"Y_{n}"][None, :]
    d2 = dx**2 + dy**2
    idx = d2.argmin(axis=1)
    good = (d2[np.arange(len(idx)), idx] < 1.0) & (cat["FLAGS"] == 0)
    good &= truth["MAG"][idx] < 20.0
    cat, stars = cat[good], truth[idx[good]]
    header = fits.getheader(sky.exposures[exposure]["image"])
    if head is not None:
        header.update(read_head_file(head))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning about SCAMP's TAN+PV (TPV)
        wcs = WCS(header)
    ra, dec = wcs.all_pix2world(cat["XWIN_IMAGE"], cat["YWIN_IMAGE"], 1)
    return separation_arcsec(ra, dec, stars["RA"], stars["DEC"])


def isolated(truth: Table, radius: float = 4.0, dmag: float = 5.0) -> np.ndarray:
    """True for stars with no other star within ``radius`` arcsec brighter than m + dmag
    (their photometry is not a blend)."""
    ra0, dec0 = float(np.mean(truth["RA"])), float(np.mean(truth["DEC"]))
    x = (np.asarray(truth["RA"]) - ra0) * np.cos(np.radians(dec0)) * 3600.0
    y = (np.asarray(truth["DEC"]) - dec0) * 3600.0
    mag = np.asarray(truth["MAG"])
    close = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) < radius
    np.fill_diagonal(close, False)
    return ~np.any(close & (mag[None, :] < mag[:, None] + dmag), axis=1)


def psf_photometry(catalog: str, truth: Table, zero_point_shift: float = 0.0):
    """MAG_PSF minus the truth for bright (m < 19) isolated stars, and the number of such
    stars whose PSF fit failed (MAG_PSF = 99)."""
    cat = read_ldac(catalog)
    idx, sep = match_sky(cat["ALPHAPSF_SKY"], cat["DELTAPSF_SKY"], truth["RA"], truth["DEC"])
    mag = np.asarray(truth["MAG"])[idx]
    chosen = (sep < 0.5) & (cat["FLAGS"] == 0) & (mag < 19.0) & isolated(truth)[idx]
    failed = chosen & (cat["MAG_PSF"] >= 99.0)
    chosen &= ~failed
    delta = np.asarray(cat["MAG_PSF"][chosen]) + zero_point_shift - mag[chosen]
    return delta, int(failed.sum())


def config_value(path: Path, key: str) -> str:
    """A keyword's value in an AstrOmatic config file (comments stripped)."""
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split(None, 1)
        if words and words[0] == key:
            return words[1].strip() if len(words) > 1 else ""
    raise KeyError(key)


def check_against_truth(pipeline, sky) -> dict[str, float]:
    """Every truth check of the chain; returns the measured figures."""
    truth = sky.load_truth()
    steps = pipeline.steps
    assert [step.tags for step in steps] == SEED_TAGS
    assert [step.results["status"] for step in steps] == ["success"] * 9, [
        (step.step_id, step.results.get("error_msg")) for step in steps
    ]
    figures: dict[str, float] = {}

    # SCAMP: from the ~5" wrong header WCS to its solution, on every exposure.
    heads = steps[3].results["heads"]
    assert len(heads) == len(sky.exposures)
    for exposure, sextractor in enumerate(steps[:3]):
        catalog = sextractor.results["catalog"]
        before = wcs_errors(sky, truth, exposure, catalog, None)
        after = wcs_errors(sky, truth, exposure, catalog, heads[catalog])
        assert len(after) >= 30
        assert 3.0 < rms(before) < 8.0, "the header WCS should start ~5 arcsec off"
        assert rms(after) < 0.05, f"SCAMP left {rms(after):.3f} arcsec rms"
        figures[f"wcs_before_{exposure}"] = rms(before)
        figures[f"wcs_after_{exposure}"] = rms(after)
    assert steps[3].results["summary"]["astrom_sigma_reference_total"] < 0.05

    # The stack was made with SCAMP's solution: its stars sit on the truth.
    stack_catalog = steps[5].results["catalog"]
    cat = read_ldac(stack_catalog)
    idx, sep = match_sky(cat["XWIN_WORLD"], cat["YWIN_WORLD"], truth["RA"], truth["DEC"])
    bright = (sep < 1.0) & (np.asarray(truth["MAG"])[idx] < 20) & (cat["FLAGS"] == 0)
    assert bright.sum() >= 30
    assert rms(sep[bright]) < 0.1
    figures["stack_position_rms"] = rms(sep[bright])

    # PSFEx: the FWHM of the PSF model against the injected one.
    psfex = steps[6].results["summary"]
    assert abs(psfex["fwhm_mean"] / sky.fwhm_pixels - 1.0) < 0.05
    assert psfex["nstars_accepted"] >= 0.5 * psfex["nstars_loaded"] > 0
    figures["psfex_fwhm"] = psfex["fwhm_mean"]

    # PSF photometry on the stack, moved into 'catalogs' by save_output.
    final = Path(pipeline.paths["catalogs"]) / "test_psf.ldac.fits"
    zero_point = float(config_value(DEMO_CONFIG / "default.sex", "MAG_ZEROPOINT"))
    delta, failed = psf_photometry(str(final), truth, sky.zero_point - zero_point)
    assert len(delta) >= 30
    assert failed <= 0.02 * len(delta)
    assert rms(delta) < 0.02, f"MAG_PSF - truth: {rms(delta):.4f} mag rms, mean {delta.mean():.4f}"
    figures["mag_psf_rms"] = rms(delta)
    figures["mag_psf_mean"] = float(delta.mean())
    figures["mag_psf_n"] = len(delta)
    assert (Path(pipeline.paths["stacks"]) / "test_stack.fits").exists()
    assert (Path(pipeline.paths["stacks"]) / "test_stack.wtmap.fits").exists()
    return figures


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_1024(tmp_path_factory):
    _require_all_tools()
    return run_full_example(tmp_path_factory.mktemp("full1024"), 1024)


def test_the_1024_chain_meets_the_truth(chain_1024) -> None:
    pipeline, sky, _ = chain_1024
    figures = check_against_truth(pipeline, sky)
    print("1024x1024:", {k: round(v, 4) for k, v in figures.items()})


def test_each_step_keeps_its_raw_output_and_xml(chain_1024) -> None:
    pipeline, _, _ = chain_1024
    log = Path(pipeline.paths["log"])
    for step in pipeline.steps[:-1]:
        out = log / "steps" / f"{step.step_id}.out"
        assert b"\x1b[1M> " in out.read_bytes()  # the tool's own progress lines, as printed
        assert Path(step.results["xml"]).parent == log
        assert step.results["warnings_table"].meta["filename"] == step.results["xml"]
    swarp = pipeline.steps[4].results
    assert swarp["summary"]["image_size"][0] > 1024  # the dithered stack is larger
    assert len(swarp["heads_used"]) == 3


def test_demo_config_makes_mag_psf_unbiased() -> None:
    # MAG_PSF is normalised to FLUX_APER(1): the first aperture must hold the whole star
    # (the 5 px default biases MAG_PSF by +0.16 mag at this FWHM) and PSFEx must use it.
    first_aperture = float(config_value(DEMO_CONFIG / "default.sex", "PHOT_APERTURES")
                           .split(",")[0])
    fwhm = 1.0 / 0.26  # the demo sky's FWHM in pixels
    assert first_aperture >= 6 * fwhm
    assert config_value(DEMO_CONFIG / "default.psfex", "PHOTFLUX_KEY") == "FLUX_APER(1)"
    assert float(config_value(DEMO_CONFIG / "default.sex", "MAG_ZEROPOINT")) == 30.0


@pytest.mark.slow
def test_the_full_2048_three_exposure_chain(tmp_path: Path) -> None:
    _require_all_tools()
    pipeline, sky, seconds = run_full_example(tmp_path, 2048)
    assert sky.size == 2048 and len(sky.exposures) == 3
    figures = check_against_truth(pipeline, sky)
    print(f"2048x2048 chain {seconds:.1f} s:", {k: round(v, 4) for k, v in figures.items()})
    assert figures["mag_psf_n"] >= 80


def test_the_full_example_script_runs(tmp_path: Path) -> None:
    _require_all_tools()
    folder = tmp_path / "full-example"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), "--size", "512"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("step ")]
    names = [ln.split()[2] for ln in lines]
    assert names == ["run_sex"] * 3 + ["run_scamp", "run_swarp", "run_sex", "run_psfex",
                                       "run_sex", "save_output"]
    assert all(ln.split()[3] == "success" for ln in lines)
    assert re.search(r"fwhm_mean=3\.\d+", proc.stdout)
    assert re.search(r"astrom_sigma_reference_total=0\.0\d+", proc.stdout)
    assert (folder / "stacks" / "test_stack.fits").exists()
    assert (folder / "catalogs" / "test_psf.ldac.fits").exists()
    assert len(read_ldac(folder / "catalogs" / "test_psf.ldac.fits")) > 50
    assert os.listdir(folder / "images")


def test_a_missing_reference_catalog_stops_the_chain_before_stacking(tmp_path: Path) -> None:
    _require_all_tools()
    full_example = _load_full_example()
    pipeline, sky = full_example.make_pipeline(str(tmp_path), size=512)
    os.unlink(sky.reference)  # SCAMP cannot read its reference catalog
    with pytest.raises(Exception, match="No such catalog"):
        pipeline.run()
    assert pipeline.steps[3].results["status"] == "error"
    assert pipeline.steps[4].results is None  # nothing is stacked after a failed SCAMP
