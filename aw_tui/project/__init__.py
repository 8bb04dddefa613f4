"""TOML project files: validate, expand and build a :class:`~aw_tui.pipeline.Pipeline`.

The room's modules, from the outside in:

- ``loader``: :func:`load_project`, which reads the file and runs the parts below in order;
- ``model``: what it gives, :class:`Project`, :class:`ExpandedStep`, :class:`StepRow`;
- ``steps``: the ``[[steps]]`` tables, checked and expanded (``StepLoader``);
- ``overrides``: per-member overrides of a ``foreach`` step (``[steps.items."KEY".kwargs]``);
- ``inputs``: the ``[inputs.NAME]`` sets, listed or globbed, with derived fields (``InputSets``);
- ``evaluate``: ``{...}`` references, compiled once and evaluated per item (``Evaluator``);
- ``scope``: the items, scopes and runs the evaluation works on;
- ``interpolate``: the template language itself (parsing, filters, typing);
- ``funcref``: a step's ``func`` (built-in, module or file), picklable;
- ``limits``: the limits that keep bad input from breaking anything (nesting, references, NUL,
  the run directory, counts, names);
- ``errors``: :class:`ProjectError`, the key path -> line finder and the ``Reporter``;
- ``schema``: the tables and keys a project file may hold, and the tool names;
- ``tomledit``: a step's kwargs as TOML for the TUI's editor;
- ``fileedit``: an edited step's kwargs written back to the project file (``e``), with
  ``kwargsdiff`` (which keys changed) and ``tomlplace`` (tomlkit changes that keep the layout).
"""

from aw_tui.project.loader import ExpandedStep, Project, ProjectError, StepRow, load_project

__all__ = ["ExpandedStep", "Project", "ProjectError", "StepRow", "load_project"]
