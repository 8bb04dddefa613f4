"""The state of every step of a finished project (issue 12): what ``check``, ``status`` and
the TUI compute on top of loading the checkpoint.

    .venv/bin/python tests/benchmarks/bench_freshness.py              # 10,000 steps
    .venv/bin/python tests/benchmarks/bench_freshness.py --steps 50000

A project of N steps (a ``foreach`` over N small input files, each step reading its file and
a shared config file and writing a catalog, then one step reading all the catalogs) is run
once for real with ``--batch``; then, all unchanged: the time to load it (project file +
checkpoint), and the time to compute every step's state (:func:`aw_tui.target.freshness_of`:
N kwargs fingerprints, ~2N file checks). Target: states of 10,000 steps < 1 s on top of
loading.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aw_tui.target import freshness_of, resolve_target, resume_verdict  # noqa: E402

FUNCS = '''
def detect(image, config, catalog, threshold=3, params=()):
    with open(image) as src, open(config) as cfg, open(catalog, "w") as out:
        out.write(src.read() + cfg.read())
    return {"status": "success"}


def combine(catalogs, output):
    with open(output, "w") as out:
        out.write(str(len(catalogs)))
    return {"status": "success"}
'''

PROJECT = '''[pipeline]
name = "bench"
create_paths = true

[paths]
base = "."
log = "work/log"
temp = "work/temp"

[inputs.images]
glob = "images/*.txt"

[[steps]]
name = "detect"
func = "funcs.py:detect"
foreach = "images"
outputs = {{ catalog = "{{paths.temp}}/{{item.stem}}.cat" }}
[steps.kwargs]
image = "{{item.image}}"
config = "{{paths.base}}/config.txt"
catalog = "{{outputs.catalog}}"
threshold = 3
params = ["NUMBER", "XWIN_IMAGE", "YWIN_IMAGE", "FLUX_AUTO", "FLAGS"]

[[steps]]
name = "combine"
func = "funcs.py:combine"
[steps.kwargs]
catalogs = "{{steps.detect.outputs.catalog}}"
output = "{{paths.temp}}/all.txt"
'''


def make(folder: Path, n: int) -> Path:
    (folder / "images").mkdir(parents=True)
    for i in range(n):
        (folder / "images" / f"{i:06d}.txt").write_text(f"image {i}\n")
    (folder / "config.txt").write_text("DETECT_THRESH 3\n")
    (folder / "funcs.py").write_text(FUNCS)
    project = folder / "project.toml"
    project.write_text(PROJECT.format())
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make(Path(tmp), args.steps)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "aw_tui", str(project), "--batch"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            return 1
        run = time.perf_counter() - start
        print(f"load before: {os.getloadavg()[0]:.2f}")
        print(f"run of {args.steps + 1:,} steps: {run:.1f} s")
        loads, states = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            target = resolve_target(str(project))
            checkpoint = resume_verdict(target).pipeline
            loaded = time.perf_counter()
            freshness = freshness_of(target, checkpoint)
            done = time.perf_counter()
            loads.append(loaded - start)
            states.append(done - loaded)
        counts = freshness.counts()
        assert counts["done"] == args.steps + 1, counts
        load, state = min(loads), min(states)
        print("| steps | load project + checkpoint | states of all steps | per step |")
        print("| --- | --- | --- | --- |")
        print(f"| {args.steps + 1:,} | {load:.2f} s | {state:.3f} s | "
              f"{state / (args.steps + 1) * 1e6:.0f} µs |")
        print(f"load after: {os.getloadavg()[0]:.2f}")
        limit = 1.0 * args.steps / 10000
        print(f"target: states < {limit:.1f} s: {'met' if state < limit else 'NOT met'}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
