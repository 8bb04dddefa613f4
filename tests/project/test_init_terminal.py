"""``aw-tui init`` in a real terminal (tmux): it shows what it found and asks before writing;
without a terminal it never asks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from tmuxing import Tmux, wait_for
from tooling import require_tool


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("source-extractor")
    folder = tmp_path_factory.mktemp("initterm") / "demo"
    made = subprocess.run([sys.executable, "-m", "aw_tui", "demo", str(folder), "--size", "256",
                           "--no-run"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    return folder


def _init(folder: Path, target: Path) -> list[str]:
    return [sys.executable, "-m", "aw_tui", "init", str(target), "--images",
            str(folder / "images" / "*.fits"), "--weights", ".wtmap.fits", "--flags",
            ".dqmask.fits"]


def test_in_a_terminal_it_asks_and_writes_only_after_yes(demo: Path, tmp_path: Path) -> None:
    tmux = Tmux(tmp_path)
    try:
        for answer, written in (("n", False), ("y", True)):
            name = f"init-{answer}"
            tmux.open(name, _init(demo, tmp_path / name), tmp_path, {"TERM": "xterm-256color"})
            wait_for(lambda name=name: "Write this project? [y/N]" in tmux.screen(name), 60,
                     "the question", lambda name=name: tmux.screen(name))
            screen = tmux.screen(name)
            assert "3 image(s)" in screen and "3 weight maps (.wtmap.fits)" in screen
            assert "skipped 2 file(s) that hold no image" in screen
            tmux.keys(name, answer, "Enter")
            wait_for(lambda name=name: tmux.pane_dead(name), 60, "init to end",
                     lambda name=name: tmux.screen(name))
            assert (tmp_path / name / "project.toml").exists() is written
            assert ("nothing written" in tmux.screen(name)) is not written
    finally:
        tmux("kill-server", check=False)


def test_without_a_terminal_it_never_asks(demo: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    proc = subprocess.run(_init(demo, tmp_path / "batch"), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Write this project?" not in proc.stdout + proc.stderr
    assert (tmp_path / "batch" / "project.toml").exists()
    assert time.monotonic() - start < 60
    check = subprocess.run([sys.executable, "-m", "aw_tui", "check",
                            str(tmp_path / "batch" / "project.toml")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
