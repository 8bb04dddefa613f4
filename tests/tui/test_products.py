"""The products screen (``p``): a step's files, a FITS thumbnail and header, a catalog, a PSF."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from test_output_view import sync, wait_for
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from aw_tui.astromatic.ldac import write_ldac
from aw_tui.rundir.journal import RunState, read_events
from aw_tui.tui.products import load_preview, step_products
from aw_tui.tui.products_screen import ProductsScreen, human_size
from aw_tui.tui.widgets.thumbnail import UPPER_HALF, half_block_text


def star_field(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    image = 1000 + np.random.default_rng(1).normal(0, 5, (size, size))
    for cx, cy in ((20, 20), (40, 45), (10, 50)):
        image += 5000 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 8.0)
    return image.astype(np.float32)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory whose journal names a stack, its weight, a catalog (by base name)."""
    log = tmp_path / "log"
    temp = tmp_path / "temp"
    (log / "steps").mkdir(parents=True)
    temp.mkdir()
    header = fits.Header({"OBJECT": "demo field", "EXPTIME": 270.0})
    fits.writeto(temp / "stack.fits", star_field(), header)
    fits.writeto(temp / "stack.wtmap.fits", np.ones((64, 64), np.float32))
    write_ldac(temp / "stack.cat",
               Table({"NUMBER": [1, 2, 3], "FLUX_AUTO": [10.5, 20.25, 30.0]}))
    psf = np.zeros((1, 25, 25), np.float32)
    psf[0, 10:15, 10:15] = 1
    fits.HDUList([fits.PrimaryHDU(),
                  fits.BinTableHDU.from_columns([fits.Column(
                      name="PSF_MASK", format="625E", dim="(25,25,1)", array=psf[None])])]
                 ).writeto(temp / "stack.psf")
    (log / "4.swarp.log.xml").write_text("<VOTABLE>swarp</VOTABLE>\n")
    events = [
        {"seq": 1, "time": 1.0, "event": "run_started", "run_steps": [4, 6], "start_idx": 0,
         "total": 2},
        {"seq": 2, "time": 1.1, "event": "step_started", "step_id": 4, "index": 0,
         "func": "SWarp", "tags": ["stack"]},
        {"seq": 3, "time": 2.0, "event": "step_finished", "step_id": 4, "index": 0,
         "status": "success", "duration": 0.9,
         "summary": {"image": str(temp / "stack.fits"), "weight": str(temp / "stack.wtmap.fits"),
                     "ninputs": 3}},
        {"seq": 4, "time": 2.1, "event": "step_started", "step_id": 6, "index": 1,
         "func": "PSFEx", "tags": ["psf"]},
        {"seq": 5, "time": 3.0, "event": "step_finished", "step_id": 6, "index": 1,
         "status": "success", "duration": 0.9,
         "summary": {"catalogs": ["stack.cat"], "fwhm_mean": 3.9}},
    ]
    (log / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return log


def products_of(log: Path, step_id: int) -> list:
    return step_products(str(log), RunState.from_events(read_events(str(log))), step_id)


def test_a_tool_steps_files_are_found_from_its_summary_and_xml_log(run_dir: Path) -> None:
    swarp = products_of(run_dir, 4)
    assert [(Path(p.path).name, p.kind, p.source) for p in swarp] == [
        ("stack.fits", "image", "image"), ("stack.wtmap.fits", "image", "weight"),
        ("4.swarp.log.xml", "xml", "XML log")]
    assert swarp[0].size == (run_dir.parent / "temp" / "stack.fits").stat().st_size
    psfex = products_of(run_dir, 6)  # a catalog named without its folder, and its .psf
    assert [(Path(p.path).name, p.kind) for p in psfex] == [("stack.cat", "catalog"),
                                                            ("stack.psf", "psf")]
    assert Path(psfex[0].path).parent == run_dir.parent / "temp"


def test_previews_show_header_thumbnail_catalog_rows_and_psf(run_dir: Path) -> None:
    image = load_preview(products_of(run_dir, 4)[0], columns=32, rows=16)
    assert "64 x 64 px" in image.title and "OBJECT  = 'demo field'" in image.text
    assert image.thumbnail is not None and set(image.thumbnail.plain) <= {UPPER_HALF, "\n"}
    assert len(image.thumbnail.plain.splitlines()) == 16
    catalog = load_preview(products_of(run_dir, 6)[0])
    assert catalog.columns == ["NUMBER", "FLUX_AUTO"]
    assert catalog.rows == [["1", "10.5"], ["2", "20.25"], ["3", "30"]]
    psf = load_preview(products_of(run_dir, 6)[1], columns=25, rows=13)
    assert "PSF model 25 x 25" in psf.title and psf.thumbnail is not None


def test_thumbnail_is_stretched_and_upright() -> None:
    image = np.zeros((40, 40))
    image[30:, :] = 100.0  # bright rows at the top of the sky (FITS row 0 is the bottom)
    text = half_block_text(image, 20, 10)
    first, last = text.spans[0].style, text.spans[-1].style
    assert first.color.triplet.red > 200 and last.bgcolor.triplet.red < 30


def test_human_size() -> None:
    assert [human_size(n) for n in (None, 12, 12_345, 3_400_000)] == [
        "missing", "12 B", "12.3 kB", "3.4 MB"]


class HostApp(App[None]):
    def __init__(self, log: Path, step_id: int) -> None:
        super().__init__()
        self.run_log, self.step_id = log, step_id

    def compose(self) -> ComposeResult:
        yield Static("main")

    def on_mount(self) -> None:
        self.push_screen(ProductsScreen(f"products of step {self.step_id}",
                                        products_of(self.run_log, self.step_id)))


@sync
async def test_the_screen_previews_the_highlighted_file_and_y_copies_its_path(
        run_dir: Path) -> None:
    app = HostApp(run_dir, 4)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ProductsScreen)
        await wait_for(pilot, lambda: screen.preview is not None, 20)
        thumb = str(screen.query_one("#thumbnail", Static).render())
        assert UPPER_HALF in thumb
        await pilot.press("y")
        assert copied == [str(run_dir.parent / "temp" / "stack.fits")]
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: screen.preview is not None
                       and "swarp.log.xml" in screen.preview.title, 20)
        assert "<VOTABLE>" in str(screen.query_one("#preview-body", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ProductsScreen)


@sync
async def test_a_catalog_shows_its_rows_in_a_table(run_dir: Path) -> None:
    app = HostApp(run_dir, 6)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.preview is not None, 20)
        assert "PSF model" in screen.preview.title  # it opens on something to look at
        await pilot.press("up")
        await wait_for(pilot, lambda: "stack.cat" in screen.preview.title, 20)
        table = screen.query_one("#catalog", DataTable)
        assert table.display and table.row_count == 3
        assert [str(c.label) for c in table.columns.values()] == ["NUMBER", "FLUX_AUTO"]


@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
def test_snapshot_products_with_a_thumbnail(run_dir: Path, snap_compare, monkeypatch,
                                            size: tuple[int, int]) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.chdir(run_dir.parent)  # paths shown relative to it: the same in every run
    time.tzset()
    for path in (run_dir.parent / "temp").iterdir():
        os.utime(path, (1_790_000_000, 1_790_000_000))
    os.utime(run_dir / "4.swarp.log.xml", (1_790_000_000, 1_790_000_000))
    async def ready(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.preview is not None, 20)
        await pilot.pause()

    try:
        assert snap_compare(HostApp(run_dir, 4), terminal_size=size, run_before=ready)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_files_on_the_command_line_of_the_xml_log_are_products(run_dir: Path) -> None:
    temp = run_dir.parent / "temp"
    xml = run_dir / "0.sex.log.xml"
    xml.write_text(
        '<PARAM name="Command_Line" datatype="char" arraysize="*" ucd="obs.param" '
        f'value="/usr/bin/source-extractor {temp}/stack.fits -c default.sex -CATALOG_NAME '
        f'{temp}/stack.cat -CATALOG_TYPE FITS_LDAC -XML_NAME {xml} '
        f'-CHECKIMAGE_NAME {temp}/bkg.fits,{temp}/seg.fits"/>\n')
    state = RunState.from_events(read_events(str(run_dir)))
    found = [(Path(p.path).name, p.source, p.exists)
             for p in step_products(str(run_dir), state, 0)]
    assert found == [("0.sex.log.xml", "XML log", True), ("stack.fits", "input", True),
                     ("stack.cat", "-CATALOG_NAME", True),
                     ("bkg.fits", "-CHECKIMAGE_NAME", False),
                     ("seg.fits", "-CHECKIMAGE_NAME", False)]
