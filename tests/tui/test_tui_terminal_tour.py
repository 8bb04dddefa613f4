"""The demo in a real terminal (tmux): run it, search SWarp's output, jump to a warning,
look at the stack step's products (a half-block thumbnail in 24-bit colour), the results
screen, quit. The same harness as ``test_tui_terminal.py``."""

from __future__ import annotations

from test_tui_terminal import (  # noqa: F401
    AW_TUI,
    demo_project,
    reap_runners,
    rows,
    tmux,
    wait_for,
)
from tooling import require_tool

THUMB = "\u2580"


def test_tour_of_search_products_and_results(tmux, demo_project, reap_runners):  # noqa: F811
    for tool in ("sextractor", "scamp", "swarp", "psfex"):
        require_tool(tool)
    reap_runners.append(demo_project.parent / "work" / "log")
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
    tmux.open("tour", [str(AW_TUI), str(demo_project)], demo_project.parent, env)

    def screen() -> str:
        return tmux.screen("tour")

    # six steps and the row of detect's three members, folded
    wait_for(lambda: len(rows(screen())) == 6 and "▸ detect (3)" in screen(), 20, "table",
             screen)
    tmux.keys("tour", "r")
    wait_for(lambda: set(rows(screen()).values()) == {"success"}, 120, "all success", screen)
    wait_for(lambda: "finished" in screen().splitlines()[0], 20, "finished header", screen)
    assert "3/3 ✔" in next(line for line in screen().splitlines() if "▸ detect (3)" in line)

    # the SWarp step's output: search it for Resampling, then jump to its first warning
    lines = screen().splitlines()
    swarp = next(line for line in lines if "SWarp" in line and rows(line))
    (step,) = rows(swarp)
    below = lines.index(swarp) - 2  # under the app's header and the table's column titles
    tmux.keys("tour", "g", *["j"] * below, "Enter")
    wait_for(lambda: "Maximum overlap density" in screen(), 10, "SWarp output", screen)
    tmux.keys("tour", "/", *"Resampling", "Enter")
    wait_for(lambda: "of the whole file match 'Resampling'" in screen(), 10,
             "search result", screen)
    tmux.keys("tour", "g", "]")
    wait_for(lambda: "WARNING:" in screen() and "line 4 of" in screen(), 10,
             "the first warning (line 4)", screen)
    tmux.keys("tour", "Escape")

    # p: the stack step's files; its first image drawn in half blocks, 24-bit colour
    tmux.keys("tour", "p")
    wait_for(lambda: f"products of step {step} SWarp" in screen(), 10, "products", screen)
    wait_for(lambda: screen().count(THUMB) > 100, 30, "thumbnail", screen)
    assert "swarp.log.xml" in screen() and "SIMPLE  =" in screen()
    assert "38;2;" in tmux.screen("tour", escapes=True)  # true colour, not a palette
    tmux.keys("tour", "Escape")

    # R on detect's folded row: the results of its three members
    tmux.keys("tour", "Escape", "g", "R")
    wait_for(lambda: "results: group" in screen(), 20, "results screen", screen)
    assert "3 step(s)" in screen() and "success" in screen(), screen()
    tmux.keys("tour", "a")  # every step of the run
    wait_for(lambda: "results: all steps · 9 step(s)" in screen(), 10, "all steps", screen)
    tmux.keys("tour", "Escape", "q")
    wait_for(lambda: tmux.pane_dead("tour"), 10, "aw-tui quits", screen)
