"""aw-tui: run AstrOmatic pipelines from Python, TOML, a terminal UI or a batch job."""

from aw_tui import api
from aw_tui.pipeline import Pipeline, PipelineError, PipelineStep, load_pipeline

__all__ = ["Pipeline", "PipelineError", "PipelineStep", "api", "load_pipeline"]
__version__ = "0.1.0"
