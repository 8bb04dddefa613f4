"""Fuzz of the project loader at scale (issue 11, item 11): thousands of generated projects.

The generator of ``tests/project/fuzz_projects.py`` (seeded mutations of valid projects: deep
nesting, long strings, NUL and control characters, wrong types, huge integers, odd paths and
names, chains and loops of references, broken TOML) writes ``--count`` project files; each is
loaded with ``load_project`` in this process (in full and with ``steps=False``). Every load
must give a project or a ``ProjectError``: anything else, or a load over ``--limit`` seconds,
is listed. Then ``aw-tui check`` runs on a sample of ``--cli`` of them (exit 0 or 2, no
"Traceback"). Prints the counts and times; exits 1 when any load or check misbehaved.

    python tests/benchmarks/bench_fuzz_project.py                  # 5,000 projects, seed 1
    python tests/benchmarks/bench_fuzz_project.py --count 20000 --seed 7 --cli 100
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, ROOT / "tests" / "project"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fuzz_projects import generate, make_data_folder  # noqa: E402

from aw_tui.project import ProjectError, load_project  # noqa: E402


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def load_one(path: Path, steps: bool, limit: int) -> tuple[str, float]:
    """(outcome, seconds): ``ok``, ``ProjectError``, ``timeout`` or the exception's name."""
    started = time.perf_counter()
    signal.alarm(limit)
    try:
        load_project(path, steps=steps)
        outcome = "ok"
    except ProjectError:
        outcome = "ProjectError"
    except _Timeout:
        outcome = "timeout"
    except BaseException as exc:  # what the benchmark counts: anything but ProjectError
        outcome = f"{type(exc).__name__}: {exc!s:.120}"
    finally:
        signal.alarm(0)
    return outcome, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cli", type=int, default=50, help="aw-tui check on this many")
    parser.add_argument("--limit", type=int, default=10, help="seconds one load may take")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    aw_tui = Path(sys.executable).with_name("aw-tui")
    with tempfile.TemporaryDirectory(prefix="aw-fuzz-") as tmp:
        folder = make_data_folder(Path(tmp))
        started = time.perf_counter()
        paths = []
        for label, text in generate(args.count, args.seed):
            path = folder / f"{label[:60]}.toml"
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8", newline="")
            paths.append(path)
        written = time.perf_counter() - started
        outcomes: Counter[str] = Counter()
        bad: list[str] = []
        times: list[float] = []
        slowest: list[tuple[float, str]] = []
        started = time.perf_counter()
        for path in paths:
            for steps in (True, False):
                outcome, seconds = load_one(path, steps, args.limit)
                outcomes[outcome if outcome in ("ok", "ProjectError") else "BAD"] += 1
                times.append(seconds)
                slowest = sorted([*slowest, (seconds, f"{path.name} (steps={steps})")])[-5:]
                if outcome not in ("ok", "ProjectError"):
                    bad.append(f"{path.name} (steps={steps}): {outcome}")
        loaded = time.perf_counter() - started
        cli_codes: Counter[int] = Counter()
        started = time.perf_counter()
        sample = paths[:: max(len(paths) // max(args.cli, 1), 1)][: args.cli]
        for path in sample:
            result = subprocess.run([str(aw_tui), "check", str(path)], capture_output=True,
                                    text=True, errors="replace", timeout=120, cwd=folder)
            cli_codes[result.returncode] += 1
            output = result.stdout + result.stderr
            if result.returncode not in (0, 2) or "Traceback" in output:
                bad.append(f"{path.name}: aw-tui check exit {result.returncode}: "
                           f"{output[-300:]}")
        checked = time.perf_counter() - started
    print(f"python {sys.version.split()[0]}, seed {args.seed}")
    print(f"{len(paths)} projects written in {written:.1f} s; {len(times)} loads "
          f"(full and steps=False) in {loaded:.1f} s: {outcomes['ok']} ok, "
          f"{outcomes['ProjectError']} ProjectError, {outcomes['BAD']} other")
    print(f"load time: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times):.2f} s (limit {args.limit} s)")
    print("slowest: " + ", ".join(f"{name} {seconds:.2f} s"
                                  for seconds, name in reversed(slowest)))
    print(f"aw-tui check on {len(sample)}: exit codes {dict(sorted(cli_codes.items()))} in "
          f"{checked:.1f} s")
    for line in bad[:50]:
        print("BAD", line)
    print("result:", "OK, no traceback and no hang" if not bad else f"{len(bad)} BAD")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
