"""The installed ``aw-tui`` command in a real terminal: tmux panes driven with send-keys.

What a user does on a login node: write the demo, open it, press ``r``, watch the statuses
reach success, open a step's output, then lose the terminal in the middle of a second run
(the tmux session is killed) and check the runner finishes on its own; reopening shows the
finished run. The cheap "open and see the table" part runs under each TERM the issue names
and with NO_COLOR. Each test uses its own tmux server (``-S`` socket in ``tmp_path``), killed
in teardown with every aw-tui process it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmuxing import AW_TUI, Tmux, pid_alive, require_tmux, wait_for
from tooling import require_tool

from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import read_lock

ROW = re.compile(
    r"^[» ]\s*(?P<index>\d*) +(?P<id>\d+) (?P<symbol>\S) "
    r"(?P<status>pending|running|success|error|unknown|skipped|interrupted)\b"
)
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_BASIC_GREYS = {0, 7, 8, 15}


def _grey_256(n: int) -> bool:
    if n < 16:
        return n in _BASIC_GREYS
    if n >= 232:
        return True
    n -= 16
    return n // 36 == (n // 6) % 6 == n % 6


def chromatic_colors(escaped: str) -> set[str]:
    """The colours (not black, white or grey) set by the SGR sequences of a pane capture."""
    found: set[str] = set()
    for match in SGR.finditer(escaped):
        codes = [int(c) if c.isdigit() else 0 for c in re.split("[;:]", match[1] or "0")]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                if not _grey_256(codes[i + 2]):
                    found.add(f"{code};5;{codes[i + 2]}")
                i += 3
            elif code in (38, 48) and i + 4 < len(codes) and codes[i + 1] == 2:
                r, g, b = codes[i + 2:i + 5]
                if not r == g == b:
                    found.add(f"{code};2;{r};{g};{b}")
                i += 5
            else:
                if 31 <= code <= 36 or 41 <= code <= 46 or 91 <= code <= 96 \
                        or 101 <= code <= 106:
                    found.add(str(code))
                i += 1
    return found


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(tmp_path)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``aw-tui demo DIR --size 512 --no-run``, once for the module."""
    require_tmux()
    folder = tmp_path_factory.mktemp("terminal") / "demo"
    proc = subprocess.run([str(AW_TUI), "demo", str(folder), "--size", "512", "--no-run"],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return folder / "project.toml"


def rows(screen: str) -> dict[int, str]:
    """step id -> status, from the table rows on screen."""
    found = {}
    for line in screen.splitlines():
        match = ROW.match(line)
        if match:
            found[int(match["id"])] = match["status"]
    return found


def runners_of(log: Path) -> list[int]:
    """Pids of the runners the journal names."""
    return [e["pid"] for e in read_events(str(log)) if e["event"] == "run_started"]


@pytest.fixture
def reap_runners() -> Iterator[list[Path]]:
    """Run directories whose runners must not outlive the test."""
    logs: list[Path] = []
    yield logs
    for log in logs:
        for pid in runners_of(log):
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "term, no_color",
    [("xterm", False), ("xterm-256color", False), ("screen-256color", False),
     ("tmux-256color", False), ("xterm-256color", True)],
    ids=["xterm", "xterm-256color", "screen-256color", "tmux-256color", "NO_COLOR"],
)
def test_open_the_demo_and_see_the_table(tmux, demo_project, term, no_color):
    env = {"TERM": term, **({"NO_COLOR": "1"} if no_color else {})}
    tmux.open("aw", [str(AW_TUI), str(demo_project)], demo_project.parent, env)
    # The three detect members fold into one row; the six other steps have their own.
    wait_for(lambda: len(rows(tmux.screen("aw"))) == 6 and "r Run" in tmux.screen("aw"), 20,
             "six steps, detect's group and the footer on screen", lambda: tmux.screen("aw"))
    screen = tmux.screen("aw")
    header = screen.splitlines()[0]
    assert "project.toml" in header and "idle" in header, screen
    assert set(rows(screen).values()) == {"pending"}
    assert "▸ detect (3)" in screen and "0/3 ✔  3 ·" in screen, screen
    assert " id status" in screen and "step" in screen and "SExtractor" in screen
    assert "PSFEx" in screen and "astrometry" in screen
    tmux.keys("aw", "Right")  # the cursor is on detect's row: its members unfold
    wait_for(lambda: len(rows(tmux.screen("aw"))) == 9, 10, "nine steps",
             lambda: tmux.screen("aw"))
    assert "▾ detect (3)" in tmux.screen("aw") and "detect · 206402" in tmux.screen("aw")
    assert "r Run" in screen.rstrip().splitlines()[-1], screen  # the footer, last line
    colors = chromatic_colors(tmux.screen("aw", escapes=True))
    if no_color:
        # Textual's NO_COLOR is monochrome: shades of grey only
        assert not colors, f"NO_COLOR: colours on screen: {colors}"
        assert "· pending" in screen  # statuses read without colour
    else:
        assert colors, f"TERM={term}: no colour at all"
    # ? opens the help, escape closes it, q quits
    tmux.keys("aw", "?")
    wait_for(lambda: "aw-tui keys" in tmux.screen("aw"), 10, "help", lambda: tmux.screen("aw"))
    tmux.keys("aw", "Escape")
    wait_for(lambda: "aw-tui keys" not in tmux.screen("aw"), 10, "help closed",
             lambda: tmux.screen("aw"))
    tmux.keys("aw", "q")
    wait_for(lambda: tmux.pane_dead("aw"), 10, "aw-tui quits", lambda: tmux.screen("aw"))


def test_run_the_demo_watch_it_lose_the_terminal_and_reattach(tmux, demo_project,
                                                              reap_runners):
    for tool in ("sextractor", "scamp", "swarp", "psfex"):
        require_tool(tool)
    log = demo_project.parent / "work" / "log"
    reap_runners.append(log)
    env = {"TERM": "xterm-256color"}
    argv = [str(AW_TUI), str(demo_project)]
    tmux.open("one", argv, demo_project.parent, env)

    def screen() -> str:
        return tmux.screen("one")

    wait_for(lambda: "▸ detect (3)" in screen(), 20, "table", screen)
    tmux.keys("one", "+")  # every group unfolded: each step's own row
    wait_for(lambda: len(rows(screen())) == 9, 20, "nine rows", screen)
    # r: run; the statuses move through running to success
    tmux.keys("one", "r")
    wait_for(lambda: "running on" in screen().splitlines()[0], 20, "running header", screen)
    seen_running = wait_for(lambda: "running" in rows(screen()).values()
                            or set(rows(screen()).values()) == {"success"}, 30, "progress",
                            screen)
    assert seen_running
    wait_for(lambda: set(rows(screen()).values()) == {"success"}, 120, "all success", screen)
    wait_for(lambda: "finished" in screen().splitlines()[0], 20, "finished header", screen)
    assert "✔9 ✘0 ·0" in screen().splitlines()[0]
    # g, enter: step 0's output, SExtractor's own text
    tmux.keys("one", "g", "Enter")
    wait_for(lambda: "All done" in screen() and "Source Extractor" in screen(), 10,
             "SExtractor output", screen)
    assert "Objects: detected" in screen()
    assert "\x1b[1M" not in tmux.screen("one", escapes=True)  # progress lines collapsed
    tmux.keys("one", "Escape")

    # a second run; the terminal goes away in the middle of it
    tmux.keys("one", "r")
    wait_for(lambda: "will run again" in screen(), 10, "confirm dialog", screen)
    tmux.keys("one", "y")
    wait_for(lambda: "running" in rows(screen()).values(), 30, "second run running", screen)
    lock = read_lock(str(log))
    assert lock is not None, "no live runner"
    runner = lock.pid
    assert len(runners_of(log)) == 2 and runner == runners_of(log)[-1]
    tmux.kill_session("one")  # SIGHUP to aw-tui, as when an SSH connection drops
    finished_before = [e for e in read_events(str(log)) if e["event"] == "run_finished"]
    assert len(finished_before) == 1, "the second run ended before the terminal was lost"
    wait_for(lambda: not pid_alive(tmux.pane_pids[0]), 10, "aw-tui gone")
    wait_for(lambda: [e["event"] for e in read_events(str(log))][-1] == "run_finished", 120,
             "the runner finishes on its own", lambda: str(read_events(str(log))[-3:]))
    wait_for(lambda: not pid_alive(runner), 10, "runner exits")
    assert read_lock(str(log)) is None

    # reopen: the finished run
    tmux.open("two", argv, demo_project.parent, env)
    wait_for(lambda: "finished" in tmux.screen("two").splitlines()[0], 20, "reopened",
             lambda: tmux.screen("two"))
    wait_for(lambda: set(rows(tmux.screen("two")).values()) == {"success"}, 10, "successes",
             lambda: tmux.screen("two"))
    tmux.keys("two", "q")
    wait_for(lambda: tmux.pane_dead("two"), 10, "quit", lambda: tmux.screen("two"))


def test_q_during_a_run_leaves_it_going_and_says_how_to_come_back(tmux, tmp_path,
                                                                   reap_runners):
    project = tmp_path / "p" / "project.toml"
    project.parent.mkdir()
    project.write_text(
        '[pipeline]\nname = "t"\ncreate_paths = true\n[paths]\nlog = "work/log"\n'
        + "".join(f'[[steps]]\nfunc = "aw_tui.testing_funcs:sleep"\ntags = ["s{i}"]\n'
                  "[steps.kwargs]\nseconds = 0.5\n" for i in range(4))
    )
    log = project.parent / "work" / "log"
    reap_runners.append(log)
    tmux.open("q", [str(AW_TUI), str(project)], project.parent, {"TERM": "tmux-256color"})
    wait_for(lambda: len(rows(tmux.screen("q"))) == 4, 20, "table", lambda: tmux.screen("q"))
    tmux.keys("q", "r")
    wait_for(lambda: "running" in rows(tmux.screen("q")).values(), 20, "running",
             lambda: tmux.screen("q"))
    tmux.keys("q", "q")
    wait_for(lambda: tmux.pane_dead("q"), 10, "quit", lambda: tmux.screen("q"))
    last_words = tmux.screen("q", history=True)
    (runner,) = runners_of(log)
    assert f"aw-tui: the run goes on (pid {runner}" in last_words, last_words
    assert f"reopen `aw-tui {project}`" in last_words
    assert pid_alive(runner)
    wait_for(lambda: [e["event"] for e in read_events(str(log))][-1] == "run_finished", 30,
             "the run finishes without the TUI")
