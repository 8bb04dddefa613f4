"""TOML project files: validate, expand and build a :class:`~aw_tui.pipeline.Pipeline`."""

from aw_tui.project.loader import ExpandedStep, Project, ProjectError, StepRow, load_project

__all__ = ["ExpandedStep", "Project", "ProjectError", "StepRow", "load_project"]
