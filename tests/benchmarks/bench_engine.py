"""Per-step cost of the run directory vs the naive full dill dump after every step (issue 2).

Runs N no-op steps carrying SExtractor-sized kwargs (like the seed's ``run_sex`` steps) with a
``log`` path, and reports the overhead per step and the bytes written to the run directory.
In the same run it samples the naive approach of the old code (a full ``dill.dump`` of the
pipeline after every step): a few dumps of the same pipeline are timed and extrapolated,
because doing it for real takes hours at 10,000 steps.

    python tests/benchmarks/bench_engine.py              # 3,000 and 10,000 steps
    python tests/benchmarks/bench_engine.py --steps 2000 --naive-samples 5

Target (issue 2): under 1 ms per step at 10,000 steps, at least 500x less than naive.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import astropy.table  # noqa: F401  (imported by run() at its end: keep it out of the timing)
import dill

from aw_tui import Pipeline
from aw_tui.rundir.journal import read_events

PARAMS = [
    "NUMBER", "EXT_NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "ERRAWIN_IMAGE", "ERRBWIN_IMAGE",
    "ERRTHETAWIN_IMAGE", "XWIN_WORLD", "YWIN_WORLD", "FLUX_AUTO", "FLUXERR_AUTO",
    "IMAFLAGS_ISO", "FLAGS", "FLAGS_WEIGHT", "FLUX_RADIUS", "ELONGATION",
]


def run_sex_noop(files, api_kwargs, frames):
    """Stands for ``aw.api.run_sex``: takes the same kwargs, does nothing."""
    return {"status": "success"}


def sextractor_kwargs(pipeline: Pipeline, i: int) -> dict:
    """The kwargs of one SExtractor step of the seed's Full Example, distinct per step."""
    image = os.path.join("/data/dataset1/images", f"c4d_{150528 + i:06d}_ooi_r_v1.fits")
    catalog = os.path.join(pipeline.paths["temp"], os.path.basename(image).replace(".fits", ".cat"))
    return {
        "files": {
            "image": image,
            "dqmask": image.replace("_ooi_", "_ood_"),
            "wtmap": image.replace("_ooi_", "_oow_"),
        },
        "api_kwargs": {
            "config": {
                "CATALOG_NAME": catalog,
                "CATALOG_TYPE": "FITS_LDAC",
                "FILTER": False,
                "WEIGHT_TYPE": "MAP_WEIGHT",
                "DETECT_THRESH": 1.5,
                "PHOT_APERTURES": "8,12,16",
            },
            "config_file": os.path.join(pipeline.paths["config"], "default.sex"),
            "params": list(PARAMS),
        },
        "frames": [1],
    }


def build(base: str, n: int) -> Pipeline:
    paths = {name: os.path.join(base, name) for name in ("temp", "log", "config", "catalogs")}
    pipeline = Pipeline(paths, create_paths=True, pipeline_name=f"bench-{n}")
    for i in range(n):
        pipeline.add_step(run_sex_noop, ["step1", "SExtractor"], **sextractor_kwargs(pipeline, i))
    return pipeline


def write_chars() -> int | None:
    """Bytes this process passed to write() so far (Linux), or None."""
    try:
        with open("/proc/self/io") as handle:
            for line in handle:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def dir_size(path: str) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            total += os.path.getsize(os.path.join(root, name))
    return total


def step_intervals(log: str) -> tuple[float, float]:
    """Mean ms between consecutive step_finished events in the first and the last tenth."""
    times = [e["time"] for e in read_events(log) if e["event"] == "step_finished"]
    tenth = max(2, len(times) // 10)
    first, last = times[:tenth], times[-tenth:]
    return (
        (first[-1] - first[0]) / (len(first) - 1) * 1e3,
        (last[-1] - last[0]) / (len(last) - 1) * 1e3,
    )


def bench(n: int, samples: int, workdir: str) -> dict:
    base = tempfile.mkdtemp(prefix=f"bench-{n}-", dir=workdir)
    try:
        pipeline = build(base, n)
        log = pipeline.paths["log"]
        before = write_chars()
        start = time.perf_counter()
        pipeline.run()
        ours = time.perf_counter() - start
        after = write_chars()
        written = (after - before) if before is not None and after is not None else None
        first_ms, last_ms = step_intervals(log)
        on_disk = dir_size(log)

        # The naive approach: dill.dump(pipeline, open(log/pipeline.p, 'wb')) after each
        # step. Every dump is of the whole pipeline, so time a sample and extrapolate.
        naive_path = os.path.join(base, "naive-pipeline.p")
        durations = []
        for _ in range(samples):
            t0 = time.perf_counter()
            with open(naive_path, "wb") as handle:
                dill.dump(pipeline, handle)
            durations.append(time.perf_counter() - t0)
        dump_bytes = os.path.getsize(naive_path)
        return {
            "n": n,
            "ours_ms": ours / n * 1e3,
            "ours_total_s": ours,
            "ours_written": written,
            "ours_on_disk": on_disk,
            "first_ms": first_ms,
            "last_ms": last_ms,
            "naive_ms": statistics.mean(durations) * 1e3,
            "naive_spread": (min(durations) * 1e3, max(durations) * 1e3),
            "naive_total_h": statistics.mean(durations) * n / 3600,
            "naive_written": dump_bytes * n,
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def human(nbytes: float | None) -> str:
    if nbytes is None:
        return "n/a"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1000
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="steps of the big run")
    parser.add_argument("--small", type=int, default=3_000, help="steps of the small run")
    parser.add_argument("--naive-samples", type=int, default=20,
                        help="naive full dumps timed at each size")
    parser.add_argument("--dir", default=None, help="where to put the run directories")
    args = parser.parse_args(argv)

    sizes = sorted({min(args.small, args.steps), args.steps})
    workdir = args.dir or tempfile.gettempdir()
    print(f"python {sys.version.split()[0]}, dill {dill.__version__}, run directories in "
          f"{workdir}, {args.naive_samples} naive dumps sampled per size")
    rows = [bench(n, args.naive_samples, workdir) for n in sizes]

    header = (f"{'steps':>7} | {'ours ms/step':>12} | {'first/last 10%':>14} | "
              f"{'ours written':>12} | {'naive ms/step':>13} | {'naive written':>13} | "
              f"{'naive total':>11} | {'ratio':>7}")
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['n']:>7,} | {row['ours_ms']:>12.3f} | "
              f"{row['first_ms']:>6.3f}/{row['last_ms']:<7.3f} | "
              f"{human(row['ours_written']):>12} | {row['naive_ms']:>13.1f} | "
              f"{human(row['naive_written']):>13} | {row['naive_total_h']:>9.2f} h | "
              f"{row['naive_ms'] / row['ours_ms']:>6.0f}x")
    print()
    for row in rows:
        print(f"{row['n']:,} steps: our run took {row['ours_total_s']:.1f} s in all (two full "
              f"checkpoints included); run directory on disk {human(row['ours_on_disk'])}; "
              f"naive dump {row['naive_ms']:.0f} ms (min {row['naive_spread'][0]:.0f}, max "
              f"{row['naive_spread'][1]:.0f}) x {row['n']:,} steps")
    big = rows[-1]
    ok_ms = big["ours_ms"] < 1.0
    ok_ratio = big["naive_ms"] / big["ours_ms"] >= 500
    print(f"\ntarget at {big['n']:,} steps: < 1 ms/step: {'OK' if ok_ms else 'MISSED'} "
          f"({big['ours_ms']:.3f}); >= 500x less than naive: {'OK' if ok_ratio else 'MISSED'} "
          f"({big['naive_ms'] / big['ours_ms']:.0f}x)")
    return 0 if ok_ms and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
