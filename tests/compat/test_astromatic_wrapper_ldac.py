"""The original astromatic_wrapper's LDAC tests, as scenarios against ``aw_tui.utils.ldac``.

The original read two catalogs from its test data (``test.ldac.fits``, one frame, and
``multiext.ldac.fits``, two frames) holding the two tables below. Here both files are made
with ``aw_tui.utils.ldac`` itself: ``save_table_as_ldac`` for the single frame, and the
HDUs of ``convert_table_to_ldac`` put one frame after the other for the multi-frame file.
The original compared header cards with its stored file; here the cards a FITS_LDAC reader
relies on are asserted (``docs/migrating.md``: the stored files are not copied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from aw_tui.utils import ldac

DTYPE = [("XWIN_WORLD", ">f8"), ("YWIN_WORLD", ">f8"), ("MAG_AUTO", ">f4")]
TABLES = [
    np.array([(220.59332925263806, 0.7538374873328122, -9.60145092010498),
              (220.5778728622028, 0.7502730046087462, -12.5360689163208),
              (220.61444985607636, 0.750653514185006, -9.78681755065918),
              (220.61804230607706, 0.7497301153836181, -6.500776767730713),
              (220.43532765178765, 0.8969403740644865, -13.243828773498535),
              (220.49598500579978, 0.8967630969635536, -7.345831871032715),
              (220.5077939858399, 0.8968532263340241, -8.0485200881958),
              (220.62280988628237, 0.8962803356404196, -7.721217155456543),
              (220.4305447443208, 0.8960707108954606, -10.320489883422852),
              (220.41366141203562, 0.8958679788408644, -7.686360836029053)], dtype=DTYPE),
    np.array([(220.50064966960093, 0.8955663781120097, -8.910843849182129),
              (220.4968801048523, 0.8954698962325842, -8.470935821533203),
              (220.59708436324044, 0.8952249600123433, -8.644355773925781),
              (220.587911968118, 0.8949625378106356, -7.812751770019531),
              (220.589755212534, 0.8944211816957558, -7.691015243530273),
              (220.42120144220732, 0.8942797762215124, -6.929902076721191),
              (220.5693232344265, 0.8932321555198349, -7.903119087219238),
              (220.5566775733446, 0.8927124746776108, -6.447216033935547),
              (220.38187525710657, 0.8923323696788624, -7.403841972351074),
              (220.629789321442, 0.8925150653438292, -6.726459503173828)], dtype=DTYPE),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    single = tmp_path / "test.ldac.fits"
    ldac.save_table_as_ldac(Table(TABLES[0]), str(single))
    multi = tmp_path / "multiext.ldac.fits"
    hdus = [fits.PrimaryHDU()]
    for data in TABLES:
        hdus += ldac.convert_table_to_ldac(Table(data))[1:]
    fits.HDUList(hdus).writeto(multi)
    return {"single": single, "multi": multi}


@pytest.mark.parametrize(("name", "frame"), [("single", 1), ("multi", 1), ("multi", 2)])
def test_get_table_from_ldac(files: dict[str, Path], name: str, frame: int) -> None:
    expected = Table(TABLES[frame - 1])
    table = ldac.get_table_from_ldac(str(files[name]), frame)
    assert table.colnames == expected.colnames
    assert len(table) == len(expected)
    for column in expected.colnames:
        assert np.array_equal(np.asarray(table[column]), np.asarray(expected[column]))


def _assert_ldac(hdulist: fits.HDUList) -> None:
    assert [hdu.name for hdu in hdulist] == ["PRIMARY", "LDAC_IMHEAD", "LDAC_OBJECTS"]
    imhead, objects = hdulist[1], hdulist[2]
    assert imhead.header["EXTNAME"] == "LDAC_IMHEAD"
    assert imhead.columns.names == ["Field Header Card"]
    assert imhead.header["TFORM1"].endswith("A")
    assert objects.header["EXTNAME"] == "LDAC_OBJECTS"
    assert objects.header["NAXIS2"] == 10
    assert [objects.header[f"TTYPE{i}"] for i in (1, 2, 3)] == [n for n, _ in DTYPE]
    assert [objects.header[f"TFORM{i}"].lstrip("1") for i in (1, 2, 3)] == ["D", "D", "E"]


def test_convert_table_to_ldac() -> None:
    _assert_ldac(ldac.convert_table_to_ldac(Table(TABLES[0])))


def test_save_table_as_ldac(tmp_path: Path) -> None:
    filename = tmp_path / "temp.ldac.fits"
    ldac.save_table_as_ldac(Table(TABLES[0]), str(filename))
    with fits.open(filename) as hdulist:
        _assert_ldac(hdulist)
        # The header cards are blank-padded, as SCAMP and PSFEx read them (no NUL bytes).
        assert b"\0" not in hdulist[1].data.tobytes()
    back = ldac.get_table_from_ldac(str(filename))
    assert np.array_equal(np.asarray(back["MAG_AUTO"]), TABLES[0]["MAG_AUTO"])
    # migrating.md: an existing file is not replaced unless overwrite=True (as writeto).
    with pytest.raises(OSError):
        ldac.save_table_as_ldac(Table(TABLES[1]), str(filename))
    ldac.save_table_as_ldac(Table(TABLES[1]), str(filename), overwrite=True)
    assert np.array_equal(np.asarray(ldac.get_table_from_ldac(str(filename))["MAG_AUTO"]),
                          TABLES[1]["MAG_AUTO"])
