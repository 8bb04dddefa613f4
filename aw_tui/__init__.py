"""aw-tui: run AstrOmatic pipelines from Python, TOML, a terminal UI or a batch job."""

from typing import Any

from aw_tui import api
from aw_tui.pipeline import Pipeline, PipelineError, PipelineStep, load_pipeline

__all__ = ["Pipeline", "PipelineError", "PipelineStep", "api", "load_pipeline", "results"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``aw_tui.results(log_dir)``: the results table, imported on first use (astropy)."""
    if name == "results":
        from aw_tui.report.results import results  # lazy: astropy is slow to import

        return results
    raise AttributeError(f"module 'aw_tui' has no attribute {name!r}")
