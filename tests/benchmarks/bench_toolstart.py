"""What starting a tool costs: one ``sh -c 'echo x > file'`` per call of ``run_command``.

Three ways a tool dies with its runner, side by side, each in its own subprocess, in
alternating order: ``watchdog`` (one helper process per runner, aw_tui.base.toolguard, the
default), ``setpriv`` (util-linux's ``setpriv --pdeathsig KILL`` exec'd before each tool, the
fallback) and ``none`` (no guarantee: the floor). Reported per call: wall-clock ms and CPU ms
(this process, its children and the watchdog, user + system: steadier than wall time on a
busy machine).

Usage::

    .venv/bin/python tests/benchmarks/bench_toolstart.py [--calls 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import json, os, sys, time
from aw_tui.base import process, toolguard
mode, calls, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode in ("setpriv", "none"):
    toolguard.tool_guard.available = lambda: False
if mode == "none":
    process._die_with_parent_prefix = lambda: ()
assert process.dies_with_runner() == (None if mode == "none" else mode), mode
argv = ["sh", "-c", f"echo x > {target}"]
process.run_command(argv)  # warm up (starts the watchdog)
t0, c0 = time.perf_counter(), os.times()
for _ in range(calls):
    process.run_command(argv)
t1, c1 = time.perf_counter(), os.times()
watchdog = 0.0  # its CPU (not a reaped child: os.times misses it), from /proc
if toolguard.tool_guard.pid and mode == "watchdog":
    with open(f"/proc/{toolguard.tool_guard.pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    watchdog = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
cpu = sum(c1[:4]) - sum(c0[:4]) + watchdog
print(json.dumps({"wall": (t1 - t0) / calls * 1e3, "cpu": cpu / calls * 1e3}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"watchdog": [], "setpriv": [], "none": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for mode in results:
                out = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.calls),
                                      f"{folder}/x.txt"], capture_output=True, text=True,
                                     check=True)
                results[mode].append(json.loads(out.stdout))
    floor = statistics.median(r["cpu"] for r in results["none"])
    print(f"{args.calls} tool-like calls x {args.rounds} rounds (median; CPU = user+sys)")
    for mode, rows in results.items():
        wall = statistics.median(r["wall"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows)
        print(f"  {mode:9s} wall {wall:5.2f} ms/tool   CPU {cpu:5.2f} ms/tool   "
              f"beyond the floor {cpu - floor:+5.2f} ms")
    extra = statistics.median(r["cpu"] for r in results["watchdog"]) - floor
    print(f"target: the guarantee costs < 0.5 ms CPU per tool: {'OK' if extra < 0.5 else 'NO'}")
    return 0 if extra < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
