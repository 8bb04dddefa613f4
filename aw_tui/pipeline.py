"""The seed's ``Pipeline``: steps with tags, selective runs, resume, and a crash-proof log.

The names and the meaning follow the ``astromatic_wrapper`` documentation this project
succeeds (``Pipeline(paths, build_paths=...)``, ``add_step``, ``run(run_tags, ignore_tags,
run_steps, resume, start_idx)``, ``steps``, ``run_steps``, ``run_step_idx``, ``func_kwargs``,
the dill checkpoint in ``paths['log']``). When ``paths['log']`` is set, progress goes to the
run directory described in ``docs/run-directory.md``. Nothing here imports Textual or TOML.
"""

from __future__ import annotations

import datetime
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from aw_tui.engine.errors import PipelineError, PipelineWarning, RunInterrupted
from aw_tui.engine.executors import Executor
from aw_tui.engine.loop import RunEngine
from aw_tui.engine.steps import PipelineStep, StepList, func_label, keyword_names
from aw_tui.rundir.checkpoint import (
    CheckpointError,
    find_checkpoint,
    load_checkpoint,
    replay_journal,
)
from aw_tui.rundir.store import RunStore

__all__ = [
    "Pipeline",
    "PipelineError",
    "PipelineStep",
    "PipelineWarning",
    "RunInterrupted",
    "check_path",
    "create_paths",
    "get_bool",
    "load_pipeline",
    "select_by_tags",
    "str_2_bool",
]


def str_2_bool(bool_str: str) -> bool:
    """Convert ``'true'/'false'``, ``'yes'/'no'`` or any prefix of them (any case) to a bool.

    Raises
    ------
    PipelineError
        When the text matches none of them.
    """
    lower = str(bool_str).strip().lower()
    if lower and ("true".startswith(lower) or "yes".startswith(lower)):
        return True
    if lower and ("false".startswith(lower) or "no".startswith(lower)):
        return False
    raise PipelineError(
        f"'{bool_str}' did not match a boolean expression (true/false, yes/no, t/f, y/n)"
    )


def get_bool(prompt: str) -> bool:
    """Ask a yes/no question on the terminal until the answer is one.

    Raises
    ------
    PipelineError
        When standard input is not a terminal (a batch job, a pipe): asking would hang or
        read garbage, so the caller must decide instead (e.g. ``create_paths=True``).
    """
    if sys.stdin is None or not sys.stdin.isatty():
        raise PipelineError(
            f"{prompt.strip()} -- cannot ask: standard input is not a terminal. Create the "
            "path yourself, or pass create_paths=True (aw-tui: --create-paths; in a project "
            "file: [pipeline] create_paths = true)."
        )
    while True:
        try:
            return str_2_bool(input(prompt))
        except PipelineError as exc:
            print(exc)
        except EOFError:
            raise PipelineError(f"{prompt.strip()} -- no answer (end of input)") from None


def create_paths(paths: str | Iterable[str]) -> None:
    """Create each path (with its parents) that does not exist yet.

    Raises
    ------
    PipelineError
        When a directory cannot be created.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in paths:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise PipelineError(
                f"cannot create directory {path}: {exc.strerror}; check its parent's "
                "permissions or choose another path"
            ) from None


def check_path(path: str, auto_create: bool = False) -> None:
    """Make sure ``path`` exists: create it if ``auto_create``, otherwise ask (y/n).

    Raises
    ------
    PipelineError
        When the user declines, or when asking is impossible (see :func:`get_bool`).
    """
    if os.path.exists(path):
        return
    if auto_create or get_bool(f"'{path}' does not exist, create (y/n)? "):
        create_paths(path)
    else:
        raise PipelineError(f"{path} does not exist")


def select_by_tags(steps: Iterable[Any], run_tags: Iterable[str] = (),
                   ignore_tags: Iterable[str] = ()) -> list[Any]:
    """The steps a run with these tags runs (the seed's rule): those with a tag of
    ``run_tags`` (all when it is empty) and none of ``ignore_tags``."""
    run_tags = list(run_tags or [])
    ignore_tags = list(ignore_tags or [])
    return [step for step in steps
            if (not run_tags or any(tag in run_tags for tag in step.tags))
            and not any(tag in ignore_tags for tag in step.tags)]


class Pipeline:
    """A list of steps to run in order, with tags, resume and a checkpoint in ``paths['log']``.

    Parameters
    ----------
    paths : dict
        Named folders (``'temp'``, ``'log'``, ``'config'``, ``'catalogs'`` ...). Each key
        ``k`` is also the attribute ``k_path``. Missing folders are created when
        ``create_paths`` is true, otherwise the user is asked (an error when nobody can
        answer: no terminal).
    pipeline_name : str, optional
        Defaults to the current date and time (``2026-11-24_18-43-05_pipeline``).
    next_id : int
        The id of the first step added.
    create_paths : bool
        Create missing paths without asking.
    build_paths : dict, optional
        The command for each tool (``{'SExtractor': '/opt/sex/bin/sex', 'SWarp': ...}``).
    **kwargs
        Become attributes of the pipeline.
    """

    def __init__(
        self,
        paths: dict[str, str] | None = None,
        pipeline_name: str | None = None,
        next_id: int = 0,
        create_paths: bool = False,
        build_paths: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.paths: dict[str, str] = dict(paths or {})
        self.build_paths: dict[str, str] = dict(build_paths or {})
        self.create_paths = create_paths
        self.name = pipeline_name or datetime.datetime.now().strftime(
            "%Y-%m-%d_%H-%M-%S_pipeline"
        )
        self.steps: StepList = StepList()
        self.next_id = next_id
        self.run_steps: list[PipelineStep] | None = None
        self.run_step_idx = 0
        self.run_name: str | None = None
        self.run_warnings = None
        #: Ids of the steps of ``run_steps`` that finished in this run (resume skips them).
        self.completed_step_ids: set[int] = set()
        #: ``seq`` of the last journal event this checkpoint includes.
        self.journal_seq = 0
        #: The run directory's writer while a run is going on (never pickled).
        self.run_store: RunStore | None = None
        for key, value in kwargs.items():
            setattr(self, key, value)
        if not isinstance(self.steps, StepList):  # Pipeline(..., steps=[...]) as in the seed
            self.steps = StepList(self.steps or [])
            if self.steps:
                ids = [s.step_id for s in self.steps if isinstance(s, PipelineStep)]
                self.next_id = max([self.next_id, *(i + 1 for i in ids)])
        for path in self.paths.values():
            check_path(path, self.create_paths)
        if "temp" not in self.paths:
            warnings.warn(
                "'temp' path has not been set for the pipeline. If this pipeline generates "
                "temporary files an error may occur",
                PipelineWarning,
                stacklevel=2,
            )
        if "log" not in self.paths:
            warnings.warn(
                "'log' path has not been set for the pipeline. Log files will not be saved "
                "and a crashed run cannot be resumed from disk.",
                PipelineWarning,
                stacklevel=2,
            )

    # -- attributes ---------------------------------------------------------------------
    @property
    def pipeline_name(self) -> str:
        """The pipeline's name (same as ``name``)."""
        return self.name

    def __getattr__(self, attr: str) -> Any:
        # Only called when normal lookup fails: 'config_path' -> paths['config'].
        if attr.endswith("_path") and attr != "_path":
            paths = self.__dict__.get("paths", {})
            key = attr[: -len("_path")]
            if key in paths:
                return paths[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{attr}'")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["run_store"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Checkpoints written before these attributes became public used private names.
        state.setdefault("completed_step_ids", state.pop("_completed", set()))
        state.setdefault("journal_seq", state.pop("_journal_seq", 0))
        state.pop("_store", None)
        state.setdefault("run_name", None)
        state["run_store"] = None
        if not isinstance(state.get("steps"), StepList):
            state["steps"] = StepList(state.get("steps") or [])
        self.__dict__.update(state)

    @property
    def log_dir(self) -> str | None:
        """The run directory (``paths['log']``), or None."""
        return self.paths.get("log")

    # -- building -----------------------------------------------------------------------
    def add_step(
        self,
        func: Callable[..., Any],
        tags: Iterable[str] | None = None,
        ignore_errors: bool = False,
        ignore_exceptions: bool = False,
        independent: bool = False,
        group: str | None = None,
        timeout: float | None = None,
        checks: Iterable[str] | None = None,
        check_severity: str = "error",
        **kwargs: Any,
    ) -> PipelineStep:
        """Append a step that calls ``func(**kwargs)``.

        Parameters
        ----------
        func : callable
            The function to run; it should return a dict with a ``status`` key.
        tags : list of str
            Labels to select steps by when running.
        ignore_errors, ignore_exceptions : bool
            Go on past an ``error`` result / an exception of this step.
        independent : bool
            Declare that this step does not depend on its independent neighbours of the
            same ``group``, so a parallel executor may run them at once.
        group : str, optional
            The group of independent steps (defaults to the tags joined, for independent
            steps).
        timeout : float, optional
            Seconds the step may run: past them the tools it runs are stopped (their whole
            process groups) and the step is recorded as an ``error`` whose message names
            the timeout (``ignore_errors`` applies). None: no limit.
        checks : list of str, optional
            Quality checks on the step's summary, e.g. ``["fwhm_mean < 3.5"]``
            (:mod:`aw_tui.engine.checks`): a failing one makes the step an ``error``...
        check_severity : str
            ... or, with ``"warn"``, a success with a ``warn`` verdict.
        **kwargs
            Keyword arguments of ``func`` (its ``func_kwargs``).

        Returns
        -------
        PipelineStep
            The new step (also appended to ``steps``).

        Raises
        ------
        ValueError
            When ``timeout`` is not a positive number of seconds, or a check is not
            ``FIELD OP NUMBER``.
        """
        if not callable(func):
            raise TypeError(f"add_step needs a function, got {func!r}")
        tags = list(tags or [])
        if independent and group is None:
            group = "|".join(tags) or func_label(func)
        step = PipelineStep(
            func,
            self.next_id,
            tags,
            ignore_errors,
            ignore_exceptions,
            kwargs,
            independent=independent,
            group=group if independent else None,
            timeout=timeout,
            checks=checks,
            check_severity=check_severity,
        )
        self.next_id += 1
        self.steps.append(step)
        return step

    def get_step(self, step_id: int) -> PipelineStep:
        """The step with ``step_id``.

        Raises
        ------
        KeyError
            When no step has that id.
        """
        steps = self.steps
        if isinstance(step_id, int) and 0 <= step_id < len(steps):
            guess = steps[step_id]  # ids are usually positions: no scan of 100,000 steps
            if guess.step_id == step_id:
                return guess
        for step in steps:
            if step.step_id == step_id:
                return step
        raise KeyError(f"no step with id {step_id}")

    # -- results ------------------------------------------------------------------------
    def get_result_table(self, key: str, meta_fields: Iterable[str] = ()) -> Any:
        """Stack one table-valued result key (e.g. ``'warnings'``) of every step.

        Each row gets the ``step`` id and ``func`` name of its step, plus a column for each
        name in ``meta_fields`` taken from the table's ``meta`` (e.g. ``'filename'``, the
        XML log it came from). The steps' own tables are not modified.

        Returns
        -------
        astropy.table.Table or None
            None when no step has a table under ``key``.
        """
        if not any(isinstance(step.results, dict) and key in step.results
                   for step in self.steps):
            return None  # nothing to stack: spare every run the import of astropy
        import numpy as np  # lazy: slow import
        from astropy.table import Table, vstack  # lazy: slow import

        tables = []
        for step in self.steps:
            if not isinstance(step.results, dict) or key not in step.results:
                continue
            table = step.results[key]
            if key == "warnings" and not isinstance(table, Table):
                # AstrOmatic steps list their warnings as text; the XML's table is here.
                table = step.results.get("warnings_table")
            if not isinstance(table, Table):
                continue
            table = table.copy(copy_data=True)
            table["step"] = np.full(len(table), step.step_id, dtype=np.int64)
            table["func"] = np.full(len(table), step.func_name, dtype=object).astype(str)
            for name in meta_fields:
                if name in table.meta:
                    table[name] = np.full(len(table), str(table.meta[name]), dtype=object
                                          ).astype(str)
                else:
                    warnings.warn(f"'{name}' not found in table metadata", PipelineWarning,
                                  stacklevel=2)
            tables.append(table)
        if not tables:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vstack(tables, metadata_conflicts="silent")

    # -- running ------------------------------------------------------------------------
    def _canonical(self, step: PipelineStep) -> PipelineStep:
        """The object in ``steps`` for ``step`` (a reloaded list may hold copies)."""
        for candidate in self.steps:
            if candidate is step:
                return step
        try:
            return self.get_step(step.step_id)
        except KeyError:
            return step

    def select_steps(
        self,
        run_tags: Iterable[str] = (),
        ignore_tags: Iterable[str] = (),
        run_steps: Iterable[PipelineStep] | None = None,
        resume: bool = False,
    ) -> list[PipelineStep]:
        """The steps a ``run`` with these arguments would schedule (the seed's rules)."""
        run_tags = list(run_tags or [])
        ignore_tags = list(ignore_tags or [])
        if run_steps is not None:
            chosen = list(run_steps)
        elif self.run_steps is None or not resume:
            chosen = list(self.steps)
        else:
            chosen = list(self.run_steps)
        chosen = select_by_tags(chosen, run_tags, ignore_tags)
        # The objects of ``steps`` (a reloaded list may hold copies), found in one pass:
        # _canonical per step would scan ``steps`` each time (quadratic in the steps).
        own = {id(step) for step in self.steps}
        by_id = {step.step_id: step for step in reversed(self.steps)}
        return [
            step if id(step) in own else by_id.get(step.step_id, step) for step in chosen
        ]

    def run(
        self,
        run_tags: Iterable[str] = (),
        ignore_tags: Iterable[str] = (),
        run_steps: Iterable[PipelineStep] | None = None,
        run_name: str | None = None,
        resume: bool = False,
        ignore_errors: bool | None = None,
        ignore_exceptions: bool | None = None,
        start_idx: int | None = None,
        executor: Executor | None = None,
        output_listeners: list[Callable[[bytes], None]] | None = None,
        deadline: float | None = None,
        expected_seconds: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Run the selected steps in order, from ``run_step_idx``.

        Parameters
        ----------
        run_tags : list of str
            Run only steps with one of these tags (all steps when empty).
        ignore_tags : list of str
            Never run steps with one of these tags; they win over ``run_tags``.
        run_steps : list of PipelineStep, optional
            Run exactly these steps (then filtered by the tags) instead of ``steps``.
        run_name : str, optional
            Names the checkpoint ``pipeline-<run_name>.p`` in the log folder.
        resume : bool
            Keep ``run_steps`` and ``run_step_idx`` from the last run and go on from there.
            Steps that finished are never run again; the one that failed or was
            interrupted is.
        ignore_errors, ignore_exceptions : bool, optional
            Override every step's own flag; None (default) defers to each step.
        start_idx : int, optional
            Start at this index of ``run_steps`` (with ``resume=False`` the selection is
            made afresh first, as in the seed).
        executor : Executor, optional
            How to run groups of independent steps (see :mod:`aw_tui.engine.executors`); the
            default runs every step in this process, one after the other.
        output_listeners : list of callables, optional
            Called with each raw chunk the tools print (besides ``steps/<id>.out``).
        deadline : float, optional
            When the allocation ends (``time.time()``): a step whose expected duration
            would outlast it is not started; the run stops cleanly (interrupted, reason
            ``walltime: ...``) and resumes there. ``aw-tui --batch`` sets it in a Slurm job.
        expected_seconds : dict, optional
            Expected duration of a step by its function's name (from earlier runs); this
            run's own durations take over as they come.

        Returns
        -------
        dict
            ``{'status': 'success', 'warnings': <table of all steps' warnings or None>}``.

        Raises
        ------
        PipelineError
            When a step returned ``error`` or raised and that was not ignored. The run
            stops with ``run_step_idx`` on that step, and the checkpoint says so.
        KeyboardInterrupt
            Ctrl-C, or :class:`RunInterrupted` for SIGTERM/SIGHUP/a stop request; the
            step is recorded as interrupted and the checkpoint written.
        aw_tui.engine.errors.RunDirectoryError
            When ``paths['log']`` cannot be written (disk full, over quota, read-only, no
            permission; exit code 2): the run stops as interrupted and can be resumed once
            the folder is writable.
        """

        selected = self.select_steps(run_tags, ignore_tags, run_steps, resume)
        if not resume or self.run_steps is None:
            self.completed_step_ids = set()
        self.run_steps = selected
        if start_idx is not None:
            if not 0 <= start_idx <= len(self.run_steps):
                raise PipelineError(
                    f"start_idx {start_idx} is outside run_steps (0..{len(self.run_steps)})"
                )
            self.run_step_idx = start_idx
            later = {step.step_id for step in self.run_steps[start_idx:]}
            self.completed_step_ids -= later
        elif not resume:
            self.run_step_idx = 0
        self.run_name = run_name
        engine = RunEngine(
            self,
            run_name=run_name,
            resume=resume,
            ignore_errors=ignore_errors,
            ignore_exceptions=ignore_exceptions,
            executor=executor,
            listeners=output_listeners,
            deadline=deadline,
            expected_seconds=expected_seconds,
        )
        engine.execute()
        return {
            "status": "success",
            "warnings": self.get_result_table("warnings", ["filename"]),
        }

    def call_step(self, step: PipelineStep) -> Any:
        """Call a step's function with its kwargs (plus ``pipeline``/``step_id`` if wanted)."""
        func_kwargs = dict(step.func_kwargs)
        names = keyword_names(step.func)
        if "step_id" in names:
            func_kwargs["step_id"] = step.step_id
        if "pipeline" in names:
            func_kwargs["pipeline"] = self
        return step.func(**func_kwargs)


def load_pipeline(path: str, run_name: str | None = None) -> Pipeline:
    """Load a pipeline in the exact state its run reached, even after ``kill -9``.

    Parameters
    ----------
    path : str
        A run directory (``paths['log']``) or a checkpoint file in one.
    run_name : str, optional
        Which ``pipeline-<run_name>.p`` to load from a run directory.

    Returns
    -------
    Pipeline
        The checkpoint with the journal's later events (finished steps' results, edits,
        the step in progress) replayed over it, ready for ``run(resume=True)``.

    Raises
    ------
    CheckpointError
        When there is no checkpoint, it is unsafe to load (not yours, or writable by
        others), or it is damaged.
    """
    checkpoint = find_checkpoint(path, run_name)
    pipeline = load_checkpoint(checkpoint)
    if not isinstance(pipeline, Pipeline):
        raise CheckpointError(f"{checkpoint} does not hold an aw_tui Pipeline")
    replay_journal(pipeline, os.path.dirname(os.path.abspath(checkpoint)))
    return pipeline


