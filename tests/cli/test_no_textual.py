"""The engine, the tool layer, --batch, check and status never import Textual."""

from __future__ import annotations

import json
import subprocess
import sys

HEADLESS_MODULES = [
    "aw_tui",
    "aw_tui.pipeline",
    "aw_tui.engine.loop",
    "aw_tui.rundir.store",
    "aw_tui.rundir.journal",
    "aw_tui.rundir.checkpoint",
    "aw_tui.rundir.control",
    "aw_tui.rundir.lock",
    "aw_tui.rundir.layout",
    "aw_tui.base.process",
    "aw_tui.astromatic.steps",
    "aw_tui.astromatic.registry",
    "aw_tui.astromatic.xmllog",
    "aw_tui.astromatic.ldac",
    "aw_tui.demo.sky",
    "aw_tui.project.loader",
    "aw_tui.cli.batch",
    "aw_tui.options",
    "aw_tui.target",
    "aw_tui.cli.main",
    "aw_tui.engine.executors",
    "aw_tui.base.terminal_text",
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
        "import sys\nfrom aw_tui.cli.main import main\n"
        f"assert main(['check', {str(project)!r}]) == 0\n"
        f"assert main([{str(project)!r}, '--batch']) == 0\n"
        f"assert main(['status', {str(project)!r}]) == 0\n"
    )
    modules = _loaded_after(code)
    assert not [m for m in modules if m == "textual" or m.startswith("textual.")]
