"""Decide whether a tool run failed, from its exit code, its XML and what it printed.

The tools' exit codes lie sometimes: an unknown configuration keyword, a missing ``-c``
config file or an unknown catalog parameter only print a warning and exit 0, although the
user's configuration was ignored. These count as errors here, with a message that says which.
"""

from __future__ import annotations

import glob
import os
import re
import signal

from aw_tui.astromatic.registry import lookup

__all__ = [
    "Diagnosis",
    "clean_text",
    "convert_problem",
    "diagnose",
    "plplot_devices",
    "signal_text",
    "strip_escapes",
]

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")
_ERROR_LINE = re.compile(r"\*(?:Error|ERROR)\*.*")
_UNKNOWN_KEYWORD = re.compile(r"WARNING:\s*(\S+) keyword unknown")
_MISSING_CONFIG = re.compile(r"WARNING:\s*(.+?) not found, using internal defaults")
_UNKNOWN_PARAM = re.compile(r"WARNING:\s*(\S+) catalog parameter unknown")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
_DEVICE_UNAVAILABLE = re.compile(r"Requested device (\S+) not available|Invalid device")
_DEVICE_MENU = re.compile(r"^\s*<\s*\d+>\s+(\S+)\s", re.M)
#: The shell's answer when a tool's ``system("convert ...")`` finds no ImageMagick, and
#: convert's own complaints.
_CONVERT_MISSING = re.compile(r"^(?:sh: \d+: |/bin/sh: (?:\d+: )?)?convert: (?:command )?not found",
                              re.M)
_CONVERT_FAILED = re.compile(r"^convert(?:-im6\.q16)?: (.*)$", re.M)
#: What usually kills a tool with a given signal.
_SIGNAL_CAUSES = {
    signal.SIGSEGV: "usually a corrupt or truncated input file, an input the tool does not "
                    "expect (e.g. a catalog without the columns it needs), or a tool bug: "
                    "run the command line by hand, and check the inputs with fitsverify",
    signal.SIGKILL: "usually the kernel's out-of-memory killer (see `dmesg`), or a user or a "
                    "batch system ending it: lower its memory use (MEMORY_* settings, "
                    "smaller images) or give it more memory",
    signal.SIGABRT: "the tool aborted itself (an internal check failed): usually a bad input",
    signal.SIGBUS: "usually an input file truncated while the tool was reading it, or a full "
                   "disk",
    signal.SIGFPE: "an arithmetic error in the tool, usually from degenerate input data",
}


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences and carriage returns from tool output."""
    return _ESCAPES.sub("", text)


def clean_text(text: str) -> str:
    """Tool output fit for a message: no escapes, no control characters, no undecodable
    bytes (PLplot prints garbage after ``Invalid device:``)."""
    return _CONTROL.sub("", strip_escapes(text))


def signal_text(returncode: int) -> str:
    """``'killed by signal 11 (SIGSEGV, segmentation fault): usually ...'``."""
    number = -returncode
    try:
        sig = signal.Signals(number)
    except ValueError:
        return f"killed by signal {number}"
    description = (signal.strsignal(sig) or "").lower()
    cause = _SIGNAL_CAUSES.get(sig)
    text = f"killed by signal {number} ({sig.name}{', ' + description if description else ''})"
    return f"{text}: {cause}" if cause else text


def plplot_devices(output: str = "") -> list[str]:
    """The PLplot devices this machine has: from the menu a tool printed, else from the
    PLplot driver folder."""
    found = [name.upper() for name in _DEVICE_MENU.findall(clean_text(output))]
    if not found:
        for path in sorted(glob.glob("/usr/lib/*/plplot*/drivers*/*.driver_info")
                           + glob.glob("/usr/lib/plplot*/drivers*/*.driver_info")):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    for line in handle:
                        name = line.split(":", 1)[0].strip()
                        if name and name.upper() not in found:
                            found.append(name.upper())
            except OSError:
                continue
    if "PSC" not in found and "PS" in found:
        found.append("PSC")
    return [d for d in found if d not in ("MEM",)]


def _binary(code: str) -> str:
    spec = lookup(code)
    return spec.binary if spec is not None else os.path.basename(code)


def _device_problem(code: str, text: str, returncode: int) -> str | None:
    match = _DEVICE_UNAVAILABLE.search(text)
    if match is None:
        return None
    asked = (match.group(1) or "").upper()
    devices = plplot_devices(text)
    have = ", ".join(devices) if devices else "none found"
    return (
        f"{code}: CHECKPLOT_DEV {asked + ' ' if asked else ''}names a device this build of "
        f"PLplot does not have (it has: "
        f"{have}){'' if returncode else '; no check-plot was made'}. Set CHECKPLOT_DEV to one of "
        "them (e.g. SVG or PSC), or CHECKPLOT_TYPE NONE to make no plots"
    )


def convert_problem(code: str, text: str) -> str | None:
    """Why PNG/JPEG check-plots are not images: SCAMP and PSFEx draw them as PostScript and
    call ImageMagick's ``convert`` (CHECKPLOT_ANTIALIAS Y), which is missing or failed."""
    fix = ("Install ImageMagick (Debian/Ubuntu: `apt-get install imagemagick`), or set "
           "CHECKPLOT_DEV SVG or PSC (no converter needed), or CHECKPLOT_TYPE NONE to make "
           "no plots")
    if _CONVERT_MISSING.search(text):
        return (f"{code}: the PNG/JPEG check-plots were drawn as PostScript to be converted by "
                "ImageMagick's `convert` (CHECKPLOT_ANTIALIAS Y), which is not on PATH: the "
                f"plot files hold PostScript, not images. {fix}")
    match = _CONVERT_FAILED.search(text)
    if match:
        return (f"{code}: ImageMagick's `convert` failed on the check-plots "
                f"({match.group(1).strip()[:200]}): the plot files may hold PostScript, not "
                f"images. {fix}")
    return None


class Diagnosis:
    """The diagnosis of one tool run: ``status`` (``success``/``error``), ``error_msg``, the
    ``problems`` behind it, and ``warnings`` (a problem that did not stop the run, e.g. a
    check-plot device that does not exist)."""

    def __init__(self, status: str, error_msg: str | None, problems: list[str],
                 warnings: list[str] | None = None) -> None:
        self.status = status
        self.error_msg = error_msg
        self.problems = problems
        self.warnings = list(warnings or [])


def diagnose(
    code: str,
    returncode: int,
    output: str,
    xml_error: str | None = None,
    config_file: str | None = None,
) -> Diagnosis:
    """Judge a run of ``code``.

    Parameters
    ----------
    code : str
        The tool (for messages).
    returncode : int
        Its exit code.
    output : str
        What it printed (escapes are stripped here).
    xml_error : str, optional
        The XML log's ``Error_Msg``.
    config_file : str, optional
        The ``-c`` file given, to name it in the message.

    Returns
    -------
    Diagnosis
        ``error`` with every problem found, most important first.
    """
    text = clean_text(output)
    problems: list[str] = []
    # Without ``-c`` every tool looks for ``default.<tool>`` in its working folder and says
    # "not found, using internal defaults" when it is absent: that is the normal way to run
    # on the internal defaults (the seed's examples do), not an error. Only a config file
    # the user gave and the tool could not read means their configuration was ignored. It
    # comes first: it explains the errors that follow from the defaults.
    if config_file:
        for _match in _MISSING_CONFIG.finditer(text):
            problems.append(
                f"{code} did not find its config file {config_file} and ran with its internal "
                "defaults instead: fix config_file"
            )
            break
    device = _device_problem(code, text, returncode)
    if device and returncode != 0:
        problems.append(device)
    if xml_error:
        problems.append(f"{code}: {clean_text(xml_error).strip()}")
    for match in _ERROR_LINE.finditer(text):
        line = match.group(0).strip()
        if not any(line in p for p in problems):
            problems.append(f"{code}: {line}")
    unknown = sorted(set(_UNKNOWN_KEYWORD.findall(text)))
    if unknown:
        problems.append(
            f"{code} does not know the configuration keyword(s) {', '.join(unknown)} and "
            f"ignored them: check the spelling (`{_binary(code)} -dd` lists every keyword)"
        )
    params = sorted(set(_UNKNOWN_PARAM.findall(text)))
    if params:
        problems.append(
            f"{code} does not know the catalog parameter(s) {', '.join(params)} and left them "
            f"out of the catalog: check the params list (`{_binary(code)} -dp` lists them)"
        )
    if returncode != 0 and not problems:
        lines = [ln.strip("> ").strip() for ln in text.splitlines() if ln.strip("> ").strip()]
        last = lines[-1] if lines else "no output"
        if returncode < 0:
            problems.append(f"{code} was {signal_text(returncode)} (last output: {last})")
        else:
            problems.append(f"{code} failed (exit code {returncode}): {last}")
    elif returncode != 0:
        how = signal_text(returncode) if returncode < 0 else f"exit code {returncode}"
        problems[0] = f"{problems[0]} ({how})"
    if problems:
        return Diagnosis("error", "; ".join(problems), problems)
    notes = [note for note in (convert_problem(code, text), device) if note]
    return Diagnosis("success", None, [], notes)
