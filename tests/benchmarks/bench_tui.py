"""Benchmarks of the whole TUI app (issue 5): first paint of big projects, streaming output.

Run ``python tests/benchmarks/bench_tui.py`` from the repository root (about 3 minutes; add
``--quick`` for a smaller run, ``--stream-only`` for the streaming cases alone;
``--steps 10000 100000 --no-stream`` for the 100,000-step paints of issue 16, about 6 minutes;
``--child phases PROJECT`` for the load path's time, RSS and peak RSS phase by phase). Every
measurement runs in a fresh subprocess, so import time
and peak memory are its own. Figures:

1. **First paint** of a project of 10,000 and 50,000 steps (a TOML ``foreach`` over that many
   items running ``aw_tui.testing_funcs:succeed``), as ``aw-tui PROJECT`` does it: import,
   ``resolve_target`` (parse, validate and expand the project; with a checkpoint, only
   what finds the run directory: the app checks the whole file after the paint), then the app under
   ``run_test`` (80x24) until the step table shows rows. Inside the app, the load worker's
   parts are timed: ``Session.load`` (build the pipeline or load the checkpoint and read the
   newest run's header from the end of the journal) and ``rows``. Measured on a fresh
   project and again after a finished ``--batch`` run of it (checkpoint + a journal of 2
   events per step). Targets: < 1 s (10,000) and < 2 s (50,000) from the start of the app's
   work (resolve + app) to rows on screen. Also reported: ``journal``, how long after the
   first paint the watcher has folded the whole journal into per-step states (the rows
   shown until then come from the checkpoint), ``states``, how long after the first paint
   the project file's steps and each step's state now (stale or not, issue 12) are in the
   table (computed before the paint up to ``session.INLINE_STEPS`` steps), and the peak
   RSS.
2. **Streaming**: one step runs a tool-like child process that writes 20 MB, then 200 MB,
   of SExtractor-shaped output (an ``os.write`` per progress update, as a C tool writing to
   stderr does), flat out and paced at 5 MB/s (a paced case longer than ``--stream-max-s``
   is skipped: 200 MB at 5 MB/s takes 40 s a run). The tool's time (measured inside the
   step, around ``run_command``) with ``--batch`` alone versus with the TUI open on the
   project, started with ``r`` and following that step's output (``--repeat`` runs each, in
   turns, medians). Target: the TUI slows the tool by < 10 %, and the TUI process stays
   < 200 MB (VmHWM of the app's process). Also how long the output pane needs, after the
   tool ends, to show its last line, and the TUI's CPU time from ``r`` to then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T_PROCESS = time.perf_counter()
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MB = 1_000_000
SIZE = (80, 24)

STEPS_PY = r'''
"""Step functions for bench_tui.py."""
import sys
import time

from aw_tui.base.process import run_command

PRODUCER = r"""
import os, sys, time
total, rate = int(sys.argv[1]), float(sys.argv[2])  # bytes, bytes/s (0: flat out)
start = time.monotonic()
esc = b"\x1b"
block = [b"----- Source Extractor 2.25.0 started on 2025-01-01 at 00:00:00 with 1 thread\n\n",
         esc + b"[1M> Setting catalog parameters\n" + esc + b"[1A",
         b"----- Measuring from: img.fits\n"]
block += [esc + b"[1M> Line: %4d  Objects: %8d detected / %8d sextracted\n" % (y, y // 2, y // 3)
          + esc + b"[1A" for y in range(0, 4096, 8)]
block += [b"      Objects: detected 2048     / sextracted 1900            \n\n",
          b"> All done (in 0.1 s: 19469.1 lines/s , 14811.0 detections/s)\n"]
written = 0
while written < total:
    for piece in block:
        os.write(2, piece)
        written += len(piece)
    if rate:
        ahead = written / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
os.write(2, b"BENCH END\n")
"""


def spew(megabytes: float = 20.0, rate: float = 0.0) -> dict:
    """Run a child process printing ``megabytes`` MB (at ``rate`` MB/s); report its time."""
    start = time.monotonic()
    result = run_command([sys.executable, "-c", PRODUCER, str(int(megabytes * 1_000_000)),
                          str(rate * 1_000_000)])
    return {"status": "success" if result.returncode == 0 else "error",
            "summary": {"tool_s": round(time.monotonic() - start, 4)}}
'''


def vm_hwm_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------ projects
def write_big_project(folder: Path, steps: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = ", ".join(f'"f{i:06d}"' for i in range(steps))
    project = folder / "project.toml"
    project.write_text(
        '[pipeline]\nname = "big"\ncreate_paths = true\n'
        '[paths]\nlog = "work/log"\ntemp = "work/temp"\n'
        f'[inputs.frames]\nitems = [{items}]\ntext_fields = ["image"]\n'
        '[[steps]]\nname = "each"\nfunc = "aw_tui.testing_funcs:succeed"\nforeach = "frames"\n'
        'tags = ["bench", "{item.image}"]\n[steps.kwargs]\nframe = "{item.image}"\n'
    )
    return project


def write_stream_project(folder: Path, megabytes: float, rate: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench_steps.py").write_text(STEPS_PY)
    project = folder / "project.toml"
    project.write_text(
        '[pipeline]\nname = "stream"\ncreate_paths = true\n'
        '[paths]\nlog = "work/log"\ntemp = "work/temp"\n'
        '[[steps]]\nfunc = "bench_steps.py:spew"\ntags = ["spew"]\n'
        f"[steps.kwargs]\nmegabytes = {megabytes}\nrate = {rate}\n"
    )
    return project


# ------------------------------------------------------------------------------ children
def screen_rows(app: Any) -> bool:
    """Does the screen show at least one step row?"""
    import io
    import re

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True,
                                                      screen_stack=app._background_screens))
    # A step's row, or a folded group's (no id: "     ✔ success     ▸ each (50000)").
    row = re.compile(r"^[» ][\s\d]* \S (pending|running|success|error|unknown|skipped|stale|unchecked)")
    return any(row.match(line) for line in console.export_text().splitlines()[1:])


def child_paint(project: str) -> dict[str, Any]:
    t_imports = time.perf_counter()
    from aw_tui.target import resolve_target
    from aw_tui.tui.app import AwTuiApp
    from aw_tui.tui.session import Session
    from aw_tui.tui.widgets.step_table import StepTable

    t_imported = time.perf_counter()
    target = resolve_target(project, expand=False)  # as `aw-tui PROJECT` (open_tui) does
    t_resolved = time.perf_counter()
    session = Session(target)
    parts: dict[str, float] = {}
    for name in ("load", "rows", "catch_up"):
        method = getattr(session, name)

        def timed(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                parts.setdefault(_name, time.perf_counter() - start)

        setattr(session, name, timed)

    async def run() -> float:
        app = AwTuiApp(session)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 120
            while not (app.query_one(StepTable).row_count and screen_rows(app)):
                if time.monotonic() > deadline:
                    raise RuntimeError("no rows after 120 s")
                await pilot.pause(0.005)
            painted = time.perf_counter()
            rows = app.query_one(StepTable).row_count
            folded = None
            while not session.caught_up or folded is None:  # both after the first paint
                if folded is None and getattr(session, "folded", True):
                    folded = time.perf_counter()
                if time.monotonic() > deadline:
                    raise RuntimeError("the journal or the states were never folded")
                await asyncio.sleep(0.01)
            parts["caught_up"] = time.perf_counter() - painted
            parts["states"] = max(0.0, folded - painted)
        parts["rows_shown"] = rows
        return painted

    t_app = time.perf_counter()
    painted = asyncio.run(run())
    return {
        "python_start_to_imports": t_imports - T_PROCESS,
        "imports": t_imported - t_imports,
        "resolve": t_resolved - t_imported,
        "app_to_rows": painted - t_app,
        "open": painted - t_imported,  # resolve + app: the target
        "worker_load": parts.get("load"),
        "worker_rows": parts.get("rows"),
        "caught_up": parts.get("caught_up"),
        "states": parts.get("states"),
        "rows_shown": parts.get("rows_shown"),
        "peak_mb": vm_hwm_mb(),
    }


def vm_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process, in MB."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line[:5]] = int(line.split()[1]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def child_phases(project: str) -> dict[str, Any]:
    """The TUI's load path without the app, phase by phase (issue 16): time, then RSS and
    peak RSS (VmHWM) after each. The app's imports first, as ``aw-tui PROJECT`` has them."""
    start = time.perf_counter()
    import aw_tui.tui.app  # noqa: F401 - the app's imports, counted in the baseline
    from aw_tui.target import resolve_target
    from aw_tui.tui.session import Session

    out: dict[str, Any] = {}

    def mark(name: str, since: float) -> None:
        rss, hwm = vm_mb()
        out[name] = {"s": round(time.perf_counter() - since, 2), "rss": round(rss),
                     "hwm": round(hwm)}

    mark("imports", start)
    since = time.perf_counter()
    session = Session(resolve_target(project, expand=False))
    mark("resolve", since)
    for name, call in (("load", lambda: session.load()), ("rows", lambda: session.rows()),
                       ("catch_up", lambda: session.catch_up()),
                       ("refresh", lambda: session.refresh()), ("rows again", session.rows)):
        since = time.perf_counter()
        call()
        mark(name, since)
    return out


def child_stream_tui(project: str) -> dict[str, Any]:
    from aw_tui.rundir.journal import read_events
    from aw_tui.target import resolve_target
    from aw_tui.tui.app import AwTuiApp
    from aw_tui.tui.session import Session
    from aw_tui.tui.widgets.output_view import OutputView

    target = resolve_target(project)
    log = target.log_dir or ""

    # Nothing here looks at the app while the tool runs: the pane's own update says when it
    # shows the tool's last line. (A look every 20 ms, as this loop once did, woke the TUI's
    # process 50 times a second: that alone cost the tool ~10 %, more than all the app did.)
    end_shown = asyncio.Event()
    shown_at: list[float] = []
    real_apply = OutputView._apply

    def apply(view: OutputView, state: Any) -> None:
        real_apply(view, state)
        if not shown_at and view.line_count and "BENCH END" in view.get_line(
                view.line_count - 1):
            shown_at.append(time.time())
            end_shown.set()

    OutputView._apply = apply  # type: ignore[method-assign]

    async def run() -> dict[str, Any]:
        app = AwTuiApp(Session(target))
        async with app.run_test(size=SIZE) as pilot:
            while not app._loaded:
                await pilot.pause(0.01)
            await asyncio.sleep(1.0)  # as a user would: the screen settles before `r`
            before = resource.getrusage(resource.RUSAGE_SELF)
            await pilot.press("r")
            view = app.query_one(OutputView)
            deadline = time.monotonic() + 600
            try:
                await asyncio.wait_for(end_shown.wait(), timeout=600)
            except asyncio.TimeoutError:
                raise RuntimeError("the output pane never showed the end") from None
            shown = shown_at[0]
            after = resource.getrusage(resource.RUSAGE_SELF)
            while not [e for e in read_events(log) if e["event"] == "step_finished"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("no step_finished line")
                await asyncio.sleep(0.02)
            tool_end = [e for e in read_events(log) if e["event"] == "step_finished"][-1]["time"]
            while app.live_pid is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            lines = view.line_count
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # The pane may show the tool's last line before the runner writes step_finished.
        return {"catch_up_s": max(0.0, shown - tool_end), "lines_shown": lines,
                "tui_cpu_s": cpu}

    result = asyncio.run(run())
    finished = [e for e in read_events(log) if e["event"] == "step_finished"]
    result["tool_s"] = finished[-1]["summary"]["tool_s"]
    result["peak_mb"] = vm_hwm_mb()
    return result


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tui_in_tmux(project: Path) -> dict[str, Any]:
    """One run started with ``r`` in the real ``aw-tui`` command, in a pane of a private
    tmux server (80x24): the app as a user has it, drawing into a real terminal (tmux's
    own work is on the same 2 cores). Nothing looks at the app while the tool runs; the
    journal says when the step ended, then the pane is read for the tool's last line."""
    from aw_tui.rundir.journal import read_events

    binary = shutil.which("tmux")
    if binary is None:
        raise RuntimeError("--terminal tmux needs tmux (apt-get install tmux)")
    log = project.parent / "work" / "log"
    socket = project.parent / "bench-tmux.sock"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "NO_COLOR")}
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")

    def tmux(*args: str) -> str:
        return subprocess.run([binary, "-S", str(socket), "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=20, check=True,
                              env=env, stdin=subprocess.DEVNULL).stdout

    def pane() -> str:
        return tmux("capture-pane", "-p", "-t", "bench")

    command = shlex.join([sys.executable, "-m", "aw_tui", str(project)])
    tmux("new-session", "-d", "-s", "bench", "-x", "80", "-y", "24", f"exec {command}")
    try:
        pid = int(tmux("list-panes", "-t", "bench", "-F", "#{pane_pid}").split()[0])
        deadline = time.monotonic() + 60
        while "spew" not in pane():  # the step's row is on screen
            if time.monotonic() > deadline:
                raise RuntimeError(f"aw-tui did not show the step:\n{pane()}")
            time.sleep(0.2)
        time.sleep(1.0)  # as a user would: the screen settles before `r`
        cpu = _proc_cpu_s(pid)
        tmux("send-keys", "-t", "bench", "r")
        deadline = time.monotonic() + 600
        while not [e for e in read_events(str(log)) if e["event"] == "step_finished"]:
            if time.monotonic() > deadline:
                raise RuntimeError("no step_finished line")
            time.sleep(0.2)
        tool_end = [e for e in read_events(str(log))
                    if e["event"] == "step_finished"][-1]["time"]
        while "BENCH END" not in pane():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the output pane never showed the end:\n{pane()}")
            time.sleep(0.05)
        shown = time.time()
        cpu = _proc_cpu_s(pid) - cpu
        peak = _proc_hwm_mb(pid)
    finally:
        subprocess.run([binary, "-S", str(socket), "kill-server"], capture_output=True,
                       timeout=20, env=env, check=False)
    finished = [e for e in read_events(str(log)) if e["event"] == "step_finished"]
    return {"tool_s": finished[-1]["summary"]["tool_s"], "tui_cpu_s": cpu,
            "catch_up_s": max(0.0, shown - tool_end), "peak_mb": peak}


def run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True, timeout=900, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def batch(project: Path) -> float:
    proc = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                          capture_output=True, text=True, timeout=1800, cwd=str(ROOT))
    if proc.returncode != 0:
        raise RuntimeError(f"--batch failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    from aw_tui.rundir.journal import read_events

    events = read_events(str(project.parent / "work" / "log"))
    finished = [e for e in events if e["event"] == "step_finished"]
    return float(finished[-1]["summary"].get("tool_s", 0.0))


# ------------------------------------------------------------------------------ parent
def bench_paint(sizes: list[int], after_run: bool, workdir: Path) -> list[dict[str, Any]]:
    results = []
    for steps in sizes:
        project = write_big_project(workdir / f"big{steps}", steps)
        target = 1.0 if steps <= 10_000 else 2.0
        fresh = run_child("paint", str(project))
        results.append({"case": f"{steps:,} steps, fresh project", "target": target, **fresh})
        if after_run:
            started = time.monotonic()
            batch(project)
            ran = time.monotonic() - started
            again = run_child("paint", str(project))
            results.append({"case": f"{steps:,} steps, after a finished run ({ran:.0f} s)",
                            "target": target, **again})
    return results


def _mean_ratio_ci(alone: list[float], with_tui: list[float]) -> float:
    """Half the width of a 95 % interval of the means' ratio, in percent (the two means'
    standard errors combined; 0 with fewer than 2 runs of each)."""
    if len(alone) < 2 or len(with_tui) < 2:
        return 0.0
    ratio = statistics.mean(with_tui) / statistics.mean(alone)
    spread = math.hypot(statistics.stdev(alone) / statistics.mean(alone),
                        statistics.stdev(with_tui) / statistics.mean(with_tui))
    return 100.0 * 1.96 * ratio * spread / math.sqrt(min(len(alone), len(with_tui)))


def bench_stream(megabytes: float, rate: float, repeat: int, workdir: Path,
                 terminal: str = "headless") -> dict[str, Any]:
    project = write_stream_project(workdir / f"stream-{megabytes:g}-{rate:g}", megabytes, rate)
    log = project.parent / "work" / "log"
    alone, with_tui, catch_up, peaks, cpu = [], [], [], [], []
    for _ in range(repeat):
        shutil.rmtree(log, ignore_errors=True)
        alone.append(batch(project))
        shutil.rmtree(log, ignore_errors=True)
        result = (tui_in_tmux(project) if terminal == "tmux"
                  else run_child("stream", str(project)))
        with_tui.append(result["tool_s"])
        catch_up.append(result["catch_up_s"])
        peaks.append(result["peak_mb"])
        cpu.append(result["tui_cpu_s"])
    out_size = (log / "steps" / "0.out").stat().st_size
    alone_s, tui_s = statistics.median(alone), statistics.median(with_tui)
    return {
        "rate": rate,
        "megabytes": round(out_size / MB, 1),
        "alone": alone, "with_tui": with_tui,
        "alone_s": alone_s, "with_tui_s": tui_s,
        "slowdown_pct": 100.0 * (tui_s / alone_s - 1.0),
        # Each TUI run follows its own --batch run: the median of the pairs' ratios is
        # blind to the disk's slow and quick phases, which move both runs of a pair alike.
        "paired_pct": 100.0 * statistics.median(
            t / a - 1.0 for a, t in zip(alone, with_tui, strict=True)),
        "mean_pct": 100.0 * (statistics.mean(with_tui) / statistics.mean(alone) - 1.0),
        "mean_ci_pct": _mean_ratio_ci(alone, with_tui),
        "catch_up_s": statistics.median(catch_up),
        "tui_cpu_s": statistics.median(cpu),
        "tui_peak_mb": max(peaks),
    }


def report_streams(args: argparse.Namespace, workdir: Path) -> bool:
    """Measure and print every streaming case asked for; return whether all met their targets.

    Parameters
    ----------
    args : argparse.Namespace
        The command line (``stream_mb``, ``stream_rates``, ``stream_max_s``, ``repeat``).
    workdir : Path
        Where to write the projects.

    Returns
    -------
    bool
        True when every case measured met both targets.
    """
    ok = True
    summary = []
    for megabytes in args.stream_mb:
        for rate in args.stream_rates:
            pace = "as fast as it can write" if not rate else f"paced at {rate:g} MB/s"
            if rate and megabytes / rate > args.stream_max_s:
                print(f"\nStreaming {megabytes:g} MB {pace}: skipped ({megabytes / rate:.0f} s "
                      f"a run; --stream-max-s {megabytes / rate + 5:.0f} runs it)")
                continue
            stream = bench_stream(megabytes, rate, args.repeat, workdir, args.terminal)
            slow_ok = stream["slowdown_pct"] < 10.0
            mem_ok = stream["tui_peak_mb"] < 200.0
            ok &= slow_ok and mem_ok
            print(f"\nStreaming {stream['megabytes']} MB of tool output, {pace} "
                  f"(medians of {args.repeat} runs each)")
            print(f"  tool alone (--batch):       {stream['alone_s']:.2f} s  "
                  f"{sorted(round(x, 2) for x in stream['alone'])}")
            where = "in tmux" if args.terminal == "tmux" else "headless"
            print(f"  tool with the TUI open:     {stream['with_tui_s']:.2f} s  ({where}) "
                  f"{sorted(round(x, 2) for x in stream['with_tui'])}")
            print(f"  slowdown:                   {stream['slowdown_pct']:+.1f} %  "
                  f"(target < 10 %: {'ok' if slow_ok else 'MISSED'})")
            print(f"  slowdown, paired runs:      {stream['paired_pct']:+.1f} %  (the median of "
                  "each TUI run against the --batch run just before it)")
            print(f"  slowdown of the means:      {stream['mean_pct']:+.1f} %  "
                  f"(± {stream['mean_ci_pct']:.1f} %, 95 % of such sets; both kinds "
                  "of run swing by ±20 % from run to run on this VM)")
            print(f"  TUI CPU during the run:     {stream['tui_cpu_s']:.2f} s")
            print(f"  output pane shows the end:  {stream['catch_up_s']:.2f} s after the tool")
            print(f"  TUI peak RSS (VmHWM):       {stream['tui_peak_mb']:.0f} MB  "
                  f"(target < 200 MB: {'ok' if mem_ok else 'MISSED'})")
            summary.append(f"{stream['megabytes']:>6} MB {'flat out' if not rate else pace:<16} "
                           f"{stream['alone_s']:6.2f} {stream['with_tui_s']:6.2f} "
                           f"{stream['slowdown_pct']:+7.1f} % {stream['tui_cpu_s']:6.2f} "
                           f"{stream['catch_up_s']:6.2f} {stream['tui_peak_mb']:5.0f}")
    if len(summary) > 1:
        print(f"\n{'output':>9} {'':<16} {'alone':>6} {'TUI':>6} {'slowdown':>9} "
              f"{'CPU':>6} {'end':>6} {'MB':>5}")
        print("\n".join(summary))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--no-after-run", action="store_true",
                        help="skip the paint after a finished --batch run")
    parser.add_argument("--stream-mb", type=float, nargs="+", default=[20.0, 200.0],
                        help="sizes of the streamed tool output, in MB")
    parser.add_argument("--stream-rates", type=float, nargs="+", default=[0.0, 5.0],
                        help="tool output rates in MB/s (0: as fast as it can write)")
    parser.add_argument("--stream-max-s", type=float, default=10.0,
                        help="skip paced streaming cases that last longer than this per run")
    parser.add_argument("--stream-only", action="store_true",
                        help="only the streaming cases (no first paint)")
    parser.add_argument("--repeat", type=int, default=3, help="streaming runs of each kind")
    parser.add_argument("--no-stream", action="store_true", help="the first paints only")
    parser.add_argument("--terminal", choices=["headless", "tmux"], default="headless",
                        help="streaming with the TUI open: the app under Textual's run_test "
                        "(headless), or the real aw-tui command in a tmux pane")
    parser.add_argument("--quick", action="store_true",
                        help="10,000 steps, no after-run paint, 20 MB only, 2 streaming runs "
                        "of each")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, project = args.child
        child = {"paint": child_paint, "phases": child_phases}.get(kind, child_stream_tui)
        result = child(project)
        print(json.dumps(result))
        return 0
    if args.quick:
        args.steps, args.no_after_run, args.repeat = [10_000], True, 2
        args.stream_mb = [20.0]
    if args.stream_only:
        with tempfile.TemporaryDirectory(prefix="aw-tui-bench-") as tmp:
            return 0 if report_streams(args, Path(tmp)) else 1
    ok = True
    with tempfile.TemporaryDirectory(prefix="aw-tui-bench-") as tmp:
        workdir = Path(tmp)
        print(f"First paint at {SIZE[0]}x{SIZE[1]} (seconds; open = resolve + app to rows)")
        print(f"{'case':<44} {'import':>6} {'resolve':>7} {'load':>6} {'rows':>6} "
              f"{'app':>6} {'open':>6} {'journal':>7} {'states':>6} {'peak MB':>7}  target")
        for r in bench_paint(args.steps, not args.no_after_run, workdir):
            met = r["open"] < r["target"]
            ok &= met
            print(f"{r['case']:<44} {r['imports']:6.2f} {r['resolve']:7.2f} "
                  f"{r['worker_load']:6.2f} {r['worker_rows']:6.2f} "
                  f"{r['app_to_rows']:6.2f} {r['open']:6.2f} {r['caught_up']:7.2f} "
                  f"{r['states']:6.2f} {r['peak_mb']:7.0f}  < {r['target']:.0f} s {'ok' if met else 'MISSED'}")
        if not args.no_stream:
            ok &= report_streams(args, workdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
