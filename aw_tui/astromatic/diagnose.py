"""Decide whether a tool run failed, from its exit code, its XML and what it printed.

The tools' exit codes lie sometimes: an unknown configuration keyword, a missing ``-c``
config file or an unknown catalog parameter only print a warning and exit 0, although the
user's configuration was ignored. These count as errors here, with a message that says which.
"""

from __future__ import annotations

import re

__all__ = ["Diagnosis", "diagnose", "strip_escapes"]

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")
_ERROR_LINE = re.compile(r"\*(?:Error|ERROR)\*.*")
_UNKNOWN_KEYWORD = re.compile(r"WARNING:\s*(\S+) keyword unknown")
_MISSING_CONFIG = re.compile(r"WARNING:\s*(.+?) not found, using internal defaults")
_UNKNOWN_PARAM = re.compile(r"WARNING:\s*(\S+) catalog parameter unknown")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences and carriage returns from tool output."""
    return _ESCAPES.sub("", text)


class Diagnosis:
    """The verdict on one tool run: ``status`` (``success``/``error``) and ``error_msg``."""

    def __init__(self, status: str, error_msg: str | None, problems: list[str]) -> None:
        self.status = status
        self.error_msg = error_msg
        self.problems = problems


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
    text = strip_escapes(output)
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
    if xml_error:
        problems.append(f"{code}: {xml_error.strip()}")
    for match in _ERROR_LINE.finditer(text):
        line = match.group(0).strip()
        if not any(line in p for p in problems):
            problems.append(f"{code}: {line}")
    unknown = sorted(set(_UNKNOWN_KEYWORD.findall(text)))
    if unknown:
        problems.append(
            f"{code} does not know the configuration keyword(s) {', '.join(unknown)} and "
            f"ignored them: check the spelling (`{code} -dd` lists every keyword)"
        )
    params = sorted(set(_UNKNOWN_PARAM.findall(text)))
    if params:
        problems.append(
            f"{code} does not know the catalog parameter(s) {', '.join(params)} and left them "
            "out of the catalog: check the params list (`source-extractor -dp` lists them)"
        )
    if returncode != 0 and not problems:
        lines = [ln.strip("> ").strip() for ln in text.splitlines() if ln.strip("> ").strip()]
        last = lines[-1] if lines else "no output"
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        problems.append(f"{code} failed ({how}): {last}")
    elif returncode != 0:
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        problems[0] = f"{problems[0]} ({how})"
    if problems:
        return Diagnosis("error", "; ".join(problems), problems)
    return Diagnosis("success", None, [])
