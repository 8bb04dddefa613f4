"""`aw-tui demo` writes the demo project and says what it is doing while it makes the images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aw_tui.cli.main import main
from aw_tui.demo.writer import write_demo


def test_write_demo_reports_each_exposure_as_it_is_written(tmp_path: Path) -> None:
    lines: list[str] = []
    images = tmp_path / "demo" / "images"

    def progress(line: str) -> None:
        # Each line is said when its files are there, not at the end.
        names = os.listdir(images) if images.is_dir() else []
        written = sorted(name for name in names if name.endswith(".fits"))
        lines.append(line)
        seen.append(written)

    seen: list[list[str]] = []
    project = write_demo(str(tmp_path / "demo"), size=96, progress=progress)
    assert Path(project).is_file()
    assert len(lines) == 5
    assert "making the synthetic sky" in lines[0] and "3 exposures of 96 x 96" in lines[0]
    for number in (1, 2, 3):
        line = lines[number]
        assert line.startswith(f"exposure {number}/3 written: ")
        for name in (f"2064{number:02d}.fits", f"2064{number:02d}.wtmap.fits",
                     f"2064{number:02d}.dqmask.fits"):
            assert name in line
            assert name in seen[number]
        assert f"2064{number + 1:02d}.fits" not in seen[number]
    assert lines[4].startswith("truth written: ")

    # A second call reuses the images and has nothing to say.
    again: list[str] = []
    write_demo(str(tmp_path / "demo"), size=96, progress=again.append)
    assert again == []


def test_aw_tui_demo_prints_a_line_per_exposure(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", str(tmp_path / "demo"), "--size", "96", "--no-run"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line for line in out if "exposure" in line and "written" in line] == [
        f"aw-tui: exposure {i}/3 written: 2064{i:02d}.fits, 2064{i:02d}.wtmap.fits, "
        f"2064{i:02d}.dqmask.fits" for i in (1, 2, 3)
    ]
    assert out[-1].startswith("aw-tui: demo project written to ")
