"""The original astromatic_wrapper's LDAC names (``aw_tui.utils.ldac``) on a real SExtractor
catalog: read it, convert the Table, save it, read it back; SCAMP accepts the saved file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from tooling import DEMO_CONFIG, require_tool, run_tool, sextractor_argv

from aw_tui.demo.sky import make_sky
from aw_tui.utils import ldac

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> tuple[Path, Any]:
    binary = require_tool("sextractor")
    base = tmp_path_factory.mktemp("utils_ldac")
    sky = make_sky(base / "sky", n_exposures=1, size=384)
    cat = base / "real.cat"
    exposure = sky.exposures[0]
    run_tool(sextractor_argv(binary, exposure["image"], cat, weight=exposure["wtmap"],
                             flag=exposure["dqmask"], xml=base / "sex.xml"), cwd=base)
    return cat, sky


def test_get_table_from_ldac_reads_the_first_frame(catalog) -> None:
    cat, _ = catalog
    table = ldac.get_table_from_ldac(str(cat))
    assert len(table) > 20
    assert {"XWIN_IMAGE", "YWIN_IMAGE"} <= set(table.colnames)
    assert table.meta["header"]["NAXIS1"] == 384
    assert len(ldac.get_table_from_ldac(str(cat), frame=1)) == len(table)
    with pytest.raises(ValueError, match="out of range"):
        ldac.get_table_from_ldac(str(cat), frame=2)


def test_convert_save_and_read_back(catalog, tmp_path: Path) -> None:
    cat, _ = catalog
    table = ldac.get_table_from_ldac(str(cat))
    hdulist = ldac.convert_table_to_ldac(table)
    assert isinstance(hdulist, fits.HDUList)
    assert [h.name for h in hdulist] == ["PRIMARY", "LDAC_IMHEAD", "LDAC_OBJECTS"]
    assert len(hdulist["LDAC_OBJECTS"].data) == len(table)

    out = tmp_path / "saved.cat"
    ldac.save_table_as_ldac(table, str(out))
    back = ldac.get_table_from_ldac(str(out))
    assert back.colnames == table.colnames
    for name in table.colnames:
        assert np.array_equal(np.asarray(back[name]), np.asarray(table[name]), equal_nan=True)
    assert back.meta["header"]["NAXIS1"] == 384
    assert b"\0" * 80 not in out.read_bytes()[:20000]  # blank-padded cards, as SCAMP reads
    # the original wrote with HDUList.writeto: no silent overwrite
    with pytest.raises(OSError, match="exists"):
        ldac.save_table_as_ldac(table, str(out))
    ldac.save_table_as_ldac(table[:5], str(out), overwrite=True)
    assert len(ldac.get_table_from_ldac(str(out))) == 5


def test_convert_hdu_to_ldac(catalog) -> None:
    cat, _ = catalog
    with fits.open(cat) as hdus:
        objects = fits.BinTableHDU(hdus["LDAC_OBJECTS"].data, hdus["LDAC_OBJECTS"].header)
        imhead, data = ldac.convert_hdu_to_ldac(objects)
    assert (imhead.name, data.name) == ("LDAC_IMHEAD", "LDAC_OBJECTS")
    assert len(data.data) == len(objects.data)


def test_scamp_reads_a_saved_table(catalog, tmp_path: Path) -> None:
    binary = require_tool("scamp")
    cat, sky = catalog
    out = tmp_path / "for_scamp.cat"
    ldac.save_table_as_ldac(ldac.get_table_from_ldac(str(cat)), str(out))
    reference = [a for key, value in sky.scamp_config().items() for a in (f"-{key}", value)]
    run_tool([binary, str(out), "-c", str(DEMO_CONFIG / "default.scamp"), *reference,
              "-CHECKPLOT_TYPE", "NONE", "-WRITE_XML", "N"], cwd=tmp_path)
    assert (tmp_path / "for_scamp.head").exists()
