"""``aw-tui status PROJECT``: the last or live run of a project or run directory.

It reads the journal and the lock (never writes), works from another host on a shared file
system, and says what ``--resume`` would do with the checkpoint, refusal included. On a
folder of several projects or runs, ``aw-tui status DIR`` lists every run, one row each
(:mod:`aw_tui.survey`), as the dashboard of ``aw-tui DIR`` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from aw_tui.astromatic.summaries import format_summary
from aw_tui.base.errors import EXIT_OK, AwTuiError
from aw_tui.base.text import inert
from aw_tui.cli.common import ArgumentParser, error_text, fail, print_table
from aw_tui.launchers.slurm import job_status, read_launcher
from aw_tui.rundir.freshness import Freshness
from aw_tui.rundir.journal import RunState, read_events, verify_journal
from aw_tui.rundir.store import read_lock
from aw_tui.rundir.vocabulary import DONE_STATUSES, INTERRUPTED, RUNNING, count_done
from aw_tui.survey import COLUMNS, find_runs, names_one_run, row_cells, survey_row
from aw_tui.target import Target, resolve_target, resume_plan, resume_verdict

__all__ = ["cmd_status", "describe_state", "run_status", "survey_status"]


def run_status(log_dir: str) -> dict[str, Any]:
    """The state of the last or live run of a run directory, as plain data."""
    state = RunState.from_events(read_events(log_dir))
    lock = read_lock(log_dir)
    live = lock is not None and lock.is_alive()
    run_state = state.state
    if run_state == RUNNING and not live:
        run_state = "dead"
    now = time.time()
    steps = []
    for index, step_id in enumerate(state.run_steps):
        st = state.step(step_id)
        steps.append({
            "index": index, "step_id": step_id, "status": st.status, "tags": st.tags,
            "func": st.func, "duration": st.duration, "summary": st.summary,
            "error_msg": st.error_msg, "host": st.host, "worker": st.worker,
            "verdict": st.verdict, "warnings": list(st.warnings),
        })
    return {
        "log_dir": os.path.abspath(log_dir),
        "state": run_state,
        "pipeline_name": state.pipeline_name,
        "run_name": state.run_name,
        "host": lock.host if live and lock else state.host,
        "pid": lock.pid if live and lock else state.pid,
        "live": live,
        "started": state.started,
        "ended": state.ended,
        "elapsed": state.elapsed(now),
        # Only a live runner has time left: a dead one's run is not going anywhere.
        "remaining": state.estimate_remaining(now) if live else None,
        "counts": state.counts(),
        "failed_step": state.failed_step,
        "failed_index": state.failed_index,
        "error_msg": state.error_msg,
        "reason": state.reason,
        "steps": steps,
    }


def resume_status(target: Target, status: dict[str, Any]) -> dict[str, Any]:
    """What ``--resume`` would do with the target's checkpoint, as plain data; the steps of
    ``status`` get their state now (:func:`add_freshness`)."""
    verdict = resume_verdict(target)
    if verdict.refusal is not None:
        return {"checkpoint": verdict.checkpoint, "refused": error_text(verdict.refusal)}
    if verdict.pipeline is not None:
        plan = resume_plan(target, verdict.pipeline)
        add_freshness(status, plan.freshness)
        return {"checkpoint": verdict.checkpoint, "refused": None,
                "would_run": [{"index": i, "step": name, "why": why}
                              for i, name, why in plan.to_run]}
    return {"checkpoint": verdict.checkpoint, "refused": None}


def add_freshness(status: dict[str, Any], freshness: Freshness) -> None:
    """Give each step of ``status`` its identity, ``stale`` and ``stale_reasons``; a stale
    step's status word becomes ``stale`` (its last result stays in ``previous_status``);
    steps of the project that the run does not have yet are added as ``pending``, and
    the steps removed from the project are listed in ``removed``."""
    by_id = {s.step_id: s for s in freshness.states if s.step_id is not None}
    counts = status.setdefault("counts", {})
    seen = set()
    for step in status.get("steps", []):
        state = by_id.get(step["step_id"])
        if state is None:
            step.update(step=None, stale=False, stale_reasons=[])
            continue
        seen.add(state.identity)
        stale = state.state == "stale" and step["status"] != "running"
        step.update(step=state.identity, stale=stale,
                    stale_reasons=list(state.reasons) if stale else [])
        # Never an old result shown as done: a stale step says so, a step that has not
        # finished since (a resume scheduled it) is pending.
        now = "stale" if stale else (
            "pending" if state.state == "pending" and step["status"] in DONE_STATUSES else None)
        if now:
            counts[step["status"]] = max(0, counts.get(step["status"], 0) - 1)
            step["previous_status"], step["status"] = step["status"], now
            counts[now] = counts.get(now, 0) + 1
    for index, state in enumerate(freshness.states):
        if state.identity in seen:
            continue
        status.setdefault("steps", []).append({
            "index": index, "step_id": state.step_id, "step": state.identity,
            "status": "pending", "tags": [], "func": None, "duration": None, "summary": {},
            "error_msg": None, "host": None, "worker": None, "verdict": None,
            "warnings": [], "stale": False, "stale_reasons": list(state.reasons),
        })
        counts["pending"] = counts.get("pending", 0) + 1
    counts.setdefault("stale", 0)
    status["removed"] = [{"step": s.identity, "step_id": s.step_id} for s in freshness.removed]


def job_status_of(log_dir: str | None) -> dict[str, Any] | None:
    """The Slurm job running the run (``launcher.json``), as Slurm says now; None without."""
    job = read_launcher(log_dir) if log_dir else None
    if job is None:
        return None
    try:
        return job_status(job.job_id).to_json()
    except (AwTuiError, OSError, subprocess.SubprocessError) as exc:
        return {"id": job.job_id, "state": "UNKNOWN", "reason": f"cannot ask Slurm: {exc}",
                "node": None, "time_left": None, "exit_code": None}


def describe_state(status: dict[str, Any]) -> str:
    """One line: idle / running on HOST pid N since T / finished / failed at step K ..."""
    state = status["state"]
    if state == RUNNING:
        since = time.strftime("%H:%M:%S", time.localtime(status["started"] or 0))
        return f"running on {status['host']} pid {status['pid']} since {since}"
    if state == "failed":
        return f"failed at step {status['failed_step']} (index {status['failed_index']})"
    if state == INTERRUPTED:
        return f"interrupted at index {status['failed_index']} ({status['reason']})"
    if state == "dead":
        return (f"runner gone (pid {status['pid']} on {status['host']} ended without "
                "recording it): resume with --resume")
    return state


def cmd_status(argv: list[str]) -> int:
    """``aw-tui status PROJECT``: the last or live run, as a table or ``--json``."""
    parser = ArgumentParser(
        prog="aw-tui status",
        description="Show the state of the last or live run of a project or run directory "
        "(works from another host on a shared file system), and what --resume would do.",
    )
    parser.add_argument("project", help="project file (.toml) or its folder, run directory "
                        "or pipeline.p; or a folder of several: one row per run")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if os.path.isdir(args.project) and not names_one_run(args.project):
        runs = find_runs(args.project)
        if runs:
            return survey_status(args.project, runs, args.json)
    try:
        target = resolve_target(args.project, check_files=False)
    except AwTuiError as exc:
        return fail(exc)
    if not target.log_dir or not os.path.isdir(target.log_dir):
        status = {"log_dir": target.log_dir, "state": "idle", "steps": [], "counts": {}}
    else:
        status = run_status(target.log_dir)
    status["resume"] = resume_status(target, status)
    status["job"] = job_status_of(target.log_dir)
    status["journal_problems"] = (
        [{"line": p.line, "message": p.message} for p in verify_journal(target.log_dir)]
        if status.get("steps") and target.log_dir else [])
    if args.json:
        json.dump(status, sys.stdout, indent=1, default=repr)
        sys.stdout.write("\n")
        return EXIT_OK
    _print_status(status)
    return EXIT_OK


def survey_status(folder: str, runs: list[Any], as_json: bool) -> int:
    """``aw-tui status DIR``: every run found in ``folder``, one row each (the dashboard's
    table), read from each run's lock and journal only; stale counts are left unknown."""
    now = time.time()
    rows = [survey_row(run, folder, job_status_of(run.log_dir or None), now) for run in runs]
    if as_json:
        json.dump({"folder": os.path.abspath(folder), "runs": rows}, sys.stdout, indent=1,
                  default=repr)
        sys.stdout.write("\n")
        return EXIT_OK
    print_table(sys.stdout, list(COLUMNS), [row_cells(row, now) for row in rows])
    sys.stdout.write("stale: ? (needs each run's checkpoint; aw-tui status RUN shows it)\n")
    return EXIT_OK


def _print_status(status: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(inert(f"{status['log_dir']}: {describe_state(status)}") + "\n")
    counts = status.get("counts") or {}
    if counts:
        done = count_done(counts)
        extra = ""
        if status.get("elapsed") is not None:
            extra = f"  elapsed {status['elapsed']:.0f} s"
        if status.get("remaining") is not None:
            extra += f"  about {status['remaining']:.0f} s left"
        elif status.get("live") and status.get("state") == RUNNING:
            extra += "  time left unknown (no step has finished yet)"
        stale = f", {counts['stale']} stale" if counts.get("stale") else ""
        out.write(f"{done} done{stale}, {counts.get('error', 0)} failed, "
                  f"{counts.get('pending', 0) + counts.get('running', 0)} to go{extra}\n")
    job = status.get("job")
    if job:
        where = f" on {job['node']}" if job.get("node") else ""
        left = (f", {job['time_left'] / 60:.0f} min of walltime left"
                if job.get("time_left") is not None else "")
        why = f" ({job['reason']})" if job.get("reason") else ""
        out.write(inert(f"Slurm job {job['id']}: {job['state']}{why}{where}{left}") + "\n")
    for problem in status.get("journal_problems", [])[:20]:
        out.write(inert(f"journal line {problem['line']}: {problem['message']}",
                        one_line=True) + "\n")
    refused = status["resume"]["refused"]
    if refused:
        out.write(inert(f"checkpoint: --resume would refuse it (exit 2): {refused}") + "\n")
    print_table(out, ["idx", "id", "step", "status", "time", "tags", "warnings", "summary"], [
        [s["index"], s["step_id"], s.get("step") or "", s["status"],
         f"{s['duration']:.1f}s" if s["duration"] is not None else "",
         ",".join(s["tags"] or []),
         f"⚠ {len(s['warnings'])}: {s['warnings'][0]}" if s.get("warnings") else "",
         ("stale: " + "; ".join(s["stale_reasons"])) if s.get("stale") else (
             format_summary(s["summary"]) or (s["error_msg"] or ""))]
        for s in status["steps"]
    ])
    for gone in status.get("removed", []):
        out.write(inert(f"removed: {gone['step']} (no longer in the project; its results "
                        "are kept)", one_line=True) + "\n")
