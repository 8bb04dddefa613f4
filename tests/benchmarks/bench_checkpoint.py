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


def run_cost(n: int, where: str | None = None) -> float:
    """ms per step of a whole run of ``n`` no-op steps with its run directory under
    ``where`` (the default temporary folder when None)."""
    with tempfile.TemporaryDirectory(dir=where) as folder:
        pipe = build(n, func=noop, paths={"log": os.path.join(folder, "log"), "temp": folder})
        start = time.perf_counter()
        pipe.run()
        return (time.perf_counter() - start) / (n + 2) * 1000


def file_system(path: str) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts; "?" elsewhere)."""
    path, best, kind = os.path.realpath(path), "", "?"
    try:
        with open("/proc/mounts") as handle:
            for line in handle:
                fields = line.split()
                mount = fields[1]
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if len(fields) > 2 and inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3,
                        help="dumps and whole runs of each size (medians; each run listed)")
    parser.add_argument("--dir", default=None,
                        help="where the runs' run directories go (default: the temporary "
                             "folder, /tmp; its file system is printed: ext4 and tmpfs differ)")
    parser.add_argument("--no-dump", action="store_true",
                        help="only the whole runs (the dill.dump of 100,000 steps takes ~1 min)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    where = args.dir or tempfile.gettempdir()
    print(f"load before: {os.getloadavg()[0]:.2f}; run directories under {where} "
          f"({file_system(where)})")
    print("| steps | checkpoint, fast | checkpoint, dill.dump | speed-up | size | whole run "
          "(median) | each run |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for n in args.steps:
        fast = 0.0
        if not args.no_dump:
            fast, slow, size = dump_times(n, args.repeat)
        runs = [run_cost(n, args.dir) for _ in range(args.repeat)]
        per_step = statistics.median(runs)
        each = ", ".join(f"{r:.3f}" for r in runs)
        dumps = ("- | - | - | -" if args.no_dump else
                 f"{fast:.3f} s | {slow:.3f} s | {slow / fast:.0f}x | {size / 1e6:.1f} MB")
        print(f"| {n:,} | {dumps} | {per_step:.3f} ms/step | {each} |", flush=True)
        ok &= max(runs) <= 0.3 and (n != 10_000 or args.no_dump or fast < 0.2)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print("targets: checkpoint of 10,000 steps < 0.2 s; <= 0.3 ms/step in all (every run):",
          "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
