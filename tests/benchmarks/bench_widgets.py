"""Benchmarks of the output interpreter and the two big TUI widgets.

Run ``python tests/benchmarks/bench_widgets.py`` (from the repository root). Each scenario runs
in its own subprocess so that its peak RSS is its own. Figures printed:

- first paint of `StepTable` with 10,000 and 50,000 rows in a headless app (`run_test`),
  against an empty app and Textual's stock `DataTable` with 10,000 rows;
- `TerminalText` throughput (MB/s) on 20 MB of progress-heavy SExtractor output (real output
  of ``source-extractor`` repeated when it is installed, else the documented pattern), and
  on 20 MB of plain lines;
- `OutputView` tailing a file into which a producer process writes 20 MB (one ``write`` per
  progress update, as a tool writing to stderr does): the producer's time with the app open
  versus without, how long the view needs after the producer ends, and the peak RSS;
- `OutputView` opening a 100 MB file: time to the first lines and to the end, peak RSS.

Options: ``--quick`` (smaller sizes), ``--no-datatable`` (skip the slow stock table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ESC = b"\x1b"
MB = 1_000_000


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- test data


def progress(message: bytes) -> bytes:
    """One AstrOmatic progress update."""
    return ESC + b"[1M" + message + b"\n" + ESC + b"[1A"


def synthetic_sextractor_run(run: int) -> bytes:
    """Output shaped like one SExtractor run (see ASTROMATIC_FACTS.md)."""
    parts = [
        b"\n> WARNING: default.sex not found, using internal defaults\n\n",
        progress(b"> "),
        b"----- Source Extractor 2.25.0 started run %d with 1 thread\n\n" % run,
        progress(b"> Setting catalog parameters"),
        b"----- Measuring from: img.fits\n",
        b'      "Unnamed" / no ext. header / 2048x2048 / 32 bits (floats)\n',
        b"Detection+Measurement image: ",
    ]
    parts += [progress(b"> Setting up background map at line: %4d" % y) for y in range(0, 2048, 64)]
    parts.append(b"(M+D) Background: 1000.47    RMS: 30.0512    / Threshold: 45.0768    \n")
    parts += [
        progress(b"> Line: %4d  Objects: %8d detected / %8d sextracted" % (y, y // 2, y // 3))
        for y in range(0, 2048, 25)
    ]
    parts += [b"      Objects: detected 859      / sextracted 779             \n\n"]
    parts += [progress(b"> Closing files"), progress(b"> ")]
    parts.append(b"> All done (in 0.1 s: 19469.1 lines/s , 14811.0 detections/s)\n")
    return b"".join(parts)


def real_sextractor_output(workdir: Path) -> bytes | None:
    """Run ``source-extractor`` once on a small synthetic image; None when unavailable."""
    binary = shutil.which("source-extractor") or shutil.which("sex")
    if binary is None:
        return None
    try:
        import numpy
        from astropy.io import fits
    except ImportError:
        return None
    rng = numpy.random.default_rng(5)
    image = rng.normal(1000.0, 30.0, (1024, 1024)).astype("f4")
    for x, y in rng.uniform(8, 1016, (800, 2)).astype(int):
        image[y - 2 : y + 3, x - 2 : x + 3] += rng.uniform(200, 20000)
    fits.writeto(workdir / "img.fits", image, overwrite=True)
    (workdir / "p.param").write_text("NUMBER\nX_IMAGE\nY_IMAGE\nFLUX_AUTO\n")
    result = subprocess.run(
        [
            binary,
            "img.fits",
            "-CATALOG_NAME",
            "c.fits",
            "-PARAMETERS_NAME",
            "p.param",
            "-FILTER",
            "N",
        ],
        cwd=workdir,
        capture_output=True,
        check=False,
    )
    return result.stderr or None


def progress_heavy(size: int, workdir: Path) -> tuple[bytes, str]:
    """About `size` bytes of SExtractor output, and where it comes from."""
    sample = real_sextractor_output(workdir)
    origin = "real source-extractor output, repeated"
    if not sample:
        sample = b"".join(synthetic_sextractor_run(i) for i in range(10))
        origin = "synthetic SExtractor-shaped output"
    sample += b"\x1b[7m SCAMP table header \x1b[0m  ok\n"
    return sample * max(1, size // len(sample)), origin


# ---------------------------------------------------------------------------- scenarios


def scenario_make_data(size: int, path: Path) -> dict[str, object]:
    """Write about `size` bytes of progress-heavy output to `path`."""
    with tempfile.TemporaryDirectory() as tmp:
        data, origin = progress_heavy(size, Path(tmp))
    path.write_bytes(data)
    return {"origin": origin, "mbytes": round(len(data) / MB, 1)}


def scenario_terminal_text(data_path: Path) -> dict[str, object]:
    """Throughput of TerminalText on progress-heavy and on plain output."""
    from aw_tui.base.terminal_text import TerminalText

    data = data_path.read_bytes()
    result: dict[str, object] = {}
    plain = b"".join(
        b"%06d plain log line with some text, numbers 1234.5 6789.0 and more\n" % i
        for i in range(len(data) // 70)
    )
    for name, blob in (("progress", data), ("plain", plain)):
        best = 0.0
        for _ in range(2):
            text = TerminalText()
            start = time.perf_counter()
            for offset in range(0, len(blob), 65536):
                text.feed(blob[offset : offset + 65536])
            text.flush()
            elapsed = time.perf_counter() - start
            best = max(best, len(blob) / MB / elapsed)
        result[name] = {
            "mbytes": round(len(blob) / MB, 1),
            "raw_lines": blob.count(b"\n"),
            "visible_lines": text.line_count,
            "mb_per_s": round(best, 1),
        }
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def scenario_table(rows: int, kind: str) -> dict[str, object]:
    """First paint of a table of `rows` rows (kind: steptable, datatable or empty)."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Static

    from aw_tui.tui.step_rows import STATUSES, StepRow
    from aw_tui.tui.widgets.step_table import StepTable

    step_rows = [
        StepRow(
            index=i,
            step_id=i,
            tags=["sex", f"field{i % 97}"],
            func=("run_sex", "run_scamp", "run_swarp", "run_psfex")[i % 4],
            status=STATUSES[i % len(STATUSES)],
            duration=i * 0.37 if i % 3 else None,
            summary=f"{i * 3} detections, background 1000.4 rms 30.05",
        )
        for i in range(rows)
    ]
    painted: dict[str, float] = {}

    class TimedStepTable(StepTable):
        def render_line(self, y):  # type: ignore[no-untyped-def]
            strip = super().render_line(y)
            if y == self.scrollable_content_region.height - 1 and "paint" not in painted:
                painted["paint"] = time.perf_counter()
            return strip

    class BenchApp(App[None]):
        def compose(self) -> ComposeResult:
            if kind == "steptable":
                yield TimedStepTable(step_rows)
            elif kind == "datatable":
                table: DataTable[str] = DataTable()
                table.add_columns("#", "id", "status", "tags", "function", "time", "summary")
                table.add_rows(
                    (
                        str(r.index),
                        str(r.step_id),
                        r.status,
                        ",".join(r.tags),
                        r.func,
                        "" if r.duration is None else f"{r.duration:.1f}",
                        r.summary,
                    )
                    for r in step_rows
                )
                yield table
            else:
                yield Static("empty")

    async def run() -> float:
        start = time.perf_counter()
        app = BenchApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            ready = time.perf_counter()
            if kind == "steptable":
                table = app.query_one(StepTable)
                t0 = time.perf_counter()
                table.set_filter("field7 error")
                painted["filter"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                for i in range(0, rows, max(rows // 1000, 1)):
                    row = step_rows[i]
                    row.status = "success"
                    table.update_row(row.step_id, row)
                painted["updates"] = (time.perf_counter() - t0) / 1000
        painted["start"] = start
        return ready - start

    ready = asyncio.run(run())
    result: dict[str, object] = {
        "rows": rows,
        "kind": kind,
        "ready_s": round(ready, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if "paint" in painted:
        result["first_paint_s"] = round(painted["paint"] - painted["start"], 3)
        result["filter_ms"] = round(painted["filter"] * 1000, 1)
        result["update_row_us"] = round(painted["updates"] * 1e6, 1)
    return result


PRODUCER = r"""
import os, sys, time
path, data_path = sys.argv[1], sys.argv[2]
data = open(data_path, 'rb').read()
# One write per progress update or line, as a tool writing to unbuffered stderr does.
pieces = data.replace(b'\x1b[1A', b'\x1b[1A\0').replace(b'\n', b'\n\0').split(b'\0')
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
start = time.perf_counter()
for piece in pieces:
    if piece:
        os.write(fd, piece)
os.close(fd)
print(time.perf_counter() - start, len(pieces))
"""


def run_producer(path: Path, data_path: Path) -> tuple[float, int]:
    """Run the producer process; return its own timing and number of writes."""
    out = subprocess.run(
        [sys.executable, "-c", PRODUCER, str(path), str(data_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def scenario_tail(data_path: Path) -> dict[str, object]:
    """A producer writes the bytes of `data_path` into a file while an OutputView tails it."""
    from textual.app import App, ComposeResult

    from aw_tui.base.terminal_text import render_final_lines, strip_sgr
    from aw_tui.tui.widgets.output_view import OutputView

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare_path = workdir / "bare.out"
        bare, writes = run_producer(bare_path, data_path)
        bare_path.unlink()
        path = workdir / "steps" / "1.out"
        path.parent.mkdir()
        total = data_path.stat().st_size
        rss_before = peak_rss_mb()
        figures: dict[str, float] = {}

        class TailApp(App[None]):
            def compose(self) -> ComposeResult:
                yield OutputView(path)

        async def run() -> None:
            app = TailApp()
            async with app.run_test(size=(100, 30)) as pilot:
                view = app.query_one(OutputView)
                await pilot.pause(0.1)
                producer = subprocess.Popen(
                    [sys.executable, "-c", PRODUCER, str(path), str(data_path)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                start = time.perf_counter()
                max_lag = 0
                while producer.poll() is None:
                    await pilot.pause(0.05)
                    if path.exists():
                        max_lag = max(max_lag, path.stat().st_size - view.bytes_read)
                ended = time.perf_counter()
                assert producer.stdout is not None
                figures["producer_s"] = float(producer.stdout.read().split()[0])
                while view.bytes_read < total:
                    await pilot.pause(0.01)
                figures["caught_up_after_s"] = time.perf_counter() - ended
                figures["rss"] = peak_rss_mb()
                figures["wall_s"] = time.perf_counter() - start
                figures["max_lag_mb"] = max_lag / MB
                figures["lines"] = view.line_count
                await pilot.pause()
                shown = view.get_line(view.line_count - 1)
                bottom = view.render_line(view.scrollable_content_region.height - 1).text
                figures["end_on_screen"] = float(bottom.rstrip() == strip_sgr(shown).rstrip())
                figures["same_as_whole"] = float(
                    view.lines == render_final_lines(data_path.read_bytes())
                )

        asyncio.run(run())
    return {
        "mbytes": round(total / MB, 1),
        "writes": writes,
        "producer_bare_s": round(bare, 3),
        "producer_with_app_s": round(figures["producer_s"], 3),
        "view_caught_up_after_s": round(figures["caught_up_after_s"], 3),
        "max_backlog_mb": round(figures["max_lag_mb"], 2),
        "visible_lines": int(figures["lines"]),
        "same_as_whole_file": bool(figures["same_as_whole"]),
        "end_on_screen": bool(figures["end_on_screen"]),
        "peak_rss_mb": round(figures["rss"], 1),
        "peak_rss_before_app_mb": round(rss_before, 1),
    }


def scenario_open_big(size: int) -> dict[str, object]:
    """Open an OutputView on an existing file of `size` bytes."""
    from textual.app import App, ComposeResult

    from aw_tui.tui.widgets.output_view import OutputView

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "big.out"
        chunk = b"".join(b"plain output line %08d with some more text\n" % i for i in range(20000))
        chunk += b"".join(progress(b"> Line: %4d" % i) for i in range(2000)) + b"> done\n"
        with open(path, "wb") as stream:
            written = 0
            while written < size:
                stream.write(chunk)
                written += len(chunk)
        total = path.stat().st_size
        rss_before = peak_rss_mb()
        figures: dict[str, float] = {}

        class OpenApp(App[None]):
            def compose(self) -> ComposeResult:
                yield OutputView(path)

        async def run() -> None:
            start = time.perf_counter()
            app = OpenApp()
            async with app.run_test(size=(100, 30)) as pilot:
                view = app.query_one(OutputView)
                while not view.line_count or view.bytes_read == 0:
                    await pilot.pause(0.005)
                figures["first_lines_s"] = time.perf_counter() - start
                while view.bytes_read < total:
                    await pilot.pause(0.01)
                figures["at_end_s"] = time.perf_counter() - start
                figures["lines"] = view.line_count
                figures["omitted"] = float(view.omitted)

        asyncio.run(run())
    return {
        "mbytes": round(total / MB, 1),
        "first_lines_s": round(figures["first_lines_s"], 3),
        "end_shown_s": round(figures["at_end_s"], 3),
        "lines_kept": int(figures["lines"]),
        "omitted_note": bool(figures["omitted"]),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_rss_before_app_mb": round(rss_before, 1),
    }


# ---------------------------------------------------------------------------- driver


def run_scenario(args: list[str]) -> dict[str, object]:
    """Run one scenario in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--scenario", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"scenario {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Run every scenario and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--no-datatable", action="store_true", help="skip the stock DataTable")
    parser.add_argument("--scenario", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.scenario:
        name, *rest = options.scenario
        functions = {
            "data": lambda: scenario_make_data(int(rest[0]), Path(rest[1])),
            "text": lambda: scenario_terminal_text(Path(rest[0])),
            "table": lambda: scenario_table(int(rest[0]), rest[1]),
            "tail": lambda: scenario_tail(Path(rest[0])),
            "open": lambda: scenario_open_big(int(rest[0])),
        }
        print(json.dumps(functions[name]()))
        return 0

    scale = 0.25 if options.quick else 1.0
    stream_size = int(20 * MB * scale)
    big_size = int(100 * MB * scale)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    print("\n== StepTable first paint (headless run_test, 80x24) ==")
    empty = run_scenario(["table", "0", "empty"])
    print(f"empty app (baseline): ready in {empty['ready_s']:.3f} s")
    for rows in (10_000, 50_000):
        r = run_scenario(["table", str(rows), "steptable"])
        print(
            f"StepTable {rows:>6,} rows: first paint {r['first_paint_s']:.3f} s "
            f"(app ready {r['ready_s']:.3f} s), filter {r['filter_ms']} ms, "
            f"update_row {r['update_row_us']} us, peak RSS {r['peak_rss_mb']} MB"
        )
    if not options.no_datatable:
        r = run_scenario(["table", "10000", "datatable"])
        print(f"stock DataTable 10,000 rows: ready in {r['ready_s']:.3f} s")

    print("\n== TerminalText throughput (64 KiB chunks) ==")
    data_dir = tempfile.TemporaryDirectory()
    data_path = Path(data_dir.name) / "progress.out"
    made = run_scenario(["data", str(stream_size), str(data_path)])
    print(f"input: {made['origin']}")
    r = run_scenario(["text", str(data_path)])
    for name in ("progress", "plain"):
        f = r[name]
        assert isinstance(f, dict)
        print(
            f"{name:>8}: {f['mbytes']} MB, {f['raw_lines']:,} raw lines -> "
            f"{f['visible_lines']:,} visible lines, {f['mb_per_s']} MB/s"
        )

    print("\n== OutputView tailing a file a producer writes ==")
    r = run_scenario(["tail", str(data_path)])
    data_dir.cleanup()
    print(f"input: the same {r['mbytes']} MB, in {r['writes']:,} writes")
    print(
        f"producer alone {r['producer_bare_s']:.3f} s, with the app tailing "
        f"{r['producer_with_app_s']:.3f} s; view at the end {r['view_caught_up_after_s']:.3f} s "
        f"after the producer; max backlog {r['max_backlog_mb']} MB; "
        f"{r['visible_lines']:,} visible lines (same as interpreting the whole file: "
        f"{r['same_as_whole_file']}, last line on screen: {r['end_on_screen']}); "
        f"peak RSS {r['peak_rss_mb']} MB ({r['peak_rss_before_app_mb']} MB before the app "
        "started)"
    )

    print("\n== OutputView opening a big file ==")
    r = run_scenario(["open", str(big_size)])
    print(
        f"{r['mbytes']} MB: first lines after {r['first_lines_s']:.3f} s (app start included), "
        f"end shown after {r['end_shown_s']:.3f} s, {r['lines_kept']:,} lines kept, "
        f"omitted note {r['omitted_note']}, peak RSS {r['peak_rss_mb']} MB "
        f"({r['peak_rss_before_app_mb']} MB before the app started)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
