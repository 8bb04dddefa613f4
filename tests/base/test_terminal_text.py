"""Tests of the terminal output interpreter `aw_tui.base.terminal_text`."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aw_tui.base.terminal_text import (
    BLOCK_LINES,
    TerminalText,
    render_final_lines,
    strip_sgr,
)

ESC = b"\x1b"


def progress(message: bytes) -> bytes:
    """Return one AstrOmatic progress update."""
    return ESC + b"[1M" + message + b"\n" + ESC + b"[1A"


def sextractor_like(n_runs: int = 3, n_progress: int = 200) -> bytes:
    """Synthesise output shaped like SExtractor's (see ASTROMATIC_FACTS.md)."""
    parts: list[bytes] = []
    for run in range(n_runs):
        parts.append(b"\n> WARNING: default.sex not found, using internal defaults\n\n")
        parts.append(progress(b"> "))
        parts.append(b"----- Source Extractor 2.25.0 started run %d with 1 thread\n\n" % run)
        parts.append(progress(b"> Setting catalog parameters"))
        parts.append(progress(b"> Looking for img.fits"))
        parts.append(b"----- Measuring from: img.fits\n")
        parts.append(b'      "Unnamed" / no ext. header / 1024x1024 / 32 bits (floats)\n')
        parts.append(b"Detection+Measurement image: ")
        for line in range(0, 1024, 64):
            parts.append(progress(b"> Setting up background map at line: %4d" % line))
        parts.append(b"(M+D) Background: 1000.47    RMS: 30.0512    / Threshold: 45.0768    \n")
        for i in range(n_progress):
            parts.append(
                progress(b"> Line: %4d  Objects: %8d detected / %8d sextracted" % (i, i, 0))
            )
        parts.append(b"      Objects: detected 859      / sextracted 779             \n\n")
        parts.append(progress(b"> Closing files"))
        parts.append(progress(b"> "))
        parts.append(b"> All done (in 0.1 s: 19469.1 lines/s , 14811.0 detections/s)\n")
    return b"".join(parts)


def sextractor_expected(run: int) -> list[str]:
    """The visible lines of one run of `sextractor_like`."""
    return [
        "",
        "> WARNING: default.sex not found, using internal defaults",
        "",
        f"----- Source Extractor 2.25.0 started run {run} with 1 thread",
        "",
        "----- Measuring from: img.fits",
        '      "Unnamed" / no ext. header / 1024x1024 / 32 bits (floats)',
        "(M+D) Background: 1000.47    RMS: 30.0512    / Threshold: 45.0768    ",
        "      Objects: detected 859      / sextracted 779             ",
        "",
        "> All done (in 0.1 s: 19469.1 lines/s , 14811.0 detections/s)",
    ]


def feed_in_pieces(data: bytes, cuts: list[int], **kwargs: int) -> TerminalText:
    """Feed `data` cut at the given offsets."""
    text = TerminalText(**kwargs)
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        text.feed(data[previous:cut])
        previous = cut
    text.flush()
    return text


def test_progress_collapses_to_final_lines() -> None:
    data = sextractor_like(n_runs=2)
    lines = render_final_lines(data)
    assert lines == sextractor_expected(0) + sextractor_expected(1)


def test_progress_without_final_line_keeps_last_message() -> None:
    data = b"start\n" + b"".join(progress(b"> step %d" % i) for i in range(100))
    assert render_final_lines(data) == ["start", "> step 99"]


def test_chunk_boundary_invariance_random_splits() -> None:
    rng = random.Random(1234)
    data = (
        sextractor_like(n_runs=2, n_progress=50)
        + "Université é 漢字\n".encode()
        + b"\x1b[7m SCAMP header \x1b[0m\n"
        + b"bad \xff\xfe\xc3 bytes\n"
        + b"10%\r20%\r100%\n"
        + b"\x1b]0;a title\x07after osc\n"
        + b"abc\x1b[2K\x1b[1Gxy\n"
    )
    whole = render_final_lines(data)
    for _ in range(200):
        cuts = [rng.randrange(len(data)) for _ in range(rng.randrange(1, 40))]
        assert feed_in_pieces(data, cuts).lines == whole
    # Every single cut position, and byte-by-byte feeding.
    for cut in range(len(data) // 8):
        assert feed_in_pieces(data, [cut]).lines == whole
    assert feed_in_pieces(data, list(range(len(data)))).lines == whole


def test_chunk_invariance_with_small_live_window() -> None:
    rng = random.Random(7)
    data = b"".join(
        b"line %d\n" % i + progress(b"> p %d" % i) + (b"\x1b[3A" if i % 17 == 0 else b"")
        for i in range(500)
    )
    whole = feed_in_pieces(data, [], live_rows=4)
    for _ in range(50):
        cuts = [rng.randrange(len(data)) for _ in range(20)]
        assert feed_in_pieces(data, cuts, live_rows=4).lines == whole.lines


def test_chunk_invariance_with_colours_and_overwrites() -> None:
    rng = random.Random(11)
    pieces = [
        b"\x1b[7A",
        b"\x1b[3A\x1b[1M",
        b"x",
        b"\x1b[9AZ\n",
        progress(b"> p"),
        b"\x1b[31mred\n",
        b"\x1b[0m",
        b"\x1b[1;4m",
        b"\rab",
        b"\x1b[2D\x1b[K",
        b"\x1b[3D\x1b[1K",
    ]
    data = b"".join(
        b"".join(b"l%d.%d\n" % (i, j) for j in range(rng.randrange(6))) + rng.choice(pieces)
        for i in range(80)
    )
    for live_rows in (3, 64):
        whole = feed_in_pieces(data, [], live_rows=live_rows).lines
        assert feed_in_pieces(data, list(range(len(data))), live_rows=live_rows).lines == whole
        for _ in range(40):
            cuts = [rng.randrange(len(data)) for _ in range(25)]
            assert feed_in_pieces(data, cuts, live_rows=live_rows).lines == whole


def test_overwrite_uses_current_colour() -> None:
    (line,) = render_final_lines(b"plain text\r\x1b[31mRED\x1b[0m")
    assert line == "\x1b[31mRED\x1b[0min text"


def test_sgr_is_kept() -> None:
    lines = render_final_lines(b"\x1b[7m Catalog \x1b[0m name\nplain\n")
    assert lines == ["\x1b[7m Catalog \x1b[0m name", "plain"]
    assert strip_sgr(lines[0]) == " Catalog  name"


def test_sgr_state_carries_to_next_line() -> None:
    lines = render_final_lines(b"\x1b[31mred\nstill red\x1b[0m\nplain\n")
    assert lines == ["\x1b[31mred", "\x1b[31mstill red", "plain"]


def test_only_sgr_sequences_survive() -> None:
    data = b"\x1b]0;title\x07a\x1b[?25lb\x1b[Hc\x1b(Bd\x1b[2Je\x1b[5;3Hf\n"
    assert render_final_lines(data) == ["abcdef"]


def test_bad_bytes_and_controls_are_safe() -> None:
    data = b"bad \xff\xfe end\x00\x01\x7f\x07 \xc2\x9b x \x1b\n"
    (line,) = render_final_lines(data)
    # Bytes that are not UTF-8 show as U+FFFD; C0 controls, DEL and C1 (here CSI) are dropped.
    assert line == "bad \ufffd\ufffd end  x "
    assert all(ord(char) >= 0x20 for char in line)


#: Everything the raw pane must drop, between the letters a..l (issue 11, item 14).
HOSTILE = (
    b"a\x1b]52;c;" + b"Y3VybCBldmlsLnNoIHwgc2g=" * 400 + b"\x07"  # OSC 52 clipboard write, BEL
    + b"b\x1b]0;pwned title\x1b\\"  # title change, ST
    + b"c\x1bP1$r" + b"q" * 600 + b"\x1b\\"  # DCS (longer than any held-back sequence)
    + b"d\x1b_Gf=100;" + b"AAAA" * 300 + b"\x1b\\"  # APC (kitty graphics)
    + b"e\x1b^private message\x1b\\"  # PM
    + b"f\x1bXstart of string\x1b\\"  # SOS
    + b"g\x1b[?1049h\x1b[?25l\x1b[?1000h"  # private modes: alternate screen, cursor, mouse
    + b"h\x1b[2J\x1b[3J\x1b[H\x1b[6n\x1b[>0c\x1b[2 q"  # clear, home, reports, cursor style
    + b"i\x1bc\x1b7\x1b8\x1b(0"  # reset, save/restore, charset
    + b"j\x00\x05\x07\x0e\x0f\x1a\x7f\xc2\x9d\xc2\x90"  # C0, DEL, C1 (OSC, DCS)
    + b"k\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"  # OSC 8 hyperlink: its text stays
    + b"l\n"
)


def test_control_strings_private_modes_and_controls_are_dropped_whole() -> None:
    lines = render_final_lines(HOSTILE)
    assert lines == ["abcdefghijklinkl"]
    # Cut anywhere, even inside a long string or its ST, the result is the same.
    rng = random.Random(52)
    for _ in range(300):
        cuts = [rng.randrange(len(HOSTILE)) for _ in range(rng.randrange(1, 12))]
        assert feed_in_pieces(HOSTILE, cuts).lines == lines
    for cut in range(0, len(HOSTILE), 7):
        assert feed_in_pieces(HOSTILE, [cut]).lines == lines
    assert feed_in_pieces(HOSTILE, list(range(len(HOSTILE)))).lines == lines


def test_an_unterminated_string_hides_the_rest_of_the_chunks_until_it_ends() -> None:
    text = TerminalText()
    text.feed(b"before\n\x1b]52;c;")
    for _ in range(50):
        text.feed(b"QUJD" * 4096)  # 800 KB of payload, never shown, never kept
        assert text.lines == ["before"]
    text.feed(b"QUJD\x07after\n")
    assert text.lines == ["before", "after"]
    # An ESC of another sequence ends a string too (as on a terminal); SGR after it works.
    text.feed(b"\x1bPpayload\x1b[31mred\n")
    assert text.lines == ["before", "after", "\x1b[31mred"]


def test_only_real_sgr_reaches_the_lines() -> None:
    data = b"\x1b[?5mA\x1b[>4;2mB\x1b[1 mC\x1b[1;31mD\x1b[0mE\n"
    assert render_final_lines(data) == ["ABC\x1b[1;31mD\x1b[0mE"]


def test_incomplete_utf8_at_end_becomes_replacement() -> None:
    assert render_final_lines("é".encode()[:1]) == ["\ufffd"]
    text = TerminalText()
    text.feed("é".encode()[:1])
    assert text.lines == []
    text.feed("é".encode()[1:])
    assert text.lines == ["é"]


def test_carriage_return_overwrites() -> None:
    assert render_final_lines(b"hello\rab") == ["abllo"]
    assert render_final_lines(b"10%\r50%\r100%\ndone\n") == ["100%", "done"]
    assert render_final_lines(b"dos line\r\nnext\r\n") == ["dos line", "next"]


def test_overwrite_keeps_sgr_of_following_columns() -> None:
    (line,) = render_final_lines(b"\x1b[7mHEADER\x1b[0m tail\rab")
    assert strip_sgr(line) == "abADER tail"
    assert "\x1b[7m" in line and "\x1b[0m" in line


def test_erase_in_line() -> None:
    assert render_final_lines(b"abcdef\x1b[3D\x1b[K!") == ["abc!"]
    assert render_final_lines(b"abcdef\x1b[3D\x1b[0K!") == ["abc!"]
    assert render_final_lines(b"abcdef\x1b[3D\x1b[1K!") == ["   !ef"]
    assert render_final_lines(b"abcdef\x1b[2Kxy") == ["      xy"]
    assert render_final_lines(b"abcdef\r\x1b[2Kxy") == ["xy"]


def test_cursor_up_delete_and_insert_lines() -> None:
    assert render_final_lines(b"a\nb\nc\x1b[2A\x1b[1M") == ["b", "c"]
    assert render_final_lines(b"a\nb\nc\x1b[1A\x1b[2M") == ["a"]
    assert render_final_lines(b"a\nb\x1b[1A\x1b[1Lnew\n") == ["new", "a", "b"]
    assert render_final_lines(b"a\nb\nc\x1b[2A\rX") == ["X", "b", "c"]
    assert render_final_lines(b"a\x1b[5Ab") == ["ab"]
    assert render_final_lines(b"a\nb\nc\x1b[2A\x1b[J") == ["a"]


def test_tab_and_backspace() -> None:
    assert render_final_lines(b"a\tb") == ["a       b"]
    assert render_final_lines(b"abc\b\bX") == ["aXc"]


def test_long_lines_wrap() -> None:
    lines = render_final_lines(b"x" * 25 + b"\n")
    assert lines == ["x" * 25]
    text = TerminalText(wrap_width=10)
    text.feed(b"x" * 25 + b"\nshort\n")
    assert text.lines == ["x" * 10, "x" * 10, "x" * 5, "short"]
    assert text.max_width == 10


def test_live_and_completed_lines() -> None:
    text = TerminalText(live_rows=4)
    text.feed(b"".join(b"line %d\n" % i for i in range(20)))
    assert text.line_count == 20
    assert text.completed_count + len(text.live_lines) == 20
    assert text.live_lines[-1] == "line 19"
    assert text.completed_count >= 12
    text.feed(progress(b"> working"))
    assert text.live_lines[-1] == "> working"
    text.feed(ESC + b"[1M> done\n")
    assert text.get_line(text.line_count - 1) == "> done"
    assert text.get_line(0) == "line 0"
    with pytest.raises(IndexError):
        text.get_line(text.line_count)


def test_blocks_and_max_chars() -> None:
    text = TerminalText(max_chars=10 * BLOCK_LINES * 8)
    n = 30 * BLOCK_LINES
    text.feed(b"".join(b"l%06d\n" % i for i in range(n)))
    assert text.omitted_lines > 0
    assert text.omitted_lines % BLOCK_LINES == 0
    assert text.omitted_lines + text.line_count == n
    first = text.omitted_lines
    assert text.get_line(0) == f"l{first:06d}"
    assert text.get_line(text.line_count - 1) == f"l{n - 1:06d}"
    snap = text.snapshot()
    assert snap.line_count == text.line_count
    assert snap.get_line(5000) == text.get_line(5000)
    assert snap.lines == text.lines
    # The snapshot does not change when more is fed.
    text.feed(b"more\n")
    assert snap.line_count == text.line_count - 1


def test_snapshot_is_independent_of_later_rewrites() -> None:
    text = TerminalText()
    text.feed(b"head\n" + progress(b"> 1"))
    snap = text.snapshot()
    text.feed(progress(b"> 2"))
    assert snap.lines == ["head", "> 1"]
    assert text.lines == ["head", "> 2"]


def test_trailing_newlines() -> None:
    assert render_final_lines(b"a\n") == ["a"]
    assert render_final_lines(b"a\n\n") == ["a", ""]
    assert render_final_lines(b"") == []
    assert render_final_lines(b"\n") == [""]


def test_throughput_is_reasonable() -> None:
    # A loose bound (the benchmark script measures it properly).
    import time

    data = sextractor_like(n_runs=40, n_progress=400)
    start = time.perf_counter()
    text = TerminalText()
    for offset in range(0, len(data), 65536):
        text.feed(data[offset : offset + 65536])
    elapsed = time.perf_counter() - start
    assert len(data) / elapsed > 2e6
    assert text.line_count == 40 * 11


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("source-extractor") is None, reason="needs source-extractor")
def test_real_sextractor_output(tmp_path: Path) -> None:
    numpy = pytest.importorskip("numpy")
    fits = pytest.importorskip("astropy.io.fits")
    rng = numpy.random.default_rng(3)
    image = rng.normal(1000.0, 30.0, (256, 256)).astype("f4")
    for x, y in rng.uniform(10, 246, (40, 2)).astype(int):
        image[y - 2 : y + 3, x - 2 : x + 3] += 3000.0
    fits.writeto(tmp_path / "img.fits", image)
    (tmp_path / "p.param").write_text("NUMBER\nX_IMAGE\nY_IMAGE\n")
    result = subprocess.run(
        [
            "source-extractor",
            "img.fits",
            "-CATALOG_NAME",
            "c.fits",
            "-PARAMETERS_NAME",
            "p.param",
            "-FILTER",
            "N",
        ],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    raw = result.stderr
    assert raw.count(b"\x1b[1M") > 10
    lines = render_final_lines(raw)
    plain = [strip_sgr(line) for line in lines]
    assert len(lines) < 20 < raw.count(b"\n")
    assert any(line.startswith("----- Source Extractor") for line in plain)
    assert any("Objects: detected" in line for line in plain)
    assert plain[-1].startswith("> All done")
    assert not any("Setting up background map at line" in line for line in plain)
    for cut in range(0, len(raw), max(1, len(raw) // 300)):
        assert feed_in_pieces(raw, [cut]).lines == lines


def test_module_does_not_import_textual() -> None:
    code = (
        "import sys, importlib.util\n"
        "spec = importlib.util.spec_from_file_location('tt', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert 'textual' not in sys.modules and 'rich' not in sys.modules\n"
    )
    path = Path(__file__).resolve().parents[2] / "aw_tui" / "base" / "terminal_text.py"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
