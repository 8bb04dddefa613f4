"""``aw-tui init``'s writer on the demo's images: what it writes is accepted and runs.

The real tools write the config files (``-dd``) and run the project; the products are checked
against the demo's truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.table import Table
from tooling import require_tool

from aw_tui.project.scaffold import InitError, init_project, survey, write_project
from aw_tui.rundir.journal import RunState, read_events


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("source-extractor", "scamp", "SWarp", "psfex"):
        require_tool(tool)
    folder = tmp_path_factory.mktemp("init") / "demo"
    proc = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(folder), "--size", "512",
                           "--no-run"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return folder


def _aw(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aw_tui", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_images_only_gives_one_sextractor_step_per_image_that_runs(demo: Path,
                                                                   tmp_path: Path) -> None:
    written = init_project(str(tmp_path / "mine"), str(demo / "images" / "*.fits"),
                           weights=".wtmap.fits", flags=".dqmask.fits")
    project = tmp_path / "mine" / "project.toml"
    assert str(project) in written and (tmp_path / "mine" / "config" / "default.sex").exists()
    assert not (tmp_path / "mine" / "config" / "default.scamp").exists()
    check = _aw("check", str(project))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "3 steps" in check.stdout  # truth.fits (a table) and reference.fits are not images
    run = _aw(str(project), "--batch")
    assert run.returncode == 0, run.stdout + run.stderr
    for image in ("206401", "206402", "206403"):
        catalog = Table.read(tmp_path / "mine" / "work" / "temp" / f"{image}.cat", hdu=2)
        assert len(catalog) > 50 and "XWIN_WORLD" in catalog.colnames


def test_with_a_reference_the_full_chain_runs_and_matches_the_truth(demo: Path,
                                                                    tmp_path: Path) -> None:
    init_project(str(tmp_path / "chain"), str(demo / "images" / "2064*.fits"),
                 weights=".wtmap.fits", flags=".dqmask.fits",
                 reference=str(demo / "images" / "reference.fits"))
    project = tmp_path / "chain" / "project.toml"
    check = _aw("check", str(project))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "8 steps" in check.stdout
    run = _aw(str(project), "--batch")
    assert run.returncode == 0, run.stdout + run.stderr
    state = RunState.from_events(read_events(str(tmp_path / "chain" / "work" / "log")))
    summaries = {state.step(s).func: state.step(s).summary for s in state.run_steps}
    truth = json.loads((demo / "images" / "truth.json").read_text())
    assert summaries["SCAMP"]["astrom_sigma_reference_total"] < 0.05
    fwhm = summaries["PSFEx"]["fwhm_mean"]
    assert abs(fwhm - truth["fwhm_pixels"]) / truth["fwhm_pixels"] < 0.05
    assert (tmp_path / "chain" / "work" / "catalogs" / "stack_psf.ldac.fits").exists()


def test_config_files_are_the_tools_defaults_with_the_chains_keywords_set(demo: Path,
                                                                         tmp_path: Path) -> None:
    init_project(str(tmp_path / "c"), str(demo / "images" / "2064*.fits"),
                 reference=str(demo / "images" / "reference.fits"))
    scamp = (tmp_path / "c" / "config" / "default.scamp").read_text()
    assert "Default configuration file for SCAMP" in scamp  # written by the binary
    lines = {line.split()[0]: line for line in scamp.splitlines()
             if line.strip() and not line.startswith(("#", " "))}
    assert lines["ASTREF_CATALOG"].split()[1] == "FILE" and "aw-tui init:" in lines[
        "ASTREF_CATALOG"]
    assert lines["CHECKPLOT_DEV"].split()[1] == "NULL"
    sex = (tmp_path / "c" / "config" / "default.sex").read_text()
    assert any(line.startswith("CATALOG_TYPE") and "FITS_LDAC" in line
               for line in sex.splitlines())
    text = (tmp_path / "c" / "project.toml").read_text()
    assert 'ASTREFCENT_KEYS = "RA_ICRS,DE_ICRS"' in text and 'ASTREFMAG_KEY = "Gmag"' in text


def test_what_cannot_make_a_project_is_a_clear_error(demo: Path, tmp_path: Path) -> None:
    with pytest.raises(InitError, match="matches no image"):
        survey(str(tmp_path / "x"), str(tmp_path / "nothing" / "*.fits"))
    bad_reference = tmp_path / "ref.fits"
    table = Table({"a": [1.0], "b": [2.0]})
    table.meta["EXTNAME"] = "OBJECTS"
    table.write(bad_reference)
    with pytest.raises(InitError, match="could not tell which columns") as caught:
        survey(str(tmp_path / "x"), str(demo / "images" / "2064*.fits"),
               reference=str(bad_reference))
    assert "a, b" in str(caught.value) and "RA_ICRS" in caught.value.hint
    found = survey(str(tmp_path / "y"), str(demo / "images" / "2064*.fits"))
    write_project(found)
    with pytest.raises(InitError, match="exists already"):
        write_project(found)
    write_project(found, force=True)


def test_in_a_terminal_it_shows_what_it_found_and_writes_only_after_yes(demo: Path,
                                                                        tmp_path: Path) -> None:
    shown: list[str] = []
    answer = init_project(str(tmp_path / "q"), str(demo / "images" / "*.fits"),
                          weights=".wtmap.fits", flags=".dqmask.fits", interactive=True,
                          out=shown.append, read=lambda question: "n")
    assert answer is None and not (tmp_path / "q" / "project.toml").exists()
    assert "3 image(s)" in shown[0] and "3 weight maps (.wtmap.fits)" in shown[0]
    assert "skipped 2 file(s) that hold no image" in shown[0]  # truth.fits, reference.fits
    # Flag maps are images too: without --flags they are named as likely companions.
    shown.clear()
    assert init_project(str(tmp_path / "q"), str(demo / "images" / "*.fits"),
                        weights=".wtmap.fits", interactive=True, out=shown.append,
                        read=lambda question: "n") is None
    assert "6 image(s)" in shown[0] and "--flags .dqmask.fits" in shown[0]
    assert init_project(str(tmp_path / "q"), str(demo / "images" / "2064??.fits"),
                        interactive=True, out=shown.append, read=lambda question: "yes")
    assert (tmp_path / "q" / "project.toml").exists()
