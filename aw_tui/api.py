"""The seed's ``astromatic_wrapper.api``: ``Astromatic`` and ``run_sex/scamp/swarp/psfex``.

A public face: the code lives in :mod:`aw_tui.astromatic` (``command`` builds and runs a
tool's command line, ``steps`` holds the pipeline step functions). Scripts written for the
seed call ``aw.api.run_sex`` and so on; project files name ``aw_tui.api.run_sex``.
"""

from aw_tui.astromatic.command import ApiError, Astromatic, AstromaticError, ToolCall, codes
from aw_tui.astromatic.steps import run_psfex, run_scamp, run_sex, run_swarp

__all__ = [
    "ApiError",
    "Astromatic",
    "AstromaticError",
    "ToolCall",
    "codes",
    "run_psfex",
    "run_scamp",
    "run_sex",
    "run_swarp",
]
