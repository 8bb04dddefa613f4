"""Config files as astronomers write them: relative companion files (issue 17).

A SExtractor config naming ``default.conv``, ``default.nnw`` and ``default.param`` relatively,
beside it, runs from any working folder: the names are resolved against the config file's
folder, passed on the command line and recorded in ``result['resolved_files']``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tooling import require_tool

import aw_tui.astromatic.steps as api
from aw_tui.astromatic.command import Astromatic
from aw_tui.astromatic.configfile import resolve_companions
from aw_tui.astromatic.ldac import read_ldac
from aw_tui.demo.sky import make_sky

SHARE = Path("/usr/share/source-extractor")


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    return make_sky(tmp_path_factory.mktemp("sky") / "images", n_exposures=1, size=256)


def _config_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my config"
    folder.mkdir()
    for name in ("default.conv", "default.nnw"):
        shutil.copy(SHARE / name, folder / name)
    (folder / "default.param").write_text("NUMBER\nX_IMAGE\nY_IMAGE\nFLUX_AUTO\nCLASS_STAR\n")
    (folder / "my.sex").write_text(
        "# written by hand, companions beside it\n"
        "CATALOG_TYPE     FITS_LDAC\n"
        "PARAMETERS_NAME  default.param   # relative\n"
        "FILTER           Y\n"
        "FILTER_NAME      default.conv\n"
        "STARNNW_NAME     default.nnw\n"
    )
    return folder


def test_relative_companions_run_from_any_folder(sky, tmp_path: Path, monkeypatch) -> None:
    require_tool("SExtractor")
    folder = _config_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    catalog = tmp_path / "out.cat"
    result = api.run_sex(None, 0, sky.exposures[0]["image"], {
        "config_file": str(folder / "my.sex"),
        "config": {"CATALOG_NAME": str(catalog)},
        "temp_path": str(tmp_path / "temp"),
    })
    assert result["status"] == "success", result["error_msg"]
    assert result["resolved_files"] == {
        "PARAMETERS_NAME": str(folder / "default.param"),
        "FILTER_NAME": str(folder / "default.conv"),
        "STARNNW_NAME": str(folder / "default.nnw"),
    }
    argv = result["argv"]
    # The resolved names reach the tool (through a safe link: the folder has a space).
    for key in ("-PARAMETERS_NAME", "-FILTER_NAME", "-STARNNW_NAME"):
        assert key in argv
        assert os.path.isabs(argv[argv.index(key) + 1])
    table = read_ldac(str(catalog))
    assert {"NUMBER", "X_IMAGE", "CLASS_STAR"} <= set(table.colnames)
    assert len(table) > 20
    assert not any("not found" in w for w in result["warnings"])


def test_explicit_config_and_absolute_names_are_left_alone(tmp_path: Path) -> None:
    folder = _config_folder(tmp_path)
    with open(folder / "my.sex", "a") as handle:
        handle.write(f"PSF_NAME {SHARE / 'default.conv'}\nASSOC_NAME NONE\n")
    resolved = resolve_companions("sex", str(folder / "my.sex"),
                                  {"FILTER_NAME": "/elsewhere/gauss.conv"})
    assert resolved == {"PARAMETERS_NAME": str(folder / "default.param"),
                        "STARNNW_NAME": str(folder / "default.nnw")}
    call = Astromatic("SExtractor", config={"FILTER_NAME": "/elsewhere/gauss.conv"},
                      config_file=str(folder / "my.sex"), cmd="source-extractor"
                      ).build_call("image.fits")
    argv = call.argv
    assert argv[argv.index("-FILTER_NAME") + 1] == "/elsewhere/gauss.conv"
    assert argv[argv.index("-STARNNW_NAME") + 1] == str(folder / "default.nnw")


def test_params_list_wins_over_config_file_parameters(tmp_path: Path) -> None:
    folder = _config_folder(tmp_path)
    call = Astromatic("SExtractor", config_file=str(folder / "my.sex"), cmd="sex",
                      temp_path=str(tmp_path / "t"), params=["NUMBER"]).build_call("a.fits")
    assert "PARAMETERS_NAME" not in call.resolved
    assert call.config["PARAMETERS_NAME"].startswith(str(tmp_path / "t"))
    assert not call.notes


def test_scamp_reference_catalog_list_resolved(tmp_path: Path) -> None:
    (tmp_path / "scamp.conf").write_text("ASTREF_CATALOG FILE\n"
                                         "ASTREFCAT_NAME ref1.cat,/abs/ref2.cat\n"
                                         "AHEADER_GLOBAL   chips.ahead\n")
    assert resolve_companions("SCAMP", str(tmp_path / "scamp.conf")) == {
        "ASTREFCAT_NAME": [str(tmp_path / "ref1.cat"), "/abs/ref2.cat"],
        "AHEADER_GLOBAL": str(tmp_path / "chips.ahead"),
    }
