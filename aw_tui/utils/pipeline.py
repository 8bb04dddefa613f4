"""``astromatic_wrapper.utils.pipeline`` as the original named it (aliases of
:mod:`aw_tui.pipeline`). Differences on purpose: ``docs/migrating.md``."""

from aw_tui.pipeline import (
    Pipeline,
    PipelineError,
    PipelineStep,
    check_path,
    create_paths,
    get_bool,
    str_2_bool,
)

__all__ = [
    "Pipeline",
    "PipelineError",
    "PipelineStep",
    "check_path",
    "create_paths",
    "get_bool",
    "str_2_bool",
]
