"""The results table (``aw_tui.results``): one row per step, summaries as columns, outliers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io.votable import parse
from astropy.table import Table

import aw_tui
from aw_tui import Pipeline, testing_funcs
from aw_tui.report.results import write_results


def _pipeline(tmp_path: Path, values: list[float]) -> str:
    log = tmp_path / "log"
    pipe = Pipeline({"log": str(log), "temp": str(tmp_path / "temp")}, create_paths=True)
    for value in values:
        pipe.add_step(testing_funcs.succeed, ["measure"], fwhm=value, band="r")
    pipe.add_step(testing_funcs.fail, ["broken"], message="no stars")
    with pytest.raises(aw_tui.PipelineError):
        pipe.run()
    return str(log)


def test_one_row_per_step_with_its_summary_and_outliers_flagged(tmp_path: Path) -> None:
    values = [3.9, 3.95, 3.88, 3.92, 9.5, 3.91]
    table = aw_tui.results(_pipeline(tmp_path, values))
    assert len(table) == 7
    assert list(table["status"]) == ["success"] * 6 + ["error"]
    assert np.allclose(table["fwhm"][:6], values)
    # 9.5 is far outside the group of the same step (5 MADs); nothing else is.
    assert list(table["fwhm_outlier"][:6]) == [False, False, False, False, True, False]
    # The failed step measured nothing: its cell is masked (n/a), never 0.
    assert table["fwhm"].mask[6]
    assert table["label"][0] == "measure succeed" and table["tool"][6] == "fail"


def test_the_table_is_written_as_csv_ecsv_json_and_fits(tmp_path: Path) -> None:
    table = aw_tui.results(_pipeline(tmp_path, [1.0, 2.0]))
    rows = json.loads(_text(table, "json"))
    assert rows[0]["fwhm"] == 1.0 and rows[2]["fwhm"] is None and rows[2]["status"] == "error"
    assert _text(table, "csv").splitlines()[0].startswith("index,step_id,label")
    back = Table.read(_text(table, "ecsv"), format="ascii.ecsv")
    assert list(back["status"]) == list(table["status"])
    write_results(table, str(tmp_path / "r.fits"), "fits")
    assert len(Table.read(tmp_path / "r.fits")) == 3


def _text(table: Table, fmt: str) -> str:
    out = io.StringIO()
    write_results(table, None, fmt, out)
    return out.getvalue()


def test_on_the_demo_the_fwhm_is_psfexs_own(demo_512_run) -> None:
    log = demo_512_run.folder / "work" / "log"
    table = aw_tui.results(str(log))
    assert len(table) == 9
    psfex = table[table["tool"] == "PSFEx"][0]
    xml = next(log.glob(f"{psfex['step_id']}.psfex*.xml"))
    fields = parse(str(xml)).get_table_by_id("PSF_Fields").to_table()
    assert psfex["fwhm_mean"] == pytest.approx(float(fields["FWHM_Mean"][0]), rel=1e-6)
    sextractor = table[table["tool"] == "SExtractor"]
    assert len(sextractor) == 5 and all(sextractor["status"] == "success")
