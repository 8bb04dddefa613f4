"""scripts/install-tools.sh: `make demo` installs only the AstrOmatic tools; `make test` adds
tmux and an SSH server/client (issue 14, item 10). Run with stub commands on a private PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tooling import REPO

SCRIPT = REPO / "scripts" / "install-tools.sh"
TOOLS = ("source-extractor", "scamp", "SWarp", "psfex")
BASH = shutil.which("bash")


def stub_path(tmp_path: Path, commands: tuple[str, ...]) -> tuple[dict[str, str], Path]:
    """A PATH holding only stubs: `id` says root, `apt-get` logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    stubs = {"id": "echo 0", "apt-get": f'echo "$@" >> {log}', "grep": "exit 1"}
    stubs.update({name: "exit 0" for name in commands})
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    cat = shutil.which("cat")
    assert cat is not None
    (bin_dir / "cat").symlink_to(cat)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    return env, log


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert BASH is not None
    return subprocess.run([BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def installed(log: Path) -> list[str]:
    """The packages given to `apt-get install`."""
    if not log.exists():
        return []
    words = [line.split() for line in log.read_text().splitlines()]
    return [w for line in words if "install" in line for w in line if not w.startswith("-")
            and w != "install"]


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_demo_installs_only_the_astromatic_tools(tmp_path: Path) -> None:
    env, log = stub_path(tmp_path, ())
    result = run(env)
    assert sorted(installed(log)) == ["psfex", "scamp", "source-extractor", "swarp"]
    assert "openssh-server" not in log.read_text() and "tmux" not in log.read_text()
    assert result.returncode == 1  # the stubs install nothing: the script says so
    assert "AstrOmatic tools are missing" in result.stderr


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_demo_with_the_tools_there_installs_nothing(tmp_path: Path) -> None:
    env, log = stub_path(tmp_path, TOOLS)  # no tmux, no ssh: not needed for the demo
    result = run(env)
    assert result.returncode == 0, result.stderr
    assert not log.exists()


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_tests_add_tmux_and_ssh(tmp_path: Path) -> None:
    env, log = stub_path(tmp_path, TOOLS)
    result = run(env, "--test-extras")
    assert result.returncode == 0, result.stderr
    assert installed(log) == ["tmux", "openssh-server", "openssh-client", "chromium"]
    (tmp_path / "bare").mkdir()
    env2, log2 = stub_path(tmp_path / "bare", ())
    run(env2, "--test-extras")
    assert sorted(installed(log2)) == sorted(
        ["source-extractor", "scamp", "swarp", "psfex", "tmux", "openssh-server",
         "openssh-client", "chromium"])


def test_unknown_option_is_refused() -> None:
    assert BASH is not None
    result = subprocess.run([BASH, str(SCRIPT), "--bogus"], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ), check=False)
    assert result.returncode == 2
    assert "unknown option --bogus" in result.stderr
