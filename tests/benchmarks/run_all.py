"""Run every benchmark script in this folder, one after the other (``make bench``).

Each ``bench_*.py`` prints its own figures and targets; this only runs them and reports
which ones failed to run. Pass names to run a subset: ``python run_all.py engine tui``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.stem for name in argv)]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent.parent)
        print(f"=== {script.name}: exit {code} in {time.monotonic() - start:.1f} s ===",
              flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
