"""Synthetic skies with a known truth (a public face of :mod:`aw_tui.demo.sky`)."""

from aw_tui.demo.sky import *  # noqa: F403 (the face re-exports the room's public names)
from aw_tui.demo.sky import __all__  # noqa: F401
