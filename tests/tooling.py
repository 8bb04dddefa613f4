"""Shared helpers for tests that run the real AstrOmatic tools.

``require_tool(name)`` returns the binary's path or skips the test with an install hint; on a
CI runner (environment ``CI=true``) a missing tool fails the test instead, so a broken CI image
cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

#: The repository's root folder.
REPO = Path(__file__).resolve().parents[1]

#: The demo configuration files (default.sex, default.scamp, default.swarp, default.psfex and
#: the .param files).
DEMO_CONFIG = REPO / "sample_configs" / "demo" / "config"

# canonical name -> (binary names to probe in order, text `-v` must print, apt package,
# conda-forge package)
_TOOLS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "sextractor": (
        ("source-extractor", "sex"),
        "Source Extractor",
        "source-extractor",
        "astromatic-source-extractor",
    ),
    "scamp": (("scamp",), "SCAMP", "scamp", "astromatic-scamp"),
    # Debian's /usr/bin/swarp (suckless-tools) is an unrelated X11 tool: probe SWarp first and
    # check the version banner.
    "swarp": (("SWarp", "swarp"), "SWarp", "swarp", "astromatic-swarp"),
    "psfex": (("psfex",), "PSFEx", "psfex", "astromatic-psfex"),
}

_ALIASES = {
    "sex": "sextractor",
    "source-extractor": "sextractor",
    "sextractor": "sextractor",
    "scamp": "scamp",
    "swarp": "swarp",
    "psfex": "psfex",
}


def on_ci() -> bool:
    """True when the environment variable ``CI`` is ``true`` (GitHub Actions, GitLab...)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@cache
def _find(canonical: str) -> str | None:
    names, banner, _, _ = _TOOLS[canonical]
    for name in names:
        path = shutil.which(name)
        if path is None:
            continue
        try:
            proc = subprocess.run(
                [path, "-v"], capture_output=True, timeout=20, check=False, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if banner.lower() in (proc.stdout + proc.stderr).decode("utf-8", "replace").lower():
            return path
    return None


def require_tool(name: str) -> str:
    """Return the path of an AstrOmatic binary, or skip (fail on CI) when it is missing.

    Parameters
    ----------
    name : str
        ``sextractor`` (also ``sex``, ``source-extractor``), ``scamp``, ``swarp`` or ``psfex``.

    Returns
    -------
    str
        Absolute path of a binary whose ``-v`` banner names the tool.
    """
    canonical = _ALIASES.get(name.lower())
    if canonical is None:
        raise ValueError(f"unknown AstrOmatic tool {name!r}")
    path = _find(canonical)
    if path is not None:
        return path
    names, _, apt, conda = _TOOLS[canonical]
    message = (
        f"{canonical} not found (tried {', '.join(names)} on PATH): "
        f"apt-get install {apt} or conda install -c conda-forge {conda}"
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
