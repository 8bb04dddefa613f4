"""FITS_LDAC catalogs as astropy Tables (a public face of :mod:`aw_tui.astromatic.ldac`)."""

from aw_tui.astromatic.ldac import *  # noqa: F403 (the face re-exports the room's public names)
from aw_tui.astromatic.ldac import __all__  # noqa: F401
