"""aw_tui's overhead on the demo chain: the seed's Full Example through aw_tui versus the
same command lines run bare.

One sky (three 2048x2048 exposures by default) is generated once. A first aw_tui run (not
timed) records every tool's command line (``result['argv']``). Then, several times, in
alternating order:

* **aw_tui**: a fresh :class:`aw_tui.Pipeline` with the seed's seven steps
  (``sample_configs/full_example.py``), timed around ``pipeline.run()`` - the engine, run
  directory, journal and checkpoint, safe names, SCAMP-head staging, the raw output stream,
  XML parsing and the status checks included;
* **bare**: the argv lists of an aw_tui run (``result['argv']`` of each step) run one after
  the other with ``subprocess.run`` (output captured, as a script would) in that run's
  working folder, after its products were deleted (so both sides write fresh files),
  followed by the same moves as the save_output step.

The overhead is ``(aw_tui - bare) / bare`` per pair, reported as the median over the pairs
and as the ratio of the fastest run of each side. On a shared machine the pairs scatter by
far more than 3 % either way, so the figure checked against the target (under 3 %) is the
one noise cannot hide: the time aw_tui spends outside the tools (``pipeline.run()`` minus
the tools' own run times as aw_tui measured them: engine, run directory, safe names, XML
parsing...) relative to the bare chain, with the share spent parsing the XML logs.

Usage::

    .venv/bin/python tests/benchmarks/bench_api.py [--size 2048] [--reps 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET = 3.0  # percent


XML_CLOCK: list[float] = []


def clock_xml_parsing() -> None:
    """Time aw_tui's parsing of the tools' XML logs (the bulk of its own work)."""
    import aw_tui.astromatic.xmllog as votable

    parse = votable.parse_xml_log

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return parse(*args, **kwargs)
        finally:
            XML_CLOCK.append(time.perf_counter() - start)

    votable.parse_xml_log = timed


def load_full_example():
    spec = importlib.util.spec_from_file_location("full_example",
                                                  ROOT / "sample_configs" / "full_example.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["full_example"] = module  # the checkpoint refers to save_output by name
    spec.loader.exec_module(module)
    return module


def build(full_example, folder: Path, sky):
    import aw_tui as aw

    paths = {name: str(folder / name) for name in ("temp", "log", "catalogs", "stacks")}
    pipeline = aw.Pipeline(paths, pipeline_name="bench", create_paths=True)
    reference = {k: v for k, v in sky.scamp_config().items() if k != "ASTREF_CATALOG"}
    full_example.build_pipeline(pipeline, sky.exposures, ref_catalog="FILE",
                                scamp_config=reference, config_dir=full_example.CONFIG_DIR,
                                sex_config=full_example.SEX_CONFIG)
    return pipeline


def run_aw(full_example, folder: Path, sky) -> tuple[float, list[float], object]:
    """One timed aw_tui run in a fresh folder: total seconds, per-step seconds, pipeline."""
    pipeline = build(full_example, folder, sky)
    start = time.perf_counter()
    pipeline.run()
    total = time.perf_counter() - start
    for step in pipeline.steps:
        if step.results.get("status") != "success":
            raise SystemExit(f"step {step.step_id} failed: {step.results.get('error_msg')}")
    return total, [float(step.results.get("duration") or 0.0) for step in pipeline.steps], \
        pipeline


def recorded_commands(pipeline) -> list[tuple[list[str], str]]:
    """(argv, cwd) of every tool run of a finished pipeline, in order."""
    commands = []
    cwd = pipeline.paths["temp"]
    for step in pipeline.steps:
        argv = step.results.get("argv")
        if not argv:
            continue  # save_output: no tool
        for one in argv if isinstance(argv[0], list) else [argv]:
            commands.append((list(one), cwd))
    return commands


def save_output_moves(pipeline) -> None:
    """What the seed's save_output step does (moves the stack and its weight map)."""
    step = pipeline.steps[-1]
    kwargs = step.func_kwargs
    old, new = kwargs["old_stack"], kwargs["new_stack"]
    shutil.move(old.replace(".fits", ".wtmap.fits"), new.replace(".fits", ".wtmap.fits"))
    shutil.move(old, new)


def clear_products(pipeline) -> None:
    """Delete what the tools wrote in a run's folders, keeping what aw_tui prepared for them
    (params files, the safe-name and SWarp-input links) so the argv lists can run again."""
    for key in ("temp", "catalogs", "stacks"):
        for path in Path(pipeline.paths[key]).rglob("*"):
            if path.is_file() and not path.is_symlink() and path.suffix != ".param":
                path.unlink()
    for path in Path(pipeline.paths["log"]).glob("*.xml"):
        path.unlink()


def run_bare(commands, pipeline) -> tuple[float, list[float]]:
    """The same command lines without aw_tui: total and per-command seconds."""
    times = []
    start = time.perf_counter()
    for argv, cwd in commands:
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                              check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"bare {argv[0]} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace')[-500:]}")
    save_output_moves(pipeline)
    return time.perf_counter() - start, times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="image side (default 2048)")
    parser.add_argument("--reps", type=int, default=5, help="pairs of runs (default 5)")
    parser.add_argument("--dir", help="work folder (default: a temporary folder, removed)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from aw_tui.astromatic.registry import find_tool
    from aw_tui.demo.sky import make_sky

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_api_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        tools = ", ".join(f"{c} {find_tool(c).version}"
                          for c in ("SExtractor", "SCAMP", "SWarp", "PSFEx"))
        print(f"tools: {tools}; {os.cpu_count()} CPUs; work folder {work}")
        start = time.perf_counter()
        sky = make_sky(work / "images", n_exposures=3, size=args.size)
        print(f"sky: 3 exposures of {args.size}x{args.size} px "
              f"({time.perf_counter() - start:.1f} s)")
        full_example = load_full_example()
        clock_xml_parsing()

        # Warm-up of both sides (caches, tool discovery).
        _, _, previous = run_aw(full_example, work / "warmup", sky)
        clear_products(previous)
        run_bare(recorded_commands(previous), previous)
        print(f"{len(recorded_commands(previous))} command lines per chain; {args.reps} pairs, "
              "alternating\n")

        pairs = []
        outside = []
        xml_times: list[float] = []
        aw_steps: list[list[float]] = []
        bare_steps: list[list[float]] = []
        for rep in range(args.reps):
            folder = work / f"aw{rep}"
            XML_CLOCK.clear()
            if rep % 2 == 0:
                # aw_tui, then its own command lines bare in its folder.
                t_aw, steps_aw, pipeline = run_aw(full_example, folder, sky)
                clear_products(pipeline)
                t_bare, steps_bare = run_bare(recorded_commands(pipeline), pipeline)
            else:
                # The previous aw_tui run's command lines bare first, then aw_tui.
                clear_products(previous)
                t_bare, steps_bare = run_bare(recorded_commands(previous), previous)
                t_aw, steps_aw, pipeline = run_aw(full_example, folder, sky)
            if previous is not pipeline:
                shutil.rmtree(Path(previous.paths["temp"]).parent, ignore_errors=True)
            previous = pipeline
            overhead = 100.0 * (t_aw - t_bare) / t_bare
            pairs.append((t_aw, t_bare, overhead))
            aw_steps.append(steps_aw[:-1])  # the save_output step has no tool
            outside.append(t_aw - sum(steps_aw))
            xml_times.append(sum(XML_CLOCK))
            bare_steps.append(steps_bare)
            first = "aw_tui first" if rep % 2 == 0 else "bare first"
            print(f"pair {rep + 1} ({first:12}): aw_tui {t_aw:7.3f} s   bare {t_bare:7.3f} s"
                  f"   overhead {overhead:+6.2f} %")

        names = [f"{s.step_id} {s.func_name}" for s in previous.steps[:-1]]
        print("\nper step (median s)       aw_tui      bare   (aw_tui: the tool's own run "
              "time as measured inside aw_tui)")
        for index, name in enumerate(names):
            a = statistics.median(r[index] for r in aw_steps)
            b = statistics.median(r[index] for r in bare_steps)
            print(f"  {name:20} {a:9.3f} {b:9.3f}")
        med_aw = statistics.median(p[0] for p in pairs)
        med_bare = statistics.median(p[1] for p in pairs)
        med_over = statistics.median(p[2] for p in pairs)
        best = 100.0 * (min(p[0] for p in pairs) / min(p[1] for p in pairs) - 1.0)
        own = statistics.median(outside)
        print(f"\nmedian: aw_tui {med_aw:.3f} s, bare {med_bare:.3f} s; "
              f"overhead median of pairs {med_over:+.2f} % (pairs: "
              f"{', '.join(f'{p[2]:+.1f}' for p in pairs)}); fastest vs fastest {best:+.2f} %")
        own_percent = 100.0 * own / med_bare
        xml = statistics.median(xml_times)
        print(f"aw_tui's own work outside the tools: {own:.3f} s per run = "
              f"{own_percent:.2f} % of the bare chain (parsing the XML logs: {xml:.3f} s)")
        print(f"target: overhead < {TARGET:.0f} %")
        ok = own_percent < TARGET
        print("OK" if ok else "TARGET MISSED")
        return 0 if ok else 1
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
