"""The checkpoint of a script-defined pipeline (issue 16): dump time with the fast pickler
(aw_tui.rundir.pickling: the C pickler, dill only for the script's own objects) against
``dill.dump``, and a whole no-op run's cost per step.

    .venv/bin/python tests/benchmarks/bench_checkpoint.py            # 10,000 and 100,000 steps
    .venv/bin/python tests/benchmarks/bench_checkpoint.py --steps 10000 --repeat 5

The steps carry SExtractor-sized kwargs and the last two are a ``__main__`` function and a
lambda, as the seed's Full Example script has (``save_output``). Targets: the checkpoint of a
10,000-step pipeline < 0.2 s; <= 0.3 ms/step in all at 10,000 and 100,000 steps.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import dill

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aw_tui import Pipeline, api  # noqa: E402
from aw_tui.rundir.pickling import dump_fast  # noqa: E402


def save_output(pipeline, old, new):
    return {"status": "success"}


def noop(**kwargs):
    return {"status": "success"}


def build(n: int, func=api.run_sex, paths=None) -> Pipeline:
    pipe = Pipeline(paths or {}, create_paths=True)
    for i in range(n):
        files = {"image": f"/data/img/{i:06d}.fits", "wtmap": f"/data/img/{i:06d}.wtmap.fits",
                 "dqmask": f"/data/img/{i:06d}.dqmask.fits"}
        config = {"CATALOG_NAME": f"/data/cat/{i:06d}.cat", "CATALOG_TYPE": "FITS_LDAC",
                  "FILTER": False, "WEIGHT_TYPE": "MAP_WEIGHT"}
        kwargs = {"config": config, "config_file": "/data/config/default.sex",
                  "params": ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "FLUX_AUTO", "FLAGS"] * 3}
        pipe.add_step(func, ["step1", "SExtractor"], files=files, api_kwargs=kwargs)
    pipe.add_step(save_output, ["save"], old="a", new="b")
    pipe.add_step(lambda **kw: {"status": "success"}, ["lambda"])
    return pipe


def dump_times(n: int, repeat: int) -> tuple[float, float, int]:
    pipe = build(n)
    fast, slow = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        dump_fast(pipe, io.BytesIO())
        fast.append(time.perf_counter() - start)
        start = time.perf_counter()
        buffer = io.BytesIO()
        dill.dump(pipe, buffer)
        slow.append(time.perf_counter() - start)
    return statistics.median(fast), statistics.median(slow), len(buffer.getvalue())


def run_cost(n: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        pipe = build(n, func=noop, paths={"log": os.path.join(folder, "log"), "temp": folder})
        start = time.perf_counter()
        pipe.run()
        return (time.perf_counter() - start) / (n + 2) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print("| steps | checkpoint, fast | checkpoint, dill.dump | speed-up | size | whole run |")
    print("| --- | --- | --- | --- | --- | --- |")
    ok = True
    for n in args.steps:
        fast, slow, size = dump_times(n, args.repeat)
        per_step = run_cost(n)
        print(f"| {n:,} | {fast:.3f} s | {slow:.3f} s | {slow / fast:.0f}x | "
              f"{size / 1e6:.1f} MB | {per_step:.3f} ms/step |", flush=True)
        ok &= per_step <= 0.3 and (n != 10_000 or fast < 0.2)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print("targets: checkpoint of 10,000 steps < 0.2 s; <= 0.3 ms/step in all:",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
