"""aw-tui beside Snakemake on the same work, in one run (issue 16).

Two workloads, each at several sizes N, run by both tools from a fresh folder:

- **tool-like steps**: N steps that each run one short external command writing one file
  (aw-tui: a ``foreach`` of ``aw_tui.testing_funcs:run_argv`` with ``["touch", FILE]``, as a
  tool step runs; Snakemake: a rule with ``shell: "touch {output}"``);
- **Python steps**: N steps that each write one file from Python (aw-tui:
  ``aw_tui.testing_funcs:touch``; Snakemake: a rule with a ``run:`` block).

Each run is a fresh process (``aw-tui PROJECT --batch``; ``snakemake --cores 1``) timed from
start to exit, with its peak memory (the largest ``ru_maxrss`` of its process tree). The cost
per step beyond start-up is ``(T(N) - T(1)) / (N - 1)``. Snakemake is installed into a
throwaway venv (``pip install snakemake``) unless ``--snakemake`` names one.

Nextflow is not compared: its Python package only downloads the launcher from the internet,
which these machines cannot reach, and it needs a Java runtime.

    .venv/bin/python tests/benchmarks/bench_peers.py                  # N = 1, 300, 3000
    .venv/bin/python tests/benchmarks/bench_peers.py --sizes 1 100    # quicker

Target: aw-tui at least 10x cheaper per tool-like step than Snakemake, and faster at every N.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.call(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL,\n"
    "                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)\n"
    "wall = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(code, wall, rss)\n"
)

AW_PROJECT = """
[pipeline]
name = "peers"
create_paths = true

[paths]
log = "work/log"
out = "work/out"

[inputs.items]
items = [{items}]
field = "name"
text_fields = ["name"]

[[steps]]
name = "step"
func = "{func}"
foreach = "items"
tags = ["s"]

[steps.kwargs]
{kwargs}
"""

SNAKEFILE_SHELL = """
N = {n}
rule all:
    input: expand("out/{{i}}.txt", i=range(N))
rule step:
    output: "out/{{i}}.txt"
    shell: "touch {{output}}"
"""

SNAKEFILE_PYTHON = """
N = {n}
rule all:
    input: expand("out/{{i}}.txt", i=range(N))
rule step:
    output: "out/{{i}}.txt"
    run:
        with open(output[0], "a") as handle:
            handle.write("x\\n")
"""


def measure(folder: Path, argv: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of ``argv`` run in ``folder``; fails loudly."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder), *argv],
                         capture_output=True, text=True, check=True).stdout.split()
    code, wall, rss = int(out[0]), float(out[1]), float(out[2])
    if code != 0:
        raise SystemExit(f"{argv[0]} exited {code} in {folder}")
    return wall, rss


def aw_tui_run(root: Path, n: int, kind: str) -> tuple[float, float]:
    folder = root / f"aw-{kind}-{n}"
    folder.mkdir()
    items = ", ".join(f'{{name = "i{i}"}}' for i in range(n))
    if kind == "tool":
        func = "aw_tui.testing_funcs:run_argv"
        kwargs = 'argv = ["touch", "{paths.out}/{item.name}.txt"]'
    else:
        func = "aw_tui.testing_funcs:touch"
        kwargs = 'path = "{paths.out}/{item.name}.txt"'
    (folder / "project.toml").write_text(AW_PROJECT.format(items=items, func=func,
                                                           kwargs=kwargs))
    (folder / "work" / "out").mkdir(parents=True)
    result = measure(folder, [sys.executable, "-m", "aw_tui", "project.toml", "--batch"])
    assert len(list((folder / "work" / "out").iterdir())) == n
    return result


def snakemake_run(root: Path, snakemake: str, n: int, kind: str) -> tuple[float, float]:
    folder = root / f"smk-{kind}-{n}"
    folder.mkdir()
    text = SNAKEFILE_SHELL if kind == "tool" else SNAKEFILE_PYTHON
    (folder / "Snakefile").write_text(text.format(n=n))
    result = measure(folder, [snakemake, "--cores", "1", "--quiet", "all"])
    assert len(list((folder / "out").iterdir())) == n
    return result


def install_snakemake(root: Path) -> str:
    venv = root / "snakemake-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "snakemake"], check=True)
    return str(venv / "bin" / "snakemake")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 300, 3000])
    parser.add_argument("--python-sizes", type=int, nargs="+", default=[1, 30],
                        help="sizes of the Python-step workload for Snakemake (its run: jobs "
                             "cost about a second each); aw-tui runs --sizes")
    parser.add_argument("--snakemake", help="a snakemake binary (default: install one)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aw-peers-"))
    try:
        snakemake = args.snakemake or install_snakemake(root)
        version = subprocess.run([snakemake, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"snakemake {version}; load before: {os.getloadavg()[0]:.2f}")
        figures: dict[str, dict[str, dict[int, tuple[float, float]]]] = {}
        plans = [("aw-tui", "tool", args.sizes), ("snakemake", "tool", args.sizes),
                 ("aw-tui", "python", args.sizes), ("snakemake", "python", args.python_sizes)]
        for tool, kind, sizes in plans:
            for n in sizes:
                run = (aw_tui_run(root, n, kind) if tool == "aw-tui"
                       else snakemake_run(root, snakemake, n, kind))
                figures.setdefault(kind, {}).setdefault(tool, {})[n] = run
                print(f"{tool:9} {kind:6} N={n:<5} {run[0]:7.2f} s  {run[1]:6.0f} MB",
                      flush=True)
        print(f"load after: {os.getloadavg()[0]:.2f}")
        ok = report(figures)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1))
        return 0 if ok else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


def per_step(runs: dict[int, tuple[float, float]]) -> float | None:
    sizes = sorted(runs)
    if len(sizes) < 2 or sizes[0] != 1:
        return None
    return (runs[sizes[-1]][0] - runs[1][0]) / (sizes[-1] - 1)


def report(figures: dict[str, dict[str, dict[int, tuple[float, float]]]]) -> bool:
    print("\n| workload | tool | start-up (N=1) | per step beyond start-up | peak RSS |")
    print("| --- | --- | --- | --- | --- |")
    for kind, tools in figures.items():
        for tool, runs in tools.items():
            cost = per_step(runs)
            print(f"| {kind} | {tool} | {runs[min(runs)][0]:.2f} s | "
                  f"{'-' if cost is None else f'{cost * 1000:.2f} ms'} | "
                  f"{max(r[1] for r in runs.values()):.0f} MB |")
    tool = figures["tool"]
    aw_cost, smk_cost = per_step(tool["aw-tui"]), per_step(tool["snakemake"])
    ratio = smk_cost / aw_cost if aw_cost and smk_cost else float("nan")
    faster = all(tool["aw-tui"][n][0] < tool["snakemake"][n][0] for n in tool["aw-tui"]
                 if n in tool["snakemake"])
    python = figures["python"]
    py_ratio = (per_step(python["snakemake"]) or 0) / (per_step(python["aw-tui"]) or 1)
    print(f"\ntool-like steps: Snakemake costs {ratio:.1f}x aw-tui per step (target >= 10x); "
          f"aw-tui faster at every N: {faster}")
    print(f"Python steps: Snakemake costs {py_ratio:.0f}x aw-tui per step")
    return ratio >= 10 and faster


if __name__ == "__main__":
    sys.exit(main())
