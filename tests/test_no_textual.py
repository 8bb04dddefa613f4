"""The engine, the tool layer, --batch, check and status never import Textual."""

from __future__ import annotations

import json
import subprocess
import sys

HEADLESS_MODULES = [
    "aw_tui",
    "aw_tui.pipeline",
    "aw_tui.engine",
    "aw_tui.store",
    "aw_tui.journal",
    "aw_tui.replay",
    "aw_tui.process",
    "aw_tui.api",
    "aw_tui.tools",
    "aw_tui.votable",
    "aw_tui.ldac",
    "aw_tui.sky",
    "aw_tui.project",
    "aw_tui.batch",
    "aw_tui.commands",
    "aw_tui.executors",
    "aw_tui.terminal_text",
]


def _loaded_after(code: str) -> list[str]:
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_headless_modules_do_not_import_textual():
    code = "\n".join(f"import {name}" for name in HEADLESS_MODULES)
    modules = _loaded_after(code)
    assert not [m for m in modules if m == "textual" or m.startswith("textual.")]
    assert "rich" not in modules


def test_batch_check_status_commands_do_not_import_textual(tmp_path):
    project = tmp_path / "p.toml"
    project.write_text(
        '[paths]\nlog = "log"\ntemp = "temp"\n[pipeline]\ncreate_paths = true\n'
        '[[steps]]\nfunc = "aw_tui.testing_funcs:succeed"\ntags = ["a"]\n'
    )
    code = (
        "import sys\nfrom aw_tui.commands import main\n"
        f"assert main(['check', {str(project)!r}]) == 0\n"
        f"assert main([{str(project)!r}, '--batch']) == 0\n"
        f"assert main(['status', {str(project)!r}]) == 0\n"
    )
    modules = _loaded_after(code)
    assert not [m for m in modules if m == "textual" or m.startswith("textual.")]
