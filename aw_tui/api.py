"""The seed's ``astromatic_wrapper.api``: ``Astromatic`` and ``run_sex/scamp/swarp/psfex``.

A public face: the code lives in :mod:`aw_tui.astromatic`. Scripts written for the seed call
``aw.api.run_sex`` and so on; project files name ``aw_tui.api.run_sex``.
"""

from aw_tui.astromatic.steps import *  # noqa: F403 (the face re-exports the room's public names)
from aw_tui.astromatic.steps import __all__  # noqa: F401
