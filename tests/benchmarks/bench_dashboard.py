"""Every run of a folder on one screen (issue 15): listing 100 finished runs.

    .venv/bin/python tests/benchmarks/bench_dashboard.py               # 100 runs of 20 steps
    .venv/bin/python tests/benchmarks/bench_dashboard.py --runs 300 --steps 200

One project of N steps (``aw_tui.testing_funcs:succeed``) is run once for real with
``--batch``; its folder (project file, checkpoint, journal with each step's provenance) is
copied to ``survey/field-001`` ... ``field-100``. Then, all finished: the time to find the
runs and read every row as the dashboard and ``aw-tui status DIR`` do
(:func:`aw_tui.survey.find_runs` + :func:`aw_tui.survey.survey_row`: each run's lock and
newest run's journal lines, no checkpoint unpickled), the median of 5 in this process; and
``aw-tui status DIR --json`` end to end (a new Python process: imports included), the median
of 3. Target: the listing < 1 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aw_tui.survey import find_runs, survey_row  # noqa: E402

TARGET = 1.0


def make_survey(folder: Path, runs: int, steps: int) -> Path:
    first = folder / "template"
    first.mkdir(parents=True)
    text = '[pipeline]\nname = "field"\ncreate_paths = true\n[paths]\nlog = "work/log"\n'
    for number in range(steps):
        text += (f'[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\ntags = ["s{number}"]\n'
                 f"kwargs = {{ n = {number}, label = \"step {number} of the field\" }}\n")
    (first / "project.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "aw_tui", str(first / "project.toml"),
                           "--batch"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    survey = folder / "survey"
    for number in range(1, runs + 1):
        shutil.copytree(first, survey / f"field-{number:03d}", symlinks=True)
    return survey


def list_once(survey: Path) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    now = time.time()
    rows = [survey_row(run, str(survey), None, now) for run in find_runs(str(survey))]
    return time.perf_counter() - start, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        survey = make_survey(Path(tmp), args.runs, args.steps)
        journal = (survey / "field-001" / "work" / "log" / "events.jsonl").stat().st_size
        times = []
        for _ in range(5):
            took, rows = list_once(survey)
            times.append(took)
        assert len(rows) == args.runs, len(rows)
        assert all(r["state"] == "finished" and r["counts"]["done"] == args.steps
                   for r in rows), rows[0]
        whole = []
        for _ in range(3):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "aw_tui", "status", str(survey),
                                   "--json"], capture_output=True, text=True, timeout=300)
            whole.append(time.perf_counter() - start)
            assert proc.returncode == 0, proc.stderr
            assert len(json.loads(proc.stdout)["runs"]) == args.runs
    listing = statistics.median(times)
    print(f"{args.runs} finished runs of {args.steps} steps (journal {journal / 1024:.0f} KiB "
          "each)")
    print(f"  find + read every row (in process, median of 5): {listing:.3f} s "
          f"({listing / args.runs * 1000:.2f} ms per run)   target < {TARGET:.0f} s")
    print(f"  aw-tui status DIR --json (new process, median of 3): "
          f"{statistics.median(whole):.3f} s")
    return 0 if listing < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
