"""The TUI over a real SSH connection: a run outlives the connection, a new one attaches.

The test starts its own ``sshd`` on 127.0.0.1 (a free port, host key and authorized key
generated in ``tmp_path``, key authentication only, its own config: nothing of the system's
sshd is used or changed, except that as root the privilege separation folder /run/sshd is
created when missing, as the sshd service would). ``ssh -t`` runs the venv's ``aw-tui`` inside
a tmux pane, which gives it a terminal. The user presses ``r``; the connection is dropped by
killing the ssh client; the runner goes on; a second ``ssh -t`` opens the project again and
attaches to the live run, then sees it finish. Everything the test started is killed in
teardown.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_tui_terminal import AW_TUI, Tmux, pid_alive, rows, wait_for
from tooling import on_ci

from aw_tui.rundir.journal import read_events
from aw_tui.rundir.store import read_lock

SSHD = "/usr/sbin/sshd"
STEPS = 8
STEP_SECONDS = 1.0


def require(binary: str, hint: str) -> str:
    path = binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else shutil.which(
        binary)
    if path is None:
        message = f"{binary} not found: {hint}"
        if on_ci():
            pytest.fail(message + " [CI=true: missing tools fail instead of skipping]")
        pytest.skip(message)
    return str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)


class Sshd:
    """An sshd on 127.0.0.1 that lets the current user in with one key."""

    def __init__(self, folder: Path) -> None:
        require(SSHD, "apt-get install openssh-server")
        require("ssh", "apt-get install openssh-client")
        require("ssh-keygen", "apt-get install openssh-client")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.user = getpass.getuser()
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        keygen(folder / "host_key")
        self.key = folder / "id_ed25519"
        keygen(self.key)
        (folder / "authorized_keys").write_text((folder / "id_ed25519.pub").read_text())
        self.port = free_port()
        config = folder / "sshd_config"
        config.write_text(
            "ListenAddress 127.0.0.1\n"
            f"HostKey {folder / 'host_key'}\n"
            f"PidFile {folder / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            f"AllowUsers {self.user}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "StrictModes no\n"
            "UsePAM no\n"
            f"PermitRootLogin {'yes' if os.geteuid() == 0 else 'no'}\n"
            "PrintMotd no\n"
            "ClientAliveInterval 1\n"
            "ClientAliveCountMax 3\n"
        )
        self.log = folder / "sshd.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config), "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_for(self._accepts, 15, "sshd listening", lambda: self.log.read_text())

    def _accepts(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited: {self.log.read_text()}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def ssh_argv(self, *remote: str) -> list[str]:
        """``ssh -t`` to this server, running ``remote``."""
        return [
            "ssh", "-F", "/dev/null", "-t", "-p", str(self.port), "-i", str(self.key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={self.folder / 'known_hosts'}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10",
            f"{self.user}@127.0.0.1", *remote,
        ]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def tui_pids(project: Path) -> list[int]:
    """Pids of aw-tui TUI processes (not runners) opened on ``project`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        # python .../bin/aw-tui PROJECT (not ssh or tmux, whose command lines name them too)
        program = words[:2] if words and os.path.basename(words[0]).startswith("python") \
            else words[:1]
        if program and program[-1].endswith("aw-tui") and str(project) in words \
                and "--batch" not in words and pid_alive(int(entry)):
            found.append(int(entry))
    return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Sshd, Tmux, Path]]:
    """sshd, a tmux server and a project of 8 one-second steps; all ended in teardown."""
    tmux = Tmux(tmp_path)  # skips without tmux
    sshd = Sshd(tmp_path / "ssh")
    project = tmp_path / "p" / "project.toml"
    project.parent.mkdir()
    project.write_text(
        '[pipeline]\nname = "over-ssh"\ncreate_paths = true\n[paths]\nlog = "work/log"\n'
        + "".join(f'[[steps]]\nfunc = "aw_tui.testing_funcs:sleep"\ntags = ["s{i}"]\n'
                  f"[steps.kwargs]\nseconds = {STEP_SECONDS}\n" for i in range(STEPS))
    )
    try:
        yield sshd, tmux, project
    finally:
        tmux.close()
        for pid in tui_pids(project):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for event in read_events(str(project.parent / "work" / "log")):
            if event["event"] == "run_started" and pid_alive(event["pid"]):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(event["pid"], signal.SIGKILL)
        sshd.close()


def test_a_run_outlives_the_ssh_connection_and_a_new_connection_attaches(world):
    sshd, tmux, project = world
    log = project.parent / "work" / "log"
    remote = [str(AW_TUI), str(project)]
    assert Path(sys.executable).parent == AW_TUI.parent

    # first connection: open the project, press r
    ssh_pid = tmux.open("one", sshd.ssh_argv(*remote), project.parent,
                        {"TERM": "xterm-256color"})
    wait_for(lambda: len(rows(tmux.screen("one"))) == STEPS, 30, "table over ssh",
             lambda: tmux.screen("one") + sshd.log.read_text())
    (tui,) = wait_for(lambda: tui_pids(project), 10, "the remote aw-tui process")
    assert tui != ssh_pid  # the TUI runs under sshd, not in the pane
    tmux.keys("one", "r")
    wait_for(lambda: "running" in rows(tmux.screen("one")).values(), 30, "running",
             lambda: tmux.screen("one"))
    lock = read_lock(str(log))
    assert lock is not None
    runner = lock.pid
    wait_for(lambda: f"pid {runner}" in tmux.screen("one").splitlines()[0], 10,
             "header names the runner", lambda: tmux.screen("one"))

    # the connection drops: the ssh client dies without a goodbye
    os.kill(ssh_pid, signal.SIGKILL)
    dropped = time.monotonic()
    wait_for(lambda: not pid_alive(tui), 15, "the remote TUI ends with its connection")
    assert pid_alive(runner), "the runner died with the SSH connection"
    started = [e for e in read_events(str(log)) if e["event"] == "step_started"]
    assert len(started) < STEPS and not any(e["event"] == "run_finished"
                                            for e in read_events(str(log)))
    wait_for(lambda: sum(e["event"] == "step_started" for e in read_events(str(log)))
             > len(started), 10, "the run goes on without a connection")

    # a new connection attaches to the live run, then sees it finish
    tmux.open("two", sshd.ssh_argv(*remote), project.parent, {"TERM": "screen-256color"})
    wait_for(lambda: f"running on {lock.host} pid {runner}" in tmux.screen("two"), 30,
             "attached to the live run", lambda: tmux.screen("two"))
    assert time.monotonic() - dropped < STEPS * STEP_SECONDS, "reattached only after the end"
    wait_for(lambda: set(rows(tmux.screen("two")).values()) == {"success"}, 30,
             "every step succeeded", lambda: tmux.screen("two"))
    wait_for(lambda: "finished" in tmux.screen("two").splitlines()[0], 10, "finished",
             lambda: tmux.screen("two"))
    assert [e["event"] for e in read_events(str(log))].count("run_started") == 1
    wait_for(lambda: not pid_alive(runner), 10, "runner exits")
    tmux.keys("two", "q")
    wait_for(lambda: tmux.pane_dead("two"), 15, "q ends the session",
             lambda: tmux.screen("two"))
