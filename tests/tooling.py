"""Shared helpers for tests that run the real AstrOmatic tools.

``require_tool(name)`` returns the binary's path or skips the test with an install hint; on a
CI runner (environment ``CI=true``) a missing tool fails the test instead, so a broken CI image
cannot pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from aw_tui.astromatic.registry import TOOLS, ToolSpec, lookup

#: The repository's root folder.
REPO = Path(__file__).resolve().parents[1]

#: The demo configuration files (default.sex, default.scamp, default.swarp, default.psfex and
#: the .param files).
DEMO_CONFIG = REPO / "sample_configs" / "demo" / "config"

def on_ci() -> bool:
    """True when the environment variable ``CI`` is ``true`` (GitHub Actions, GitLab...)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@cache
def _find(spec: ToolSpec) -> str | None:
    for name in spec.names:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            proc = subprocess.run(
                [path, "-v"], capture_output=True, timeout=20, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if re.search(spec.banner, (proc.stdout + proc.stderr).decode("utf-8", "replace"),
                     re.IGNORECASE):
            return path
    return None


def require_tool(name: str) -> str:
    """Return the path of an AstrOmatic binary, or skip (fail on CI) when it is missing.

    Parameters
    ----------
    name : str
        ``sextractor`` (also ``sex``, ``source-extractor``), ``scamp``, ``swarp`` or ``psfex``
        (any spelling of :mod:`aw_tui.astromatic.registry`).

    Returns
    -------
    str
        Absolute path of a binary whose ``-v`` banner names the tool.
    """
    spec = lookup(name)
    if spec is None:
        raise ValueError(f"unknown AstrOmatic tool {name!r}: one of {', '.join(TOOLS)}")
    path = _find(spec)
    if path is not None:
        return path
    message = (
        f"{spec.name} not found (tried {', '.join(spec.names)} on PATH): "
        f"apt-get install {spec.debian} or conda install -c conda-forge {spec.conda}"
    )
    if on_ci():
        pytest.fail(message + " [CI=true: missing tools fail instead of skipping]")
    pytest.skip(message)
    raise AssertionError("unreachable")  # pytest.skip raises


def run_tool(
    argv: list[str], cwd: str | Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool (no shell) and return the completed process.

    Parameters
    ----------
    argv : list of str
        Command and arguments.
    cwd : str or Path
        Working directory.
    check : bool, optional
        Fail the test (showing the end of stderr) when the exit code is not 0, or when the tool
        printed a ``keyword unknown`` warning (the tools exit 0 on those).
    timeout : float, optional
        Seconds before the run is killed.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as bytes.
    """
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=str(cwd),
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check:
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            pytest.fail(f"{argv[0]} exited {proc.returncode}:\n{err[-3000:]}")
        unknown = [line for line in err.splitlines() if "unknown" in line.lower()]
        if unknown:
            pytest.fail(f"{argv[0]} warned about unknown keywords: {unknown}")
    return proc


def sextractor_argv(
    binary: str,
    image: str | Path,
    catalog: str | Path,
    params: str = "default.param",
    weight: str | Path | None = None,
    flag: str | Path | None = None,
    xml: str | Path | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """SExtractor command line using the demo configuration.

    Parameters
    ----------
    binary : str
        Path from ``require_tool('sextractor')``.
    image : str or Path
        Image (``file.fits`` or ``file.fits[1]``).
    catalog : str or Path
        Output FITS_LDAC catalog.
    params : str, optional
        Name of a .param file in :data:`DEMO_CONFIG`.
    weight, flag : str or Path, optional
        Weight map (``MAP_WEIGHT``) and flag image.
    xml : str or Path, optional
        XML log (``WRITE_XML`` is on in the demo config).
    extra : list of str, optional
        More ``-KEY value`` arguments.

    Returns
    -------
    list of str
        The argv list.
    """
    argv = [
        binary,
        str(image),
        "-c",
        str(DEMO_CONFIG / "default.sex"),
        "-PARAMETERS_NAME",
        str(DEMO_CONFIG / params),
        "-CATALOG_NAME",
        str(catalog),
    ]
    if weight is not None:
        argv += ["-WEIGHT_TYPE", "MAP_WEIGHT", "-WEIGHT_IMAGE", str(weight)]
    if flag is not None:
        argv += ["-FLAG_IMAGE", str(flag)]
    argv += ["-XML_NAME", str(xml) if xml is not None else str(Path(catalog).with_suffix(".xml"))]
    return argv + list(extra or [])


class FinishedRun:
    """A project folder whose run finished once, handed back as it was to each test.

    A checkpoint belongs to its place (``--resume`` refuses a copied or moved project), so
    the pristine copy is always put back at the same absolute path; ``shutil.copytree``
    keeps every file's size and mtime, so the run's provenance sees the files it wrote.
    Tests that use it must not run at the same time (they do not: no pytest-xdist).

    Parameters
    ----------
    folder : Path
        The project's folder, after its run ended.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        self.pristine = self.folder.parent / f".{self.folder.name}.pristine"
        shutil.copytree(self.folder, self.pristine, symlinks=True)

    def restore(self) -> Path:
        """The folder as the run left it (whatever an earlier test did to it)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.copytree(self.pristine, self.folder, symlinks=True)
        return self.folder
