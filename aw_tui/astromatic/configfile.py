"""AstrOmatic config files as astronomers write them: their lines, and their companion files.

A config file names its companions relatively (``FILTER_NAME default.conv``) and the tools
read those names against the folder they run in, so a config that works in its own folder
fails anywhere else. :func:`resolve_companions` resolves every companion keyword of a tool
(:attr:`~aw_tui.astromatic.registry.ToolSpec.companion_keys`) against the config file's folder,
unless the name is absolute or the step's own ``config`` gives the keyword; the command
builder passes the resolved names on the command line and records them in the result
(``result['resolved_files']``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aw_tui.astromatic.registry import lookup

__all__ = ["NOT_FILES", "ConfigLine", "read_config_lines", "resolve_companions", "split_names"]

#: Values of file keywords that name no file.
NOT_FILES = frozenset({"", "#", "STDOUT", "NONE", "NULL"})


@dataclass(frozen=True)
class ConfigLine:
    """One ``KEY value`` line of a config file (``line`` counts from 1)."""

    key: str
    value: str
    line: int


def read_config_lines(path: str) -> list[ConfigLine]:
    """Every ``KEY value`` line of an AstrOmatic config file, in order (comments dropped).

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split(None, 1)
        if words:
            found.append(ConfigLine(words[0], words[1].strip() if len(words) > 1 else "",
                                    number))
    return found


def split_names(value: str) -> list[str]:
    """The file names of a value (comma-separated lists allowed), none of :data:`NOT_FILES`."""
    return [part.strip() for part in value.split(",")
            if part.strip() and part.strip().upper() not in NOT_FILES]


def resolve_companions(
    code: str, config_file: str | None, explicit: dict[str, object] | None = None
) -> dict[str, str | list[str]]:
    """The companion files of ``config_file`` resolved against its folder.

    Parameters
    ----------
    code : str
        The tool (any spelling).
    config_file : str or None
        The ``-c`` file.
    explicit : dict, optional
        The step's own config: a keyword it gives is left alone.

    Returns
    -------
    dict
        Keyword -> the value to pass (the name, or a list of names for a comma-separated
        value; each relative one joined to the config file's folder), for each companion
        keyword the file sets to a relative name.
        Empty when there is no config file or it cannot be read (the tool says so).
    """
    spec = lookup(code)
    if spec is None or not config_file:
        return {}
    try:
        lines = read_config_lines(os.fspath(config_file))
    except OSError:
        return {}
    folder = os.path.dirname(os.path.abspath(os.fspath(config_file)))
    values = {line.key: line.value for line in lines}  # the last setting wins, as in the tools
    resolved: dict[str, str | list[str]] = {}
    for key in spec.companion_keys:
        if key in (explicit or {}) or key not in values:
            continue
        names = split_names(values[key])
        if not names or all(os.path.isabs(os.path.expanduser(n)) for n in names):
            continue
        full = [n if os.path.isabs(os.path.expanduser(n))
                else os.path.normpath(os.path.join(folder, n)) for n in names]
        resolved[key] = full[0] if len(full) == 1 else full
    return resolved
