"""``astromatic_wrapper.utils.utils`` as the original named it (aliases of
:mod:`aw_tui.pipeline`)."""

from aw_tui.pipeline import get_bool, str_2_bool

__all__ = ["get_bool", "str_2_bool"]
