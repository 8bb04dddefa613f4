"""Progress inside the running steps, as the TUI shows it (no Textual here).

The progress comes from the tools' own output (:mod:`aw_tui.astromatic.progress`, described
in ``docs/progress.md``); :class:`RunningProgress` reads it for the steps the journal says
are running, a small read of each step's ``steps/<id>.out`` a look. The step table shows a
bar in the running step's summary cell (:func:`progress_bar`), the header the richest form
that fits its width (:func:`header_progress`).
"""

from __future__ import annotations

from typing import Any

from aw_tui.astromatic.progress import Progress, ProgressTracker
from aw_tui.rundir.layout import RunLayout

__all__ = ["PROGRESS_INTERVAL", "RunningProgress", "header_progress", "progress_bar"]

PROGRESS_INTERVAL = 0.5
"""Seconds between two looks at the running steps' output."""

_EIGHTHS = " ▏▎▍▌▋▊▉"


def progress_bar(fraction: float | None, cells: int) -> str:
    """A bar of `cells` characters filled to `fraction` (eighths of a cell) on a light
    shade, e.g. ``████▌░░░░░`` for 0.45 in 10 cells; a stage without a count gives blanks.

    >>> progress_bar(0.45, 10), progress_bar(1.0, 4), progress_bar(None, 3)
    ('████▌░░░░░', '████', '   ')
    """
    if fraction is None or cells <= 0:
        return " " * max(cells, 0)
    eighths = round(min(max(fraction, 0.0), 1.0) * cells * 8)
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest else "")
    return (text + "░" * cells)[:cells]


def header_progress(progress: dict[int, Progress], stage_chars: int = 22) -> list[str]:
    """The running step's progress for the header, from the richest form to the shortest
    (the app shows the first that fits): `` ▶ step 4 ███▍░░ 57% Resampling (file 2)``,
    `` ▶ step 4 ███▍░░ 57%``, `` ▶ ██▎░ 57%``, `` ▶ 57%``; ``+N`` when N more steps run
    with progress.
    Empty without progress."""
    if not progress:
        return []
    step_id = min(progress)
    found = progress[step_id]
    label = found.label()
    if len(label) > stage_chars:
        label = label[: stage_chars - 1] + "…"
    more = f" +{len(progress) - 1}" if len(progress) > 1 else ""
    percent = found.percent
    if percent is None:  # a stage without a count: its name, else only the step
        return [f" ▶ step {step_id} {label}{more}", f" ▶ step {step_id}{more}"]
    bar = f"{progress_bar(found.fraction, 6)} "
    return [f" ▶ step {step_id} {bar}{percent}% {label}{more}",
            f" ▶ step {step_id} {bar}{percent}%{more}",
            f" ▶ {progress_bar(found.fraction, 4)} {percent}%{more}", f" ▶ {percent}%{more}"]


class RunningProgress:
    """Follows the output files of the steps a session's journal says are running."""

    def __init__(self) -> None:
        self._tracker = ProgressTracker()
        self._last: dict[int, Progress] = {}

    def poll(self, session: Any) -> dict[int, Progress] | None:
        """Read the running steps' new output (blocking: call it from a thread).

        Returns
        -------
        dict or None
            step id -> progress, or None when nothing changed since the last call.
        """
        log_dir = session.log_dir
        running = session.state.running_steps() if log_dir else []
        layout = RunLayout(log_dir or ".")
        found = self._tracker.poll({st.step_id: layout.step_output(st.step_id)
                                    for st in running})
        if found == self._last:
            return None
        self._last = found
        return dict(found)
