"""Set a step's kwargs in its project file, keeping the file's comments and layout.

This is what ``e`` in the TUI does for a TOML project: the editor shows a step's evaluated
kwargs (``step.kwargs`` of :func:`~aw_tui.project.loader.load_project`); what the user
changed there is written to the file, and nothing else:

- only the keys whose value differs are written (a key removed in the editor is removed from
  the file), to the step's template (``[steps.kwargs]``: every member of a ``foreach`` step)
  or to one member's override (``[steps.items."KEY".kwargs]``,
  :mod:`aw_tui.project.overrides`);
- a value that is a reference in the file (``"{paths.temp}/x.cat"``) is replaced by a literal
  only when asked (``replace_references=True``): :class:`ReferenceEditError` says which keys
  otherwise;
- the new file is loaded before it is written (:func:`load_project_text`), and must give the
  step exactly the new kwargs; it replaces the old one atomically, with its mode, and only
  if the file on disk is still the one read (:class:`FileChangedError`).

Example
-------
>>> snapshot = read_snapshot("project.toml")                          # doctest: +SKIP
>>> edit = set_step_kwargs(snapshot, "detect", new_kwargs, "206401",  # doctest: +SKIP
...                        member_only=True)
>>> [c.describe() for c in edit.changes]                             # doctest: +SKIP
['api_kwargs.config.DETECT_THRESH 3 -> 7']
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from aw_tui.base.atomic import atomic_open
from aw_tui.base.errors import AwTuiError
from aw_tui.project.errors import Locator
from aw_tui.project.interpolate import did_you_mean
from aw_tui.project.kwargsdiff import (
    MISSING,
    KeyChange,
    apply_changes,
    diff_kwargs,
    get_path,
    has_reference,
    literal,
    merge_raw,
    same_value,
    short_value,
)
from aw_tui.project.loader import load_project_text
from aw_tui.project.model import ExpandedStep, Project
from aw_tui.project.overrides import ITEMS_KEY
from aw_tui.project.tomlplace import TomlEditor, delete_key, quoted_key

__all__ = [
    "FileChangedError",
    "FileEditError",
    "KeyChange",
    "KwargsEdit",
    "ProjectSnapshot",
    "ReferenceEditError",
    "find_step",
    "project_file",
    "read_snapshot",
    "set_step_kwargs",
]


class FileEditError(AwTuiError):
    """The edit cannot be written to the project file (nothing was written)."""

    def __str__(self) -> str:
        return f"{self.message}\n    fix: {self.hint}" if self.hint else self.message


class FileChangedError(FileEditError):
    """The project file changed on disk since it was read."""


class ReferenceEditError(FileEditError):
    """The edit would replace references (``{...}``) of the file by literal values.

    Attributes
    ----------
    keys : list of str
        The key paths (``steps[0].kwargs.api_kwargs.config.CATALOG_NAME``) concerned.
    """

    def __init__(self, message: str, hint: str, keys: list[str]) -> None:
        super().__init__(message, hint)
        self.keys = keys


@dataclass(frozen=True)
class ProjectSnapshot:
    """A project file as read: its bytes and the project they give.

    Attributes
    ----------
    path : str
        The file (absolute, symbolic links resolved: the file that is written).
    data : bytes
        Its content when read.
    project : Project
        What :func:`~aw_tui.project.loader.load_project_text` gives for ``data``.
    """

    path: str
    data: bytes
    project: Project

    @property
    def digest(self) -> str:
        """sha256 (hex) of :attr:`data`."""
        return hashlib.sha256(self.data).hexdigest()

    def step(self, step: int | str, item_key: str | None = None) -> ExpandedStep:
        """The expanded step named by ``step`` (see :func:`find_step`)."""
        return find_step(self.project, step, item_key)


@dataclass
class KwargsEdit:
    """What :func:`set_step_kwargs` did.

    Attributes
    ----------
    path : str
        The project file.
    identity : str
        The step edited (``detect[206401]``).
    where : str
        ``"template"`` (``[steps.kwargs]``) or ``"member"`` (its ``items`` override).
    changes : list of KeyChange
        The keys that changed (empty: nothing differed, nothing was written).
    changed_steps : list of str
        The identities of every step whose kwargs the new file changes (all members of a
        template, steps that refer to this one's kwargs), in order.
    snapshot : ProjectSnapshot
        The file as written (the old one when nothing was written).
    cleared_overrides : list of str
        For a template edit from a member: the keys removed from that member's override
        so that it follows the template (``api_kwargs.config.DETECT_THRESH``).
    """

    path: str
    identity: str
    where: str
    changes: list[KeyChange]
    changed_steps: list[str]
    snapshot: ProjectSnapshot
    cleared_overrides: list[str] = field(default_factory=list)

    @property
    def written(self) -> bool:
        """Whether the file was written."""
        return bool(self.changes)

    @property
    def project(self) -> Project:
        """The project the file now gives."""
        return self.snapshot.project


# -- reading -----------------------------------------------------------------------------
def project_file(path: str | os.PathLike[str]) -> str:
    """The project file ``path`` names (a folder: its ``project.toml``), absolute, symbolic
    links resolved."""
    candidate = Path(os.fspath(path)).expanduser()
    if candidate.is_dir():
        candidate = candidate / "project.toml"
    return os.path.realpath(candidate)


def read_snapshot(path: str | os.PathLike[str], check_files: bool = True) -> ProjectSnapshot:
    """Read a project file and load it from the very bytes read.

    Raises
    ------
    ProjectError
        For an invalid project file.
    FileEditError
        When it cannot be read.
    """
    real = project_file(path)
    try:
        with open(real, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise FileEditError(f"{real}: cannot read: {exc.strerror}",
                            "check the path of the project file and its permissions") from None
    return ProjectSnapshot(real, data, load_project_text(real, data, check_files))


# -- finding the step --------------------------------------------------------------------
_IDENTITY = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<key>.+)\]$")


def find_step(project: Project, step: int | str, item_key: str | None = None) -> ExpandedStep:
    """The expanded step of ``project`` that ``step`` and ``item_key`` name.

    Parameters
    ----------
    step : int or str
        The position of its ``[[steps]]`` table (``steps[N]``), its ``name``, or its
        identity (``detect[206401]``, ``steps[3]``).
    item_key : str, optional
        The member of a ``foreach`` step (default: its first member).

    Raises
    ------
    FileEditError
        When there is no such step or member.
    """
    if isinstance(step, str) and item_key is None:
        for candidate in project.steps:
            if candidate.identity == step:
                return candidate
        match = _IDENTITY.match(step)
        if match and not step.startswith("steps["):
            step, item_key = match["name"], match["key"]
        elif step.startswith("steps[") and step.endswith("]") and step[6:-1].isdigit():
            step = int(step[6:-1])
    if isinstance(step, int):
        members = [s for s in project.steps if s.entry == step]
        label = f"steps[{step}]"
    else:
        members = [s for s in project.steps if s.name == step]
        label = step
    if not members:
        names = [s.name for s in project.steps if s.name]
        hint = did_you_mean(str(step), names) if isinstance(step, str) else ""
        raise FileEditError(f"{project.path}: no step {label} in the project",
                            (hint + " " if hint else "") + "steps: "
                            + ", ".join(dict.fromkeys(s.identity.split("[")[0]
                                                      for s in project.steps)))
    if item_key is None:
        return members[0]
    for member in members:
        if member.item_key == item_key:
            return member
    keys = [m.item_key for m in members if m.item_key is not None]
    if not keys:
        raise FileEditError(f"{project.path}: {label} is not a foreach step: it has no "
                            f"member {item_key!r}", "edit it without an item key")
    hint = did_you_mean(item_key, keys)
    raise FileEditError(f"{project.path}: {label} has no member {item_key!r}",
                        (hint + " " if hint else "") + "item keys: " + ", ".join(keys[:8]))


# -- planning the writes -----------------------------------------------------------------
@dataclass
class _Write:
    """One key to set (``value``) or remove (:data:`MISSING`) in the template or in the
    member's override; ``replaced`` is the value as written that it replaces."""

    target: str
    path: tuple[str, ...]
    value: Any
    replaced: Any = MISSING


def _cut(raw: Any, path: tuple[str, ...]) -> int:
    """How much of ``path`` to write: all of it, or up to the first table on the way that
    the file gives as something else (a reference such as ``files = "{item}"``), which is
    then written whole."""
    node = raw
    for index, key in enumerate(path[:-1]):
        node = node.get(key, MISSING) if isinstance(node, dict) else MISSING
        if node is MISSING:
            return len(path)
        if not isinstance(node, dict):
            return index + 1
    return len(path)


def _plan_member(change: KeyChange, new: dict[str, Any], template: dict[str, Any],
                 override: dict[str, Any], identity: str) -> list[_Write]:
    written = merge_raw(template, override)
    cut = _cut(written, change.path)
    if cut < len(change.path):
        path = change.path[:cut]
        return [_Write("member", path, get_path(new, path), get_path(written, path))]
    if change.new is not MISSING:
        return [_Write("member", change.path, change.new, get_path(written, change.path))]
    if get_path(template, change.path) is not MISSING:
        raise FileEditError(
            f"{change.dotted} comes from the step's template: an override cannot remove a key "
            f"for {identity} alone (nothing was written)",
            "remove it from the template (all members), or give it another value for this "
            "member")
    return [_Write("member", change.path, MISSING)]


def _plan_template(change: KeyChange, new: dict[str, Any], template: dict[str, Any],
                   override: dict[str, Any]) -> list[_Write]:
    cut = _cut(template, change.path)
    path = change.path[:cut]
    if cut < len(change.path):
        writes = [_Write("template", path, get_path(new, path), get_path(template, path))]
    elif change.new is MISSING:
        gone = get_path(template, path) is MISSING
        writes = [] if gone else [_Write("template", path, MISSING)]
    else:
        writes = [_Write("template", path, change.new, get_path(template, path))]
    # The member edited from must not keep an override that hides the new template value.
    for length in range(1, len(path) + 1):
        node = get_path(override, path[:length])
        if node is MISSING:
            break
        if length == len(path) or not isinstance(node, dict):
            writes.append(_Write("member", path[:length], MISSING))
            break
    return writes


def _coalesce(writes: list[_Write]) -> list[_Write]:
    """The writes in path order, without those inside a table another one sets whole."""
    out: list[_Write] = []
    for write in sorted(writes, key=lambda w: (w.target, w.path)):
        if any(o.target == write.target and write.path[: len(o.path)] == o.path
               for o in out):
            continue
        out.append(write)
    return out


def _keypath(target: str, entry: int, item_key: str | None, path: tuple[str, ...]) -> str:
    base = (f"steps[{entry}].kwargs" if target == "template"
            else f"steps[{entry}].{ITEMS_KEY}.{item_key}.kwargs")
    return ".".join((base, *path))


def _reference_error(writes: list[_Write], step: ExpandedStep, override: dict[str, Any],
                     text: str, display: str, where: str) -> ReferenceEditError:
    locator = Locator(text)
    lines, keys = [], []
    for write in writes:
        source = "member" if get_path(override, write.path) is not MISSING else "template"
        keypath = _keypath(source, step.entry, step.item_key, write.path)
        line = locator.line_of(keypath)
        keys.append(keypath)
        lines.append(
            f"  - {display}{f':{line}' if line else ''}: {keypath} = "
            f"{short_value(write.replaced, 200)} gives "
            f"{short_value(get_path(step.kwargs, write.path), 200)} for {step.identity}; the "
            f"edit writes the literal {short_value(write.value, 200)}")
    who = ("for every member" if where == "template" and step.item_key is not None
           else f"for {step.identity}")
    return ReferenceEditError(
        f"the edit replaces {len(writes)} reference{'s' if len(writes) != 1 else ''} of the "
        f"project file by literal values {who} (nothing was written):\n" + "\n".join(lines),
        "to keep a reference, change what it refers to ([vars], [paths], outputs) in the "
        "file; to write the literal value, confirm the edit (replace_references=True)",
        keys,
    )


# -- writing -----------------------------------------------------------------------------
def _apply(doc: Any, step: ExpandedStep, writes: list[_Write]) -> None:
    """Make ``writes`` in the tomlkit document ``doc``."""
    entry = doc["steps"][step.entry]
    member_keys = [ITEMS_KEY, quoted_key(step.item_key or ""), "kwargs"]
    editor = TomlEditor()
    for write in writes:
        keys: list[Any] = ["kwargs"] if write.target == "template" else list(member_keys)
        keys += list(write.path[:-1])
        try:
            if write.value is MISSING:
                parent = _lookup(entry, keys)
                if parent is not None and write.path[-1] in parent:
                    delete_key(parent, write.path[-1])
            else:
                editor.set_key(editor.ensure_table(entry, keys), write.path[-1],
                               literal(write.value))
        except KeyError as exc:
            raise FileEditError(
                f"{'.'.join(map(str, keys))}: {exc.args[0]!r} is not a table in the file, so "
                f"{'.'.join(write.path)} cannot be set in it (nothing was written)",
                "edit this key in the file itself") from None
    if ITEMS_KEY in entry:
        _prune(entry, ITEMS_KEY)
    editor.finish()


def _lookup(table: Any, keys: list[Any]) -> Any:
    for key in keys:
        name = getattr(key, "key", key)
        if not isinstance(table, dict) or name not in table:
            return None
        table = table[name]
    return table


def _prune(table: Any, key: str) -> bool:
    """Remove the tables under ``table[key]`` left empty (an override emptied), and
    ``table[key]`` itself if empty; return whether it was removed."""
    value = table[key]
    if not isinstance(value, dict):
        return False
    for sub in list(value.keys()):
        _prune(value, sub)
    if len(value) == 0:
        delete_key(table, key)
        return True
    return False


def _write_file(snapshot: ProjectSnapshot, data: bytes) -> None:
    """Replace the file atomically by ``data`` (its mode kept) if it still holds
    ``snapshot.data``."""
    try:
        mode = os.stat(snapshot.path).st_mode & 0o7777
    except OSError as exc:
        raise FileChangedError(f"{snapshot.path}: cannot be read any more: {exc.strerror}",
                               "check that the project file is still there") from None
    with atomic_open(snapshot.path, "wb") as handle:
        handle.write(data)
        os.fchmod(handle.fileno(), mode)
        _check_unchanged(snapshot)  # the last moment before the rename


def _check_unchanged(snapshot: ProjectSnapshot) -> None:
    try:
        with open(snapshot.path, "rb") as handle:
            now = handle.read()
    except OSError as exc:
        raise FileChangedError(f"{snapshot.path}: cannot be read any more: {exc.strerror}",
                               "check that the project file is still there") from None
    if now != snapshot.data:
        raise FileChangedError(
            f"{snapshot.path} changed on disk since it was read (another editor, a git "
            "checkout?): nothing was written",
            "look at the file as it is now, then make the edit again")


def set_step_kwargs(
    source: str | os.PathLike[str] | ProjectSnapshot,
    step: int | str,
    kwargs: dict[str, Any],
    item_key: str | None = None,
    *,
    member_only: bool = False,
    replace_references: bool = False,
    check_files: bool = True,
    base: dict[str, Any] | None = None,
    before_write: Callable[[list[str]], None] | None = None,
) -> KwargsEdit:
    """Write a step's new kwargs to its project file: only the keys that changed.

    Parameters
    ----------
    source : path or ProjectSnapshot
        The project file, or the snapshot read when the edit began (the file must still
        hold those bytes).
    step : int or str
        The step: its ``[[steps]]`` position, its ``name`` or its identity
        (``detect[206401]``).
    kwargs : dict
        Its whole new kwargs (as the TUI's editor gives them); they are compared with its
        evaluated kwargs in the file.
    item_key : str, optional
        The member of a ``foreach`` step the kwargs are for (default: the first).
    member_only : bool
        Write to the member's override (``[steps.items."KEY".kwargs]``) instead of the
        step's template.
    replace_references : bool
        Write a changed value whose key is a ``{...}`` reference in the file as a literal;
        False raises :class:`ReferenceEditError` instead.
    check_files : bool
        Check the input files when loading (as :func:`load_project`).
    base : dict, optional
        The kwargs the edit started from, when not the file's (the TUI shows a run's
        steps): only what differs between ``base`` and ``kwargs`` is made, over the file's
        values.
    before_write : callable, optional
        Called with the identities of the steps the new file changes, before it is
        written; what it raises stops the edit.

    Returns
    -------
    KwargsEdit

    Raises
    ------
    FileChangedError
        The file changed on disk since ``source`` was read.
    ReferenceEditError
        See ``replace_references``.
    FileEditError
        The edit cannot be expressed in the file.
    ProjectError
        The new file would not load (it is not written).
    """
    snapshot = source if isinstance(source, ProjectSnapshot) else read_snapshot(
        source, check_files)
    _check_unchanged(snapshot)
    target = snapshot.step(step, item_key)
    if member_only and target.item_key is None:
        raise FileEditError(f"{target.identity} is not a member of a foreach step: it has no "
                            "override (nothing was written)", "edit its kwargs (the template)")
    where = "member" if member_only else "template"
    if base is not None:
        kwargs = apply_changes(target.kwargs, diff_kwargs(base, kwargs))
    changes = diff_kwargs(target.kwargs, kwargs)
    if not changes:
        return KwargsEdit(snapshot.path, target.identity, where, [], [], snapshot)
    text = snapshot.data.decode("utf-8")
    raw_entry = tomlkit.parse(text)["steps"][target.entry].unwrap()
    template = raw_entry.get("kwargs", {})
    override = get_path(raw_entry, (ITEMS_KEY, target.item_key or "", "kwargs"))
    override = override if isinstance(override, dict) else {}
    writes: list[_Write] = []
    for change in changes:
        writes += (_plan_member(change, kwargs, template, override, target.identity)
                   if member_only else _plan_template(change, kwargs, template, override))
    writes = _coalesce(writes)
    references = [w for w in writes if w.value is not MISSING and has_reference(w.replaced)]
    if references and not replace_references:
        raise _reference_error(references, target, override, text, snapshot.path, where)
    doc = tomlkit.parse(text)
    _apply(doc, target, writes)
    data = doc.as_string().encode("utf-8")
    project = load_project_text(snapshot.path, data, check_files)
    edited = find_step(project, target.entry, target.item_key)
    wrong = diff_kwargs(kwargs, edited.kwargs)
    if wrong:
        raise FileEditError(
            f"written to the file, the edit would give {target.identity} other kwargs than "
            "those asked for (nothing was written): "
            + "; ".join(c.describe() for c in wrong[:5]),
            "a value there comes from elsewhere (an override, a reference): edit it in the "
            "file itself")
    before = {s.identity: s.kwargs for s in snapshot.project.steps}
    changed_steps = [s.identity for s in project.steps
                     if s.identity not in before or not same_value(before[s.identity], s.kwargs)]
    if before_write is not None:
        before_write(changed_steps)
    _write_file(snapshot, data)
    cleared = [".".join(w.path) for w in writes if where == "template" and w.target == "member"]
    return KwargsEdit(snapshot.path, target.identity, where, changes, changed_steps,
                      ProjectSnapshot(snapshot.path, data, project), cleared)
