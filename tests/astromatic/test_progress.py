"""Progress inside a tool step, from its raw output (issue 14, fix 7; docs/progress.md).

The byte strings are cut from the real tools' output (Debian's source-extractor 2.25.0,
SWarp 2.41.5, SCAMP 2.10.0, PSFEx 3.21.1); the last test runs the real demo and reads
every step's ``steps/<id>.out``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aw_tui.astromatic.progress import Progress, ProgressFile, ProgressParser, ProgressTracker

SEX = (
    b"\x1b[1M> \n\x1b[1A----- Source Extractor 2.25.0 started on 2026-12-03 at 08:39:45 with 1"
    b" thread\n\n\x1b[1M> Setting catalog parameters\n\x1b[1A\x1b[1M> Looking for a.fits\n"
    b"\x1b[1A----- Measuring from: mef.fits [2/4]\n"
    b'      "aw-tui synthetic fie" / no ext. header / 2048x8887 / 32 bits (floats)\n'
    b"Detection+Measurement image: \x1b[1M> Setting up background maps\n\x1b[1A"
    b"\x1b[1M> Scanning image\n\x1b[1A\x1b[1M> Line: 5720  Objects:      100 detected /"
    b"        0 sextracted\n\x1b[1A"
)
SWARP = (
    b"\x1b[1M> \n\x1b[1A----- SWarp 2.41.5 started on 2026-12-03 at 08:39:45 with 1 thread\n\n"
    b"\x1b[1M> Loading input data ...\n\x1b[1A\x1b[1M> \n\x1b[1A-------------- File 0000_a.fits:\n"
    b"\x1b[1M> Resampling line:    485 / 515    \n\x1b[1A\x1b[1M> \n\x1b[1A"
    b"-------------- File 0001_b.fits:\n"
    b"\x1b[1M> Setting up background map at line:    128 / 512    \n\x1b[1A"
    b"\x1b[1M> Reading /tmp/demo/work/temp/4.swarp-inputs/0001_b.fits\n\x1b[1A"
    b"\x1b[1M> Resampling line:   5720 / 8887    \n\x1b[1A"
)
SCAMP = (
    b"\x1b[1M> \n\x1b[1A----- SCAMP 2.10.0 started on 2026-12-03 at 08:39:45 with 1 thread\n\n"
    b"\x1b[1M> Grouping fields: field 2/3, 1 group\n\x1b[1A"
    b"\x1b[1M> Filling the global astrometry matrix: group 1/1, field 1/3\n\x1b[1A"
)
PSFEX = (
    b"\x1b[1M> \n\x1b[1A----- PSFEx 3.21.1 started on 2026-12-03 at 08:39:46 with 1 thread\n\n"
    b"\x1b[1M> Computing final PSF model for test_stack...\n\x1b[1A"
)


def parsed(data: bytes, chunk: int = 0) -> Progress | None:
    parser = ProgressParser()
    if not chunk:
        return parser.feed(data)
    for start in range(0, len(data), chunk):
        parser.feed(data[start:start + chunk])
    return parser.progress


def test_sextractor_line_over_the_image_height_of_the_extension() -> None:
    found = parsed(SEX)
    assert found == Progress("Scanning", 5720 / 8887, 2, 4, "ext", "SExtractor")
    background = parsed(SEX[: SEX.index(b"\x1b[1M> Scanning")]
                        + b"\x1b[1M> Setting up background map at line: 2176\n\x1b[1A")
    assert background.text() == "24% Setting up background map (ext 2/4)"
    assert found.percent == 64
    assert found.text() == "64% Scanning (ext 2/4)"


def test_swarp_resampling_of_the_nth_file_and_paths_cut_to_their_names() -> None:
    found = parsed(SWARP)
    assert found.text() == "64% Resampling (file 2)"
    before = parsed(SWARP[: SWARP.index(b"\x1b[1M> Resampling line:   5720")])
    assert before.text() == "Reading 0001_b.fits (file 2)"  # a stage without a count
    assert before.fraction is None
    background = parsed(SWARP[: SWARP.index(b"\x1b[1M> Reading")])
    assert background.text() == "25% Setting up background map (file 2)"
    coadd = parsed(SWARP + b"-------------- Co-adding frames            \n"
                   b"\x1b[1M> Co-adding line:    347 / 694    \n\x1b[1A")
    assert coadd.text() == "50% Co-adding"  # after the files: no file number


def test_scamp_and_psfex_stages() -> None:
    assert parsed(SCAMP).text() == "33% Filling the global astrometry matrix"
    stored = parsed(SCAMP + b"\x1b[1M> 206401.cat : 1290 / 1450 detections stored\n\x1b[1A")
    assert stored.text() == "88% Storing detections"
    stored = parsed(SCAMP + b"\x1b[1M> 206401.cat : 0 / 0 detections stored\n\x1b[1A")
    assert stored.text() == "Storing detections"
    pairs = parsed(SCAMP + b"\x1b[1M> 206401.cat: reference pair #400000 / 448878 processed"
                   b"\n\x1b[1A")
    assert pairs.text() == "89% Matching reference pairs"
    assert parsed(SCAMP[: SCAMP.index(b"\x1b[1M> Filling")]).text() == "66% Grouping fields"
    found = parsed(PSFEX)
    assert (found.stage, found.fraction, found.tool) == (
        "Computing final PSF model for test_stack", None, "PSFEx")


def test_pieces_of_any_size_give_the_same_progress_and_all_done_is_100() -> None:
    for data in (SEX, SWARP, SCAMP, PSFEX):
        whole = parsed(data)
        for chunk in (1, 7, 64):
            assert parsed(data, chunk) == whole
    done = parsed(SWARP + b"\x1b[1M> Closing files ...\n\x1b[1A\x1b[1M> \n\x1b[1A"
                          b"> All done (in 0.5 s)\n")
    assert (done.stage, done.percent) == ("done", 100)
    assert parsed(b"print from a Python step\n50 / 100 things\n") is None  # no tool message


def test_a_piece_of_many_lines_gives_what_its_lines_one_by_one_give(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A piece holding many lines parses only its last message (each earlier one is
    replaced by it), yet gives exactly what feeding its lines one at a time gives: at
    every line of the real samples and of lines made to catch a shortcut (a message left
    empty last, two messages on a line, a part or a total between two messages)."""
    tricky = (SEX + b"\x1b[1M> \n\x1b[1A"  # an empty message last: the one before counts
              + b"\x1b[1M> Line:  100\x1b[1M> Line:  200\n\x1b[1A"
              + b"----- Measuring from: mef.fits [3/4]\n"
              + b'      "x" / no ext. header / 2048x400 / 32 bits (floats)\n'
              + b"\x1b[1M> Line:  300\n\x1b[1A\x1b[1M>   \n")
    for data in (SEX, SWARP, SCAMP, PSFEX, tricky):
        ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")] + [len(data)]
        for end in ends:
            assert parsed(data[:end]) == parsed(data[:end], chunk=1), (data[:end][-80:])
    assert parsed(tricky).text() == "75% Scanning (ext 3/4)"
    messages = []
    real = ProgressParser._message
    monkeypatch.setattr(ProgressParser, "_message",
                        lambda self, text: (messages.append(text), real(self, text)))
    flood = b"".join(b"\x1b[1M> Resampling line: %6d / 8887    \n\x1b[1A" % line
                     for line in range(0, 8887, 4))
    assert parsed(SWARP + flood).text() == "99% Resampling (file 2)"
    assert messages == ["Resampling line:   8884 / 8887"]


def test_a_file_followed_with_small_reads(tmp_path: Path) -> None:
    """New bytes only; a flood is read as its head and tail; a rerun's new file starts over."""
    out = tmp_path / "4.out"
    follower = ProgressFile(str(out), head=1024, tail=4096, max_read=64 * 1024)
    assert follower.poll() is None  # not started
    out.write_bytes(SWARP)
    assert follower.poll().text() == "64% Resampling (file 2)"
    read = follower.bytes_read
    assert follower.poll().text() == "64% Resampling (file 2)" and follower.bytes_read == read
    with out.open("ab") as handle:  # 20 MB of progress lines arrive at once
        for line in range(0, 8887, 2):
            handle.write(b"\x1b[1M> Resampling line: %6d / 8887    \n\x1b[1A" % line)
        handle.write(b"\x1b[1M> Resampling line:   8000 / 8887    \n\x1b[1A" * 500_000)
    size = out.stat().st_size
    assert size > 20_000_000
    assert follower.poll().text() == "90% Resampling (file 2)"
    assert follower.bytes_read - read <= 4096
    os.unlink(out)  # the step runs again: its output starts afresh
    assert follower.poll() is None
    out.write_bytes(SCAMP)
    assert follower.poll().text() == "33% Filling the global astrometry matrix"


def test_the_tracker_follows_the_running_steps_only(tmp_path: Path) -> None:
    (tmp_path / "1.out").write_bytes(SEX)
    (tmp_path / "2.out").write_bytes(PSFEX)
    tracker = ProgressTracker()
    found = tracker.poll({1: str(tmp_path / "1.out"), 2: str(tmp_path / "2.out"),
                          3: str(tmp_path / "3.out")})
    assert sorted(found) == [1, 2] and found[1].percent == 64
    assert list(tracker.poll({2: str(tmp_path / "2.out")})) == [2]


def test_every_step_of_the_real_demo(demo_512_run) -> None:
    """The real tools' output, as the demo's run directory keeps it (the session's 512 px
    demo run)."""
    steps = demo_512_run.folder / "work" / "log" / "steps"
    seen: dict[str, set[str]] = {}
    for out in sorted(steps.glob("*.out")):
        parser = ProgressParser()
        data = out.read_bytes()
        for start in range(0, len(data), 100):  # as a live run's output arrives
            found = parser.feed(data[start:start + 100])
            if found is not None:
                seen.setdefault(parser.tool, set()).add(found.text())
        assert parser.progress is not None and parser.progress.stage == "done", out
        for end in range(0, len(data), max(len(data) // 40, 1)):  # read whole at once
            assert parsed(data[:end]) == parsed(data[:end], chunk=100), (out, end)
    assert sorted(seen) == ["PSFEx", "SCAMP", "SExtractor", "SWarp"]
    assert "100% Scanning" in seen["SExtractor"]
    assert any(t.endswith("% Resampling (file 3)") for t in seen["SWarp"])
    assert any(t.endswith("% Filling the global astrometry matrix") for t in seen["SCAMP"])
    assert "Computing final PSF model for test_stack" in seen["PSFEx"]
