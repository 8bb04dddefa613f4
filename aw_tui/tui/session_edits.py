"""What ``e`` does in the TUI's :class:`~aw_tui.tui.session.Session`: a step's kwargs
edited in the project file, through the live runner, or in the checkpoint (no Textual).

:class:`SessionEdits` is the session's edit half; the session owns the state it reads
(``pipeline``, ``target``, ``state``, ``log_dir``) and :meth:`SessionEdits._adopt` decides
what an edited pipeline replaces.
"""

from __future__ import annotations

import contextlib
import copy
import os
from dataclasses import dataclass
from typing import Any

from aw_tui.project.fileedit import (
    FileEditError,
    KwargsEdit,
    ProjectSnapshot,
    read_snapshot,
    set_step_kwargs,
)
from aw_tui.rundir import control
from aw_tui.rundir.vocabulary import DONE_STATUSES, RUNNING

__all__ = ["EditOutcome", "EditTarget", "SessionEdits"]

@dataclass
class EditOutcome:
    """What happened to an edit: ``applied`` now, ``requested`` from the live runner,
    ``refused``, or ``unchanged`` (nothing differed)."""

    how: str
    message: str


@dataclass
class EditTarget:
    """What ``e`` edits: a step's kwargs as the table shows them and, for a step of a TOML
    project, the project file as read when the edit began.

    Attributes
    ----------
    step_id : int
    kwargs : dict
        The step's kwargs (the pipeline's: what the editor shows).
    func_name : str
    identity : str or None
        The step's identity in its project (``detect[206401]``).
    snapshot : ProjectSnapshot or None
        The project file (None: the edit goes to the checkpoint, as for a Python pipeline).
    members : int
        For a member of a ``foreach`` step, how many members the step has (else 0): the
        edit may then go to the step's template or to this member only.
    """

    step_id: int
    kwargs: dict[str, Any]
    func_name: str
    identity: str | None = None
    snapshot: ProjectSnapshot | None = None
    members: int = 0



class SessionEdits:
    """The edit half of :class:`~aw_tui.tui.session.Session` (a mixin: the session holds the
    state)."""

    pipeline: Any
    target: Any
    state: Any
    caught_up: bool
    _editing: Any
    log_dir: Any

    @contextlib.contextmanager
    def _holding_lock(self) -> Any:
        """While this session takes the run directory's lock to edit the checkpoint."""
        self._editing.set()
        try:
            yield
        finally:
            self._editing.clear()

    def edit_target(self, step_id: int) -> EditTarget:
        """What ``e`` on ``step_id`` edits; for a step of a TOML project, the project file
        is read now (blocking: call it from a thread).

        Raises
        ------
        ProjectError
            The project file has errors (fix them first).
        FileEditError
            The step is no longer in the project file.
        """
        step = self.pipeline.get_step(step_id)
        identity = getattr(step, "identity", None)
        target = EditTarget(step_id, step.func_kwargs, step.func_name, identity)
        if self.target.project is None or not identity:
            return target
        snapshot = read_snapshot(self.target.path)
        found = [s for s in snapshot.project.steps if s.identity == identity]
        if not found:
            name = os.path.basename(self.target.path)
            raise FileEditError(
                f"step {step_id} ({identity}) is no longer in {name}: this run's step was "
                "removed or renamed in the file since",
                f"edit {name} itself, or start the run afresh from it (r)")
        target.snapshot = snapshot
        if found[0].item_key is not None:
            target.members = sum(1 for s in snapshot.project.steps if s.entry == found[0].entry)
        return target

    def edit(self, step_id: int, func_kwargs: dict[str, Any],
             target: EditTarget | None = None, member_only: bool = False,
             replace_references: bool = False) -> EditOutcome:
        """Replace a step's kwargs.

        A step of a TOML project is written to the project file (only what changed; to the
        template or, ``member_only``, to this member's override, see
        :func:`aw_tui.project.fileedit.set_step_kwargs`); the steps the new file changes
        then get their new kwargs from the live runner (``control/``) or in the checkpoint,
        so that the run and the file agree. Other steps: through the live runner, or in the
        checkpoint now.

        Raises
        ------
        ReferenceEditError
            The edit would replace references of the file (ask, then pass
            ``replace_references=True``).
        FileEditError, ProjectError
            The edit cannot be written to the project file (nothing was written).
        """
        if self.pipeline is None or not self.log_dir:
            return EditOutcome("refused", "nothing is loaded")
        if target is None:
            target = self.edit_target(step_id)
        if target.snapshot is None:
            return self._edit_pipeline(step_id, func_kwargs)
        live = self.lock() is not None
        if live:
            refusal = self._live_refusal(step_id)
            if refusal is not None:
                return refusal
        ids = {s.identity: s.step_id for s in self.steps() if getattr(s, "identity", None)}

        def not_started(changed: list[str]) -> None:
            started = [i for i in changed if i in ids and self._has_started(ids[i])]
            if live and started:
                raise FileEditError(
                    f"{', '.join(started[:3])}{' and more' if len(started) > 3 else ''} "
                    f"{'has' if len(started) == 1 else 'have'} started in the live run: not "
                    "written",
                    "edit after the run ends, or only a member that has not started (m)")

        edit = set_step_kwargs(target.snapshot, target.identity or step_id, func_kwargs,
                               member_only=member_only, replace_references=replace_references,
                               base=target.kwargs, before_write=not_started)
        if not edit.written:
            return EditOutcome("unchanged", f"step {step_id}: nothing changed, "
                                            f"{os.path.basename(edit.path)} is untouched")
        self.target.project = edit.project
        return self._follow_file_edit(edit, ids, live, step_id,
                                      target.snapshot.project.fingerprint)

    def _follow_file_edit(self, edit: KwargsEdit, ids: dict[str, int], live: bool,
                          step_id: int, before: str) -> EditOutcome:
        """Give the steps a file edit changed their new kwargs: through the live runner, in
        the checkpoint (under the lock), or in the loaded pipeline."""
        kwargs = {s.identity: s.kwargs for s in edit.project.steps}
        updates = [(ids[i], copy.deepcopy(kwargs[i])) for i in edit.changed_steps if i in ids]
        shown = "; ".join(c.describe() for c in edit.changes[:2]) + (
            f" (+{len(edit.changes) - 2} more)" if len(edit.changes) > 2 else "")
        scope = (f" (only {edit.identity})" if edit.where == "member"
                 else f" ({len(edit.changed_steps)} steps)" if len(edit.changed_steps) > 1
                 else "")
        saved = f"step {step_id} saved to {os.path.basename(edit.path)}{scope}"
        if live:
            for sid, new in updates:
                control.request_edit(self.log_dir or "", sid, new)
            return EditOutcome("requested", f"{saved}, sent to the live run (it applies when "
                                            f"each step starts): {shown}")
        if self.has_checkpoint() and updates:
            self._edit_checkpoint(updates, before, edit.project.fingerprint)
            return EditOutcome("applied", f"{saved} and the checkpoint: {shown}")
        for sid, new in updates:
            self.pipeline.get_step(sid).func_kwargs = new
        return EditOutcome("applied", f"{saved}: {shown}")

    def _edit_checkpoint(self, updates: list[tuple[int, dict[str, Any]]], before: str,
                         after: str) -> None:
        """Apply the new kwargs of the steps a file edit changed to the checkpoint (one
        edit each, under the lock); a checkpoint that matched the file (fingerprint
        ``before``) matches it after (``after``)."""
        loaded: list[Any] = []

        def current() -> Any:
            # The run directory's state (under the lock), read once, as _edit_pipeline does.
            if not loaded:
                pipeline = self._load_checkpoint(self.target.checkpoint or self.log_dir or "")
                if before and getattr(pipeline, "project_fingerprint", None) == before:
                    pipeline.project_fingerprint = after
                loaded.append(pipeline)
            return loaded[0]

        with self._holding_lock():
            for sid, new in updates:
                edited, _ = control.apply_edit_without_runner(
                    self.log_dir or "", self.pipeline.run_name, sid, new, current,
                    source="tui")
                self._adopt(edited, sid)

    def _adopt(self, edited: Any, step_id: int) -> None:
        """After an edit written to the checkpoint: show the edited pipeline, or, for steps
        held light (:mod:`aw_tui.tui.light`), the edited step's new kwargs only."""
        if not getattr(self, "light", False):
            self.pipeline = edited
            return
        with contextlib.suppress(KeyError):
            self.pipeline.get_step(step_id).func_kwargs = edited.get_step(step_id).func_kwargs

    def _has_started(self, step_id: int) -> bool:
        status = self.state.steps.get(step_id)
        return status is not None and (status.status == RUNNING
                                       or status.status in DONE_STATUSES)

    def _live_refusal(self, step_id: int) -> EditOutcome | None:
        """Why an edit of ``step_id`` cannot go to the live run, or None."""
        if not self.caught_up:  # which steps have started is not known yet
            return EditOutcome(
                "refused", "still reading the run's journal: try again in a moment"
            )
        status = self.state.steps.get(step_id)
        if status is not None and (status.status == RUNNING or status.status in DONE_STATUSES):
            return EditOutcome(
                "refused",
                f"step {step_id} has already {'started' if status.status == RUNNING else 'run'} "
                "in the live run; edit it after the run ends, then continue",
            )
        return None

    def _edit_pipeline(self, step_id: int, func_kwargs: dict[str, Any]) -> EditOutcome:
        """Replace a step's kwargs: through the live runner, or in the checkpoint now."""
        if self.lock() is not None:
            refusal = self._live_refusal(step_id)
            if refusal is not None:
                return refusal
            control.request_edit(self.log_dir or "", step_id, func_kwargs)
            return EditOutcome(
                "requested", f"edit of step {step_id} sent to the live run: it applies when "
                "that step starts"
            )

        def current() -> Any:
            # The pipeline loaded when the app opened knows nothing of the runs since
            # (finished steps, run_step_idx): writing it back would make a resume run them
            # again. Take the run directory's state (under the lock), then apply the edit.
            if self.has_checkpoint():
                return self._load_checkpoint(self.target.checkpoint or self.log_dir or "")
            return self.pipeline

        with self._holding_lock():
            edited, written = control.apply_edit_without_runner(
                self.log_dir or "", self.pipeline.run_name, step_id, func_kwargs, current,
                source="tui"
            )
            self._adopt(edited, step_id)
        if self.target.checkpoint is None:
            self.target.checkpoint = written
        return EditOutcome("applied", f"step {step_id} saved to {written}")
