"""The rooms of aw_tui keep their rules (docs/architecture.md).

- imports go only downward (import-linter's contracts in pyproject.toml), and the check
  really fails on a wrong arrow;
- no module reads another module's private names;
- imports sit at the top of a module unless a comment on the line says why;
- no module is over ~700 lines (a cohesive widget excepted) and no function over 150 lines.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tooling import REPO

PACKAGE = REPO / "aw_tui"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

#: Modules allowed to be longer than ~700 lines: cohesive widgets (one class that draws one
#: thing; splitting it would scatter its state).
LONG_MODULES_ALLOWED = {
    "aw_tui/tui/widgets/output_view.py",
    "aw_tui/tui/widgets/step_table.py",
}
MAX_MODULE_LINES = 720
MAX_FUNCTION_LINES = 150


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_imports_go_only_downward() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import"),
    [
        ("base/atomic.py", "import aw_tui.rundir.store"),  # base reaching up
        ("rundir/journal.py", "import aw_tui.engine.loop"),  # rundir reaching up
        ("astromatic/diagnose.py", "import aw_tui.rundir.journal"),  # tools reaching the run dir
        ("engine/loop.py", "import textual"),  # the engine importing Textual
    ],
)
def test_a_wrong_arrow_breaks_the_check(tmp_path: Path, module: str, wrong_import: str) -> None:
    copy = tmp_path / "aw_tui"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout or "broken" in result.stdout


def _imported_aw_tui_modules(tree: ast.Module) -> dict[str, str]:
    """alias -> module for ``import aw_tui.x as y`` and ``from aw_tui.x import mod``."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.name.startswith("aw_tui"):
                    aliases[name.asname or name.name.split(".")[0]] = name.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aw_tui"):
            for name in node.names:
                candidate = f"{node.module}.{name.name}"
                if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / candidate.replace(".", "/")
                ).is_dir():
                    aliases[name.asname or name.name] = candidate
    return aliases


def test_no_module_reads_another_modules_private_names() -> None:
    offences = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        own = _module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aw_tui"):
                if node.module == own:
                    continue
                offences += [f"{_rel(path)}:{node.lineno} imports {node.module}.{n.name}"
                             for n in node.names
                             if n.name.startswith("_") and not n.name.startswith("__")]
        aliases = _imported_aw_tui_modules(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                offences.append(f"{_rel(path)}:{node.lineno} reads "
                                f"{aliases[node.value.id]}.{node.attr}")
    assert not offences, "\n".join(offences)


def test_imports_are_at_the_top_unless_a_comment_says_why() -> None:
    offences = []
    for path in _modules():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.Import | ast.ImportFrom)
                            and "#" not in lines[inner.lineno - 1]):
                        offences.append(f"{_rel(path)}:{inner.lineno}: "
                                        f"{lines[inner.lineno - 1].strip()}")
    assert not offences, "imports inside functions without a reason:\n" + "\n".join(offences)


def test_modules_and_functions_stay_small() -> None:
    offences = []
    for path in _modules():
        source = path.read_text()
        if source.count("\n") > MAX_MODULE_LINES and _rel(path) not in LONG_MODULES_ALLOWED:
            offences.append(f"{_rel(path)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offences.append(f"{_rel(path)}:{node.lineno} {node.name}: {length} lines")
    assert not offences, "\n".join(offences)
