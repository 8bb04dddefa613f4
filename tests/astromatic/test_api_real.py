"""aw_tui.astromatic.steps with the real AstrOmatic tools on a generated sky.

* every failure row of ASTROMATIC_FACTS.md ends in ``status == 'error'`` with a message that
  says what is wrong, including the three the tools exit 0 on;
* ``frames=[...]`` on a multi-extension image;
* file names with spaces, quotes, ``;``, ``=``, ``$HOME``, ``$(touch pwned)``, ``,`` and
  ``[1]`` through SExtractor -> SCAMP -> SWarp -> PSFEx (or refused up front), never a shell;
* the seed's Full Example as written (catalogs in temp, images elsewhere, the tools'
  internal defaults) stacks with SCAMP's solution, or stops with an error;
* the result keys.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from tooling import DEMO_CONFIG, REPO, require_tool

import aw_tui.astromatic.steps as api
from aw_tui.astromatic.command import Astromatic
from aw_tui.astromatic.ldac import read_ldac
from aw_tui.demo.sky import make_sky
from aw_tui.pipeline import Pipeline, PipelineError

SCAMP_PARAMS = ["NUMBER", "EXT_NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE",
                "ERRBWIN_IMAGE", "ERRTHETAWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD", "FLUX_AUTO",
                "FLUXERR_AUTO", "IMAFLAGS_ISO", "FLAGS", "FLAGS_WEIGHT", "FLUX_RADIUS",
                "ELONGATION"]
PSFEX_PARAMS = ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD",
                "FLUX_APER(1)", "FLUXERR_APER(1)", "FLAGS", "FLUX_RADIUS", "ELONGATION",
                "VIGNET(25,25)", "SNR_WIN"]
SEX = str(DEMO_CONFIG / "default.sex")
SCAMP = str(DEMO_CONFIG / "default.scamp")
SWARP = str(DEMO_CONFIG / "default.swarp")
PSFEX = str(DEMO_CONFIG / "default.psfex")
HOSTILE = "d ir; a=b 'q' \"dq\" $HOME $(touch pwned) ,c [1]"


def _require_all_tools() -> None:
    for tool in ("sextractor", "scamp", "swarp", "psfex"):
        require_tool(tool)


def _pipeline(base: Path, **paths: str) -> Pipeline:
    folders = {"temp": str(base / "temp"), "log": str(base / "log"), **paths}
    return Pipeline(folders, create_paths=True)


def match_sky(ra, dec, ra_ref, dec_ref):
    """Nearest reference star to each (ra, dec): index and separation in arcsec."""
    ra0, dec0 = float(np.mean(ra_ref)), float(np.mean(dec_ref))
    cosd = np.cos(np.radians(dec0))
    x, y = (np.asarray(ra) - ra0) * cosd * 3600.0, (np.asarray(dec) - dec0) * 3600.0
    xr, yr = (np.asarray(ra_ref) - ra0) * cosd * 3600.0, (np.asarray(dec_ref) - dec0) * 3600.0
    d2 = (x[:, None] - xr[None, :]) ** 2 + (y[:, None] - yr[None, :]) ** 2
    idx = d2.argmin(axis=1)
    return idx, np.sqrt(d2[np.arange(len(idx)), idx])


def stack_offsets(catalog: str, truth: Table) -> tuple[float, int]:
    """rms distance (arcsec) of the bright stars of a stack catalog from the truth, and how
    many matched within 1 arcsec."""
    cat = read_ldac(catalog)
    idx, sep = match_sky(cat["XWIN_WORLD"], cat["YWIN_WORLD"], truth["RA"], truth["DEC"])
    good = (sep < 1.0) & (np.asarray(truth["MAG"])[idx] < 20.0) & (cat["FLAGS"] == 0)
    return float(np.sqrt(np.mean(sep[good] ** 2))) if good.any() else np.inf, int(good.sum())


def no_pwned(*roots: Path) -> list[str]:
    """Every file called ``pwned`` under ``roots`` and in the usual working folders."""
    found = [str(p) for root in roots for p in Path(root).rglob("pwned")]
    for folder in (Path.cwd(), Path.home(), Path("/tmp")):
        if (folder / "pwned").exists():
            found.append(str(folder / "pwned"))
    return found


# -- a sky and SExtractor catalogs shared by the failure tests ------------------------------------


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    require_tool("sextractor")
    return make_sky(tmp_path_factory.mktemp("sky") / "images", n_exposures=3, size=512)


@pytest.fixture(scope="module")
def catalogs(sky, tmp_path_factory):
    """SExtractor catalogs for SCAMP (``scamp``), for PSFEx (``psfex``), and without VIGNET /
    FLUX_APER (``no_vignet``, ``no_aper``), all of exposure 0."""
    base = tmp_path_factory.mktemp("catalogs")
    pipeline = _pipeline(base)
    exposure = sky.exposures[0]
    made = {}
    for name, params in (
        ("scamp", SCAMP_PARAMS),
        ("psfex", PSFEX_PARAMS),
        ("no_vignet", [p for p in PSFEX_PARAMS if not p.startswith("VIGNET")]),
        ("no_aper", [p for p in PSFEX_PARAMS if "APER" not in p]),
    ):
        result = api.run_sex(pipeline, len(made), exposure, {
            "params": params, "config_file": SEX,
            "config": {"CATALOG_NAME": str(base / f"{name}.cat")}})
        assert result["status"] == "success", result["error_msg"]
        made[name] = result["catalog"]
    made["base"] = base
    return made


# -- each failure row of ASTROMATIC_FACTS.md --------------------------------------------------


def test_missing_input_image(sky, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    missing = str(tmp_path / "nope.fits")
    result = api.run_sex(pipeline, 0, missing, {"params": ["NUMBER"], "config_file": SEX})
    assert result["status"] == "error"
    assert "not found" in result["error_msg"] and missing in result["error_msg"]
    # The same file given straight to the tool: its own message, exit 1.
    sex = Astromatic("SExtractor", temp_path=str(tmp_path / "temp"), config_file=SEX,
                     params=["NUMBER"])
    result = sex.run(missing, raise_error=False,
                     config={"CATALOG_NAME": str(tmp_path / "x.cat")})
    assert result["status"] == "error" and result["returncode"] == 1
    assert f"cannot open {missing}" in result["error_msg"]


def test_missing_or_unreadable_param_file(sky, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    missing = str(tmp_path / "nope.param")
    sex = Astromatic("SExtractor", temp_path=str(tmp_path / "temp"), config_file=SEX)
    result = sex.run(sky.exposures[0]["image"], raise_error=False, config={
        "PARAMETERS_NAME": missing, "CATALOG_NAME": str(tmp_path / "x.cat")})
    assert result["status"] == "error" and result["returncode"] == 1
    assert f"can't read {missing}" in result["error_msg"]

    folder = tmp_path / "a folder.param"
    folder.mkdir()
    result = api.run_sex(pipeline, 1, sky.exposures[0], {
        "config_file": SEX, "config": {"PARAMETERS_NAME": str(folder)}})
    assert result["status"] == "error"
    assert f"{folder} is a folder, not a file" in result["error_msg"]


def test_missing_weight_map(sky, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    missing = str(tmp_path / "206401.wtmap.fits")
    result = api.run_sex(pipeline, 0, {"image": sky.exposures[0]["image"], "wtmap": missing},
                         {"params": ["NUMBER"], "config_file": SEX})
    assert result["status"] == "error" and missing in result["error_msg"]
    # SWarp finds weight maps by suffix: a missing one is the tool's error.
    result = api.run_swarp(pipeline, 1, [sky.exposures[0]["image"]], {
        "config_file": SWARP, "config": {"WEIGHT_SUFFIX": ".nope.fits"}})
    assert result["status"] == "error" and result["returncode"] == 1
    assert ".nope.fits" in result["error_msg"]


def test_bad_config_keyword_exits_0_but_is_an_error(sky, tmp_path: Path) -> None:
    result = api.run_sex(_pipeline(tmp_path), 0, sky.exposures[0], {
        "params": ["NUMBER"], "config_file": SEX, "config": {"DETECT_TRESH": 3}})
    assert result["returncode"] == 0
    assert result["status"] == "error"
    assert "DETECT_TRESH" in result["error_msg"] and "keyword" in result["error_msg"]


def test_missing_config_file_exits_0_but_is_an_error(sky, tmp_path: Path) -> None:
    missing = str(tmp_path / "my.sex")
    result = api.run_sex(_pipeline(tmp_path), 0, sky.exposures[0], {
        "params": ["NUMBER"], "config_file": missing, "config": {"FILTER": False}})
    assert result["returncode"] == 0
    assert result["status"] == "error"
    assert result["error_msg"].startswith(f"SExtractor did not find its config file {missing}")


def test_no_config_file_runs_on_the_internal_defaults(sky, tmp_path: Path) -> None:
    # Without -c the tool says "default.sex not found, using internal defaults": not an error.
    result = api.run_sex(_pipeline(tmp_path), 0, sky.exposures[0], {
        "params": ["NUMBER", "FLUX_AUTO"],
        "config": {"FILTER": False, "CATALOG_TYPE": "FITS_LDAC"}})
    assert result["status"] == "success", result["error_msg"]
    assert len(read_ldac(result["catalog"])) > 20


def test_unknown_catalog_parameter_exits_0_but_is_an_error(sky, tmp_path: Path) -> None:
    result = api.run_sex(_pipeline(tmp_path), 0, sky.exposures[0], {
        "params": ["NUMBER", "FLUX_AUTOO"], "config_file": SEX})
    assert result["returncode"] == 0
    assert result["status"] == "error"
    assert "FLUX_AUTOO" in result["error_msg"] and "catalog parameter" in result["error_msg"]


def test_psfex_on_a_catalog_without_vignet_or_flux_aper(catalogs, tmp_path: Path) -> None:
    require_tool("psfex")
    pipeline = _pipeline(tmp_path)
    result = api.run_psfex(pipeline, 0, catalogs["no_vignet"], {"config_file": PSFEX})
    assert result["status"] == "error" and result["returncode"] == 1
    assert "VIGNET parameter not found" in result["error_msg"]
    assert catalogs["no_vignet"] in result["error_msg"]
    result = api.run_psfex(pipeline, 1, catalogs["no_aper"], {"config_file": PSFEX})
    assert result["status"] == "error"
    assert "FLUX_APER parameter not found" in result["error_msg"]
    # The complete catalog works.
    result = api.run_psfex(pipeline, 2, catalogs["psfex"], {"config_file": PSFEX})
    assert result["status"] == "success", result["error_msg"]
    assert os.path.exists(result["psf"])


def test_scamp_with_a_missing_reference_catalog(sky, catalogs, tmp_path: Path) -> None:
    require_tool("scamp")
    missing = str(tmp_path / "gaia.fits")
    config = dict(sky.scamp_config(), ASTREFCAT_NAME=missing)
    result = api.run_scamp(_pipeline(tmp_path), 0, [catalogs["scamp"]],
                           {"config_file": SCAMP, "config": config})
    assert result["status"] == "error" and result["returncode"] == 1
    assert f"No such catalog: {missing}" in result["error_msg"]
    assert result["heads"] == {}


def test_save_catalog_is_the_reference_catalog(sky, catalogs, tmp_path: Path) -> None:
    """``save_catalog`` asks SCAMP to save its reference catalog (the original's
    SAVE_REFCATALOG/REFOUT_CATPATH); SCAMP saves only downloaded ones, so with a FILE
    reference the result says nothing was saved instead of passing for a saved catalog."""
    require_tool("scamp")
    folder = tmp_path / "refout"
    result = api.run_scamp(_pipeline(tmp_path), 0, [catalogs["scamp"]],
                           {"config_file": SCAMP, "config": sky.scamp_config()}, str(folder))
    assert result["status"] == "success", result["error_msg"]
    argv = result["argv"]
    assert argv[argv.index("-SAVE_REFCATALOG") + 1] == "Y"
    assert argv[argv.index("-REFOUT_CATPATH") + 1] == str(folder)
    assert "-MERGEDOUTCAT_NAME" not in argv
    assert folder.is_dir() and result["refcatalogs"] == []
    assert result["verdict"] == "warn"
    assert any("saved no reference catalog" in w and "ASTREF_CATALOG FILE" in w
               for w in result["warnings"])


def test_unwritable_output_folder(sky, catalogs, tmp_path: Path) -> None:
    require_tool("swarp")
    pipeline = _pipeline(tmp_path)
    nowhere = tmp_path / "nowhere"
    result = api.run_sex(pipeline, 0, sky.exposures[0], {
        "params": ["NUMBER"], "config_file": SEX,
        "config": {"CATALOG_NAME": str(nowhere / "x.cat")}})
    assert result["status"] == "error" and result["returncode"] == 1
    assert f"cannot open for writing {nowhere / 'x.cat'}" in result["error_msg"]
    # The same with a name that goes through a safe temporary name: the same error, before
    # the tool runs, and no folder is created behind the user's back.
    hostile = tmp_path / "no such; folder"
    result = api.run_sex(pipeline, 3, sky.exposures[0], {
        "params": ["NUMBER"], "config_file": SEX,
        "config": {"CATALOG_NAME": str(hostile / "x.cat")}})
    assert result["status"] == "error"
    assert str(hostile) in result["error_msg"] and "does not exist" in result["error_msg"]
    assert not hostile.exists()
    result = api.run_swarp(pipeline, 1, [sky.exposures[0]["image"]], {
        "config_file": SWARP, "config": {"IMAGEOUT_NAME": str(nowhere / "stack.fits")}})
    assert result["status"] == "error"
    assert "cannot open for writing" in result["error_msg"]
    result = api.run_swarp(pipeline, 2, [sky.exposures[0]["image"]], {
        "config_file": SWARP, "config": {"RESAMPLE_DIR": str(tmp_path / "nodir")}})
    assert result["status"] == "error" and "nodir" in result["error_msg"]


def test_sextractor_psf_photometry_without_the_psf_file(sky, tmp_path: Path) -> None:
    missing = str(tmp_path / "stack.psf")
    result = api.run_sex(_pipeline(tmp_path), 0, sky.exposures[0], {
        "params": ["NUMBER", "MAG_PSF"], "config_file": SEX,
        "config": {"PSF_NAME": missing}})
    assert result["status"] == "error" and missing in result["error_msg"]


# -- frames ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mef_sky(tmp_path_factory):
    require_tool("sextractor")
    return make_sky(tmp_path_factory.mktemp("mef") / "images", n_exposures=1, size=512,
                    n_extensions=2)


@pytest.mark.parametrize("frames", [[1], [1, 2]])
def test_frames_run_once_per_extension(mef_sky, tmp_path: Path, frames: list[int]) -> None:
    pipeline = _pipeline(tmp_path)
    # NTHREADS 4 on the single-threaded Debian build: a harmless warning in every XML.
    result = api.run_sex(pipeline, 7, mef_sky.exposures[0], {
        "params": ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "FLUX_AUTO", "FLAGS"],
        "config_file": SEX, "config": {"NTHREADS": 4}}, frames=frames)
    assert result["status"] == "success", result["error_msg"]
    log = Path(pipeline.paths["log"])
    if frames == [1]:
        xmls = [str(log / "7.sex.log.xml")]
        assert result["xml"] == xmls[0]
    else:
        xmls = [str(log / "7.sex.1.log.xml"), str(log / "7.sex.2.log.xml")]
        assert result["xml"] == xmls
        assert set(result["summary"]["frames"]) == {"1", "2"}
    # ... and under the original astromatic_wrapper's names, <step>.<tool>.log-<frame>.xml.
    originals = [str(log / f"7.sex.log-{f}.xml") for f in frames]
    assert result["xml_original_names"] == originals
    assert sorted(str(p) for p in log.glob("7.sex*.xml")) == sorted(xmls + originals)
    for xml, original in zip(xmls, originals, strict=True):
        assert Path(original).read_bytes() == Path(xml).read_bytes()
    assert len(result["catalogs"]) == len(frames)
    # Each frame's catalog holds that extension's stars, weight and flag maps per frame.
    truth = mef_sky.load_truth()
    for frame, catalog in zip(frames, result["catalogs"], strict=True):
        cat = read_ldac(catalog)
        on_chip = truth[truth["EXT_1"] == frame]
        assert len(cat) >= 0.5 * len(on_chip[on_chip["MAG"] < 21])
        argv = result["argv"] if frames == [1] else result["argv"][frames.index(frame)]
        assert argv[argv.index("-WEIGHT_IMAGE") + 1].endswith(f".wtmap.fits[{frame}]")
        assert argv[argv.index("-FLAG_IMAGE") + 1].endswith(f".dqmask.fits[{frame}]")
    table = result["warnings_table"]
    assert "frame" in table.colnames
    # the plain list names the frame when there are several
    assert result["warnings"] and all(w.startswith("frame ") == (len(frames) > 1)
                                      for w in result["warnings"])
    assert sorted(set(table["frame"])) == [str(f) for f in frames]
    assert all("NTHREADS" in msg for msg in table["Msg"])
    assert set(table.meta["filename"].split(",")) == set(xmls)


# -- hostile file names ---------------------------------------------------------------------------


def test_hostile_names_end_to_end(sky, tmp_path: Path) -> None:
    """Images, weights, catalogs, stack and PSF with every character the tools parse, in a
    folder named the same way: SExtractor -> SCAMP -> SWarp -> SExtractor -> PSFEx."""
    _require_all_tools()
    folder = tmp_path / HOSTILE
    images = folder / "images"
    images.mkdir(parents=True)
    exposures = []
    for index, exposure in enumerate(sky.exposures):
        stem = images / f"exp {index} 'q';x=1 $HOME $(touch pwned),[1]"
        copies = {}
        for key, suffix in (("image", ".fits"), ("wtmap", ".wtmap.fits"),
                            ("dqmask", ".dqmask.fits")):
            shutil.copy(exposure[key], f"{stem}{suffix}")
            copies[key] = f"{stem}{suffix}"
        exposures.append(copies)
    cats, stacks = folder / "cats = ok", folder / "stacks; $(touch pwned)"
    pipeline = _pipeline(tmp_path, catalogs=str(cats), stacks=str(stacks))
    catalog_names = [str(cats / (Path(e["image"]).stem + ".cat")) for e in exposures]
    for exposure, catalog in zip(exposures, catalog_names, strict=True):
        pipeline.add_step(api.run_sex, ["sex"], files=exposure, api_kwargs={
            "params": SCAMP_PARAMS, "config_file": SEX, "config": {"CATALOG_NAME": catalog}})
    pipeline.add_step(api.run_scamp, ["scamp"], catalogs=catalog_names, api_kwargs={
        "config_file": SCAMP, "config": sky.scamp_config()})
    stack = str(stacks / "stack $HOME, 'x'.fits")
    pipeline.add_step(api.run_swarp, ["swarp"], filenames=[e["image"] for e in exposures],
                      api_kwargs={"config_file": SWARP, "config": {
                          "IMAGEOUT_NAME": stack,
                          "WEIGHTOUT_NAME": stack.replace(".fits", ".wtmap.fits")}})
    stack_cat = stack.replace(".fits", ".cat")
    pipeline.add_step(api.run_sex, ["sex"], files={
        "image": stack, "wtmap": stack.replace(".fits", ".wtmap.fits")}, api_kwargs={
        "params": PSFEX_PARAMS, "config_file": SEX, "config": {"CATALOG_NAME": stack_cat}})
    pipeline.add_step(api.run_psfex, ["psfex"], catalogs=stack_cat,
                      api_kwargs={"config_file": PSFEX})
    pipeline.run()

    results = [step.results for step in pipeline.steps]
    assert [r["status"] for r in results] == ["success"] * 7
    for catalog in catalog_names:
        assert len(read_ldac(catalog)) > 20
        assert Path(catalog).with_suffix(".head").exists()
    # SWarp applied SCAMP's solution: the stack's stars sit on the truth.
    assert len(results[4]["heads_used"]) == 3
    offset, n = stack_offsets(stack_cat, sky.load_truth())
    assert n >= 20 and offset < 0.1
    assert Path(stack.replace(".fits", ".wtmap.fits")).exists()
    psf = results[6]["psf"]
    assert psf == os.path.join(pipeline.paths["temp"], "stack $HOME, 'x'.psf")
    assert os.path.getsize(psf) > 0
    assert no_pwned(tmp_path) == []
    # Nothing was written where a tool would have put a mangled or expanded name.
    home_named = [p for p in tmp_path.rglob("*") if str(Path.home()) in p.name]
    assert home_named == []


def test_hostile_folder_arguments_are_refused_up_front(catalogs, tmp_path: Path) -> None:
    require_tool("psfex")
    psf_dir = tmp_path / "psf; dir"
    psf_dir.mkdir()
    result = api.run_psfex(_pipeline(tmp_path), 0, catalogs["psfex"], {
        "config_file": PSFEX, "config": {"PSF_DIR": str(psf_dir)}})
    assert result["status"] == "error"
    assert "PSF_DIR" in result["error_msg"] and "a semicolon" in result["error_msg"]
    assert result.get("returncode") is None  # the tool never ran
    assert not list(psf_dir.iterdir())
    # A temp folder the tools would split is refused when a name must be linked through it.
    pipeline = Pipeline({"temp": str(tmp_path / "my temp"), "log": str(tmp_path / "log")},
                        create_paths=True)
    result = api.run_psfex(pipeline, 1, str(Path(catalogs["psfex"])), {
        "config_file": PSFEX, "config": {"XML_NAME": str(tmp_path / "x=1.xml")}})
    assert result["status"] == "error" and "a space" in result["error_msg"]
    assert no_pwned(tmp_path) == []


# -- the seed's Full Example as written -----------------------------------------------------------


def _seed_build_pipeline():
    """The seed's ``build_pipeline`` (from sample_configs/full_example.py)."""
    path = REPO / "sample_configs" / "full_example.py"
    if "full_example" not in sys.modules:
        spec = importlib.util.spec_from_file_location("full_example", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["full_example"] = module
        spec.loader.exec_module(module)
    return sys.modules["full_example"].build_pipeline


def _seed_pipeline(base: Path, sky) -> Pipeline:
    paths = {name: str(base / name) for name in ("temp", "log", "catalogs", "stacks")}
    pipeline = Pipeline(paths, create_paths=True)
    # As written: no config files, the tools' internal defaults; only SCAMP is told where
    # the offline reference catalog is (the seed would query 2MASS over the network).
    reference = {k: v for k, v in sky.scamp_config().items() if k != "ASTREF_CATALOG"}
    _seed_build_pipeline()(pipeline, sky.exposures, ref_catalog="FILE",
                           scamp_config=reference)
    return pipeline


def test_the_seeds_full_example_as_written_stacks_with_scamps_solution(
    sky, tmp_path: Path
) -> None:
    _require_all_tools()
    pipeline = _seed_pipeline(tmp_path, sky)
    pipeline.run()
    steps = pipeline.steps
    assert all(step.results["status"] == "success" for step in steps)
    # SCAMP wrote its heads beside the catalogs in temp, far from the images...
    heads = steps[3].results["heads"]
    assert {Path(h).parent for h in heads.values()} == {Path(pipeline.paths["temp"])}
    assert not list(Path(sky.out_dir).glob("*.head"))
    # ...and the stack still used them.
    assert sorted(steps[4].results["heads_used"]) == sorted(heads.values())
    offset, n = stack_offsets(steps[5].results["catalog"], sky.load_truth())
    assert n >= 20
    assert offset < 0.1, f"stack stars {offset:.3f} arcsec rms from the truth"

    # The results carry what a user needs, for each tool.
    for step in steps[:-1]:
        result = step.results
        assert {"status", "error_msg", "warnings", "summary", "argv", "returncode",
                "duration", "output"} <= set(result)
        assert result["error_msg"] is None and result["returncode"] == 0
        assert isinstance(result["warnings_table"], Table)
        assert result["warnings_table"].meta["filename"] == result["xml"]
        assert result["verdict"] in ("ok", "warn") and isinstance(result["warnings"], list)
        assert os.path.exists(result["xml"])
        assert isinstance(result["argv"], list) and all(isinstance(a, str)
                                                        for a in result["argv"])
        assert result["duration"] > 0
        assert result["output"] == os.path.join(pipeline.paths["log"], "steps",
                                                f"{step.step_id}.out")
    sex = steps[0].results["summary"]
    assert sex["detections"] > 20
    assert abs(sex["extensions"][0]["background_mean"] - sky.sky) < 5
    assert sex["extensions"][0]["background_stdev"] > 0
    scamp = steps[3].results["summary"]
    assert 0 < scamp["astrom_sigma_internal_total"] < 0.1
    assert 0 < scamp["astrom_sigma_reference_total"] < 0.1
    assert scamp["as_contrast"] > 2
    swarp = steps[4].results["summary"]
    assert swarp["image_size"][0] > sky.size and swarp["ninputs"] == 3
    psfex = steps[6].results["summary"]
    assert 0 < psfex["nstars_accepted"] <= psfex["nstars_loaded"]
    assert abs(psfex["fwhm_mean"] / sky.fwhm_pixels - 1) < 0.1


def test_the_full_example_without_scamps_heads_stops_instead_of_misaligning(
    sky, tmp_path: Path
) -> None:
    _require_all_tools()
    pipeline = _seed_pipeline(tmp_path, sky)
    # Run up to SCAMP, then lose its heads (a cleanup, another machine, a moved temp).
    pipeline.run(run_tags=["step1", "step2"])
    for head in pipeline.steps[3].results["heads"].values():
        os.unlink(head)
    with pytest.raises(PipelineError, match="no SCAMP header was found"):
        pipeline.run(run_tags=["step3"])
    result = pipeline.steps[4].results
    assert result["status"] == "error"
    assert "raw header WCS" in result["error_msg"]
    assert not Path(result["image"]).exists()  # no stack at all rather than a wrong one
