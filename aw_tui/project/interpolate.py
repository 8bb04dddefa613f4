"""``{...}`` templates of project files: parsing, filters and the typing rules.

A template is a string with references in braces, e.g. ``"{paths.temp}/{item.image|stem}.cat"``.
A reference is a dotted name (``paths.temp``, ``item.image``, ``inputs.exposures[*].image``)
followed by any number of filters (``|name``, ``|suffix:.cat``, ``|replace:.fits:.cat``).
``{{`` and ``}}`` are literal braces.

Typing: a string that is *only* one reference (``"{vars.frames}"``) gives the referenced value
with its type (a list stays a list, a bool a bool); references embedded in text are turned into
text (see :func:`stringify`).

What a name refers to is the caller's business: :func:`render` takes a ``resolve`` function
that maps a :class:`Ref` to a value. :func:`navigate` walks the rest of a reference through
tables and lists. Nothing here knows about TOML or pipelines.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aw_tui.base.errors import HintedError

__all__ = [
    "ALL",
    "FILTERS",
    "Expr",
    "Filter",
    "InterpolationError",
    "Ref",
    "apply_filters",
    "bind_template",
    "compile_template",
    "copy_value",
    "did_you_mean",
    "has_refs",
    "navigate",
    "parse_template",
    "render",
    "render_parts",
    "stringify",
    "type_name",
]


class InterpolationError(HintedError):
    """A template that cannot be parsed or evaluated. (``message`` and ``hint``, see :class:`HintedError`)."""


class _All:
    """The ``[*]`` accessor: apply the rest of the reference to every element."""

    def __repr__(self) -> str:
        return "[*]"


#: The ``[*]`` accessor.
ALL = _All()

Accessor = str | int | _All


@dataclass(frozen=True)
class Ref:
    """A parsed reference such as ``inputs.exposures[*].image``.

    Attributes
    ----------
    root : str
        The first name (``paths``, ``vars``, ``item`` ...).
    accessors : tuple
        The rest: ``str`` keys, ``int`` list indices and :data:`ALL`.
    text : str
        The reference as written.
    """

    root: str
    accessors: tuple[Accessor, ...]
    text: str


@dataclass(frozen=True)
class Filter:
    """A filter of an expression: ``suffix:.cat`` is ``Filter('suffix', ('.cat',))``."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Expr:
    """A whole ``{...}``: a reference and its filters."""

    ref: Ref
    filters: tuple[Filter, ...]
    text: str


_REF_RE = re.compile(r"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\.\d+|\[\*\]|\[-?\d+\])*$")
_ACCESSOR_RE = re.compile(r"\.([A-Za-z_][\w-]*)|\.(\d+)|\[(\*)\]|\[(-?\d+)\]")


def did_you_mean(name: str, choices: Sequence[str], prefix: str = "") -> str:
    """``"did you mean 'x'?"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1, cutoff=0.6)
    if not close:
        lowered = {str(c).lower(): str(c) for c in choices}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"did you mean '{prefix}{close[0]}'?" if close else ""


def type_name(value: Any) -> str:
    """A TOML-flavoured name of the type of ``value`` for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, (datetime.date, datetime.time)):
        return "a date/time"
    return type(value).__name__


def _parse_ref(text: str) -> Ref:
    stripped = text.strip()
    if not stripped:
        raise InterpolationError(
            "empty reference '{}'",
            "write a name inside the braces (e.g. {paths.temp}) or '{{}}' for literal braces",
        )
    if not _REF_RE.match(stripped):
        raise InterpolationError(
            f"'{{{text}}}' is not a valid reference",
            "references look like {paths.temp}, {vars.name}, {item.image|stem} or "
            "{inputs.exposures[*].image}; write '{{' and '}}' for literal braces",
        )
    head = re.match(r"[A-Za-z_][\w-]*", stripped)
    assert head is not None
    accessors: list[Accessor] = []
    for match in _ACCESSOR_RE.finditer(stripped, head.end()):
        key, digits, star, index = match.groups()
        if key is not None:
            accessors.append(key)
        elif digits is not None:
            accessors.append(int(digits))
        elif star is not None:
            accessors.append(ALL)
        else:
            accessors.append(int(index))
    return Ref(head.group(0), tuple(accessors), stripped)


def _parse_expr(inner: str) -> Expr:
    pieces = inner.split("|")
    ref = _parse_ref(pieces[0])
    filters = []
    for piece in pieces[1:]:
        name, *args = piece.split(":")
        name = name.strip()
        if name not in FILTERS:
            hint = did_you_mean(name, list(FILTERS))
            raise InterpolationError(
                f"unknown filter '|{name}' in '{{{inner}}}'",
                (hint + " " if hint else "")
                + "filters are: " + ", ".join(f"|{n}" for n in FILTERS),
            )
        spec = FILTERS[name]
        if not spec.min_args <= len(args) <= spec.max_args:
            raise InterpolationError(
                f"filter '|{name}' takes {spec.arity_text()}, got {len(args)} in '{{{inner}}}'",
                f"write it as {spec.usage}",
            )
        filters.append(Filter(name, tuple(args)))
    return Expr(ref, tuple(filters), inner)


def parse_template(text: str) -> list[str | Expr]:
    """Split a template into literal text and :class:`Expr` parts.

    Raises
    ------
    InterpolationError
        On an unmatched brace, an empty or malformed reference, or an unknown filter.
    """
    return list(_parse_cached(text))


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> tuple[str | Expr, ...]:
    return tuple(_parse(text))


def _parse(text: str) -> list[str | Expr]:
    parts: list[str | Expr] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "{":
            if text.startswith("{{", i):
                buf.append("{")
                i += 2
                continue
            end = text.find("}", i + 1)
            nested = text.find("{", i + 1)
            if end < 0:
                raise InterpolationError(
                    f"unclosed '{{' at character {i + 1} of {text!r}",
                    "close the reference with '}', or write '{{' for a literal brace",
                )
            if 0 <= nested < end:
                raise InterpolationError(
                    f"'{{' inside a reference at character {nested + 1} of {text!r}",
                    "references cannot be nested; write '{{' for a literal brace",
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(_parse_expr(text[i + 1 : end]))
            i = end + 1
        elif char == "}":
            if text.startswith("}}", i):
                buf.append("}")
                i += 2
                continue
            raise InterpolationError(
                f"single '}}' at character {i + 1} of {text!r}",
                "write '}}' for a literal brace, or add the missing '{'",
            )
        else:
            buf.append(char)
            i += 1
    if buf:
        parts.append("".join(buf))
    return parts


def has_refs(text: str) -> bool:
    """Whether ``text`` contains a brace (a reference or an escaped brace)."""
    return "{" in text or "}" in text


def stringify(value: Any, where: str = "") -> str:
    """The text a value becomes when a reference is embedded in a longer string.

    Strings stay as they are, booleans become ``true``/``false`` (as in TOML), numbers their
    usual text, arrays their elements joined with commas (the AstrOmatic list syntax).

    Raises
    ------
    InterpolationError
        For a table, which has no text form.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ",".join(stringify(v, where) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise InterpolationError(
        f"{where or 'a reference'} is {type_name(value)}, which cannot be put inside text",
        "use the reference alone as the whole value (\"{...}\") to pass it as it is, or "
        "pick one field of it (e.g. {item.image})",
    )


def navigate(value: Any, accessors: Sequence[Accessor], text: str, done: str) -> Any:
    """Follow ``accessors`` from ``value``.

    A key applied to an array of tables is applied to each element (``inputs.x.image`` is
    ``inputs.x[*].image``); ``[*]`` applies the rest to each element; ``[n]`` indexes.

    Parameters
    ----------
    value : object
        Where to start.
    accessors : sequence
        Keys (str), indices (int) and :data:`ALL`.
    text : str
        The whole reference, for messages.
    done : str
        The part of the reference already followed, for messages.

    Raises
    ------
    InterpolationError
        When a key or index does not exist or the value cannot be indexed.
    """
    for pos, acc in enumerate(accessors):
        if acc is ALL:
            if not isinstance(value, list):
                raise InterpolationError(
                    f"'{done}' in {{{text}}} is {type_name(value)}, not an array: "
                    "[*] needs an array",
                    f"remove [*] after '{done}'",
                )
            rest = accessors[pos + 1 :]
            return [navigate(v, rest, text, f"{done}[{i}]") for i, v in enumerate(value)]
        if isinstance(acc, int):
            if not isinstance(value, list):
                raise InterpolationError(
                    f"'{done}' in {{{text}}} is {type_name(value)}, not an array",
                    f"remove [{acc}] after '{done}'",
                )
            if not -len(value) <= acc < len(value):
                raise InterpolationError(
                    f"index [{acc}] is out of range in {{{text}}}: '{done}' has "
                    f"{len(value)} element(s)",
                    f"use an index from 0 to {len(value) - 1}" if value else
                    f"'{done}' is empty",
                )
            value = value[acc]
            done = f"{done}[{acc}]"
            continue
        if isinstance(value, dict):
            if acc not in value:
                hint = did_you_mean(acc, list(value), prefix=f"{done}.")
                keys = ", ".join(map(str, value)) or "(none)"
                raise InterpolationError(
                    f"'{done}' has no '{acc}' in {{{text}}}",
                    (hint + " " if hint else "") + f"'{done}' has: {keys}",
                )
            value = value[acc]
            done = f"{done}.{acc}"
            continue
        if isinstance(value, list):
            rest = accessors[pos:]
            return [navigate(v, rest, text, f"{done}[{i}]") for i, v in enumerate(value)]
        raise InterpolationError(
            f"'{done}' in {{{text}}} is {type_name(value)}; it has no '.{acc}'",
            "filters such as |name, |stem, |parent, |suffix work on file names: "
            f"write {{{done}|{acc}}} if that is what you meant"
            if acc in FILTERS
            else f"remove '.{acc}'",
        )
    return value


# -- filters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FilterSpec:
    func: Callable[..., Any]
    min_args: int
    max_args: int
    usage: str
    doc: str
    elementwise: bool = True

    def arity_text(self) -> str:
        if self.min_args == self.max_args:
            return f"{self.min_args} argument(s)"
        return f"{self.min_args} to {self.max_args} arguments"


def _strip_sep(path: str) -> str:
    stripped = path.rstrip("/" + os.sep)
    return stripped or path


def _f_name(value: str) -> str:
    return os.path.basename(_strip_sep(value))


def _f_stem(value: str) -> str:
    return os.path.splitext(_f_name(value))[0]


def _f_parent(value: str) -> str:
    return os.path.dirname(_strip_sep(value)) or "."


def _f_suffix(value: str, new: str | None = None) -> str:
    root, ext = os.path.splitext(value)
    if new is None:
        return ext
    return root + new


def _f_replace(value: str, old: str, new: str) -> str:
    return value.replace(old, new)


def _f_map(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise InterpolationError(
            f"|map:{field} needs an array of tables, got {type_name(value)}",
            "apply |map to an input set ({inputs.NAME|map:FIELD}) or an array of tables",
        )
    out = []
    for i, element in enumerate(value):
        if not isinstance(element, dict):
            raise InterpolationError(
                f"|map:{field}: element {i} is {type_name(element)}, not a table",
                "apply |map to an array of tables",
            )
        if field not in element:
            hint = did_you_mean(field, list(element))
            raise InterpolationError(
                f"|map:{field}: element {i} has no field '{field}'",
                (hint + " " if hint else "") + "fields: " + ", ".join(map(str, element)),
            )
        out.append(element[field])
    return out


def _f_join(value: Any, sep: str = ",") -> str:
    if not isinstance(value, list):
        raise InterpolationError(
            f"|join needs an array, got {type_name(value)}", "apply |join to an array"
        )
    return sep.join(stringify(v) for v in value)


FILTERS: dict[str, _FilterSpec] = {
    "name": _FilterSpec(_f_name, 0, 0, "{x|name}", "file name: /a/b/c.fits -> c.fits"),
    "stem": _FilterSpec(_f_stem, 0, 0, "{x|stem}", "name without its last suffix: c"),
    "parent": _FilterSpec(_f_parent, 0, 0, "{x|parent}", "folder: /a/b"),
    "suffix": _FilterSpec(
        _f_suffix, 0, 1, "{x|suffix} or {x|suffix:.cat}",
        "without argument the last suffix (.fits); with one, swap it: c.fits -> c.cat",
    ),
    "replace": _FilterSpec(
        _f_replace, 2, 2, "{x|replace:OLD:NEW}", "replace every OLD by NEW (str.replace)"
    ),
    "map": _FilterSpec(
        _f_map, 1, 1, "{x|map:FIELD}", "the FIELD of every table of an array", False
    ),
    "join": _FilterSpec(
        _f_join, 0, 1, "{x|join} or {x|join:SEP}", "array to text, joined by SEP (',')", False
    ),
}


def _apply_one(value: Any, filt: Filter, text: str) -> Any:
    spec = FILTERS[filt.name]
    if spec.elementwise and type(value) is not str:
        if isinstance(value, list):
            return [_apply_one(v, filt, text) for v in value]
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise InterpolationError(
                f"filter '|{filt.name}' needs text (a file name), got {type_name(value)} "
                f"in {{{text}}}",
                f"apply |{filt.name} to a path or file name",
            )
    return spec.func(value, *filt.args)


def apply_filters(value: Any, filters: Sequence[Filter], text: str) -> Any:
    """Apply ``filters`` in order; text filters apply to each element of an array."""
    for filt in filters:
        value = _apply_one(value, filt, text)
    return value


def render(template: str, resolve: Callable[[Ref], Any]) -> Any:
    """Evaluate a template.

    Parameters
    ----------
    template : str
        The string from the project file.
    resolve : callable
        Maps a :class:`Ref` to its value; raises :class:`InterpolationError` when it cannot.

    Returns
    -------
    object
        The referenced value itself (a copy) when the template is a single reference;
        otherwise the text with every reference replaced by :func:`stringify` of its value.
    """
    if not has_refs(template):
        return template
    return render_parts(_parse_cached(template), resolve)


def compile_template(text: str) -> tuple[str | Expr, ...] | None:
    """Parse a template once, to evaluate it many times with :func:`render_parts`.

    Returns
    -------
    tuple or None
        None for a string without braces (it renders as itself), else the parts of
        :func:`parse_template` (shared, do not modify).

    Raises
    ------
    InterpolationError
        As :func:`parse_template`.
    """
    if not has_refs(text):
        return None
    return _parse_cached(text)


#: Types :func:`copy.deepcopy` returns unchanged: skip its dispatch for them.
_ATOMIC = frozenset((str, int, float, bool, type(None)))


def copy_value(value: Any) -> Any:
    """``copy.deepcopy(value)``, quicker for plain values and flat arrays and tables of them.

    A plain value (text, number, boolean, None) is returned as it is (``deepcopy`` does the
    same); a list or dict holding only plain values is copied by ``list``/``dict``.
    """
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is list and all(type(v) in _ATOMIC for v in value):
        return list(value)
    if kind is dict and all(type(k) in _ATOMIC and type(v) in _ATOMIC
                            for k, v in value.items()):
        return dict(value)
    return copy.deepcopy(value)


def render_parts(parts: Sequence[str | Expr], resolve: Callable[[Ref], Any]) -> Any:
    """Evaluate a parsed template (see :func:`compile_template`), as :func:`render` does.

    Parameters
    ----------
    parts : sequence
        Literal text and :class:`Expr` parts, as :func:`parse_template` gives them.
    resolve : callable
        Maps a :class:`Ref` to its value; raises :class:`InterpolationError` when it cannot.

    Returns
    -------
    object
        As :func:`render`.
    """
    if len(parts) == 1 and isinstance(parts[0], Expr):
        expr = parts[0]
        value = resolve(expr.ref)
        if expr.filters:
            value = apply_filters(value, expr.filters, expr.text)
        return copy_value(value)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = resolve(part.ref)
        if part.filters:
            value = apply_filters(value, part.filters, part.text)
        out.append(value if type(value) is str else stringify(value, f"{{{part.text}}}"))
    return "".join(out)


def bind_template(
    parts: Sequence[str | Expr], bind: Callable[[Ref], Callable[[Any], Any]]
) -> Callable[[Any], Any]:
    """Make a function that evaluates parsed template parts, as :func:`render_parts` does.

    Parameters
    ----------
    parts : sequence
        Literal text and :class:`Expr` parts (see :func:`compile_template`).
    bind : callable
        Called once per reference with its :class:`Ref`; gives a function that maps a context
        (whatever the caller passes at each evaluation) to the value of that reference, or
        raises :class:`InterpolationError`.

    Returns
    -------
    callable
        ``evaluate(context)``: the value of the template, with the same typing rules, copies
        and errors as :func:`render_parts` with a ``resolve`` giving the same values.
    """
    if len(parts) == 1 and isinstance(parts[0], Expr):
        return _bind_single(parts[0], bind(parts[0].ref))
    pieces: list[str | tuple[Callable[[Any], Any], tuple[Filter, ...], str, str]] = [
        part if isinstance(part, str)
        else (bind(part.ref), part.filters, part.text, f"{{{part.text}}}")
        for part in parts
    ]

    def joined(context: Any) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            get, filters, text, where = piece
            value = get(context)
            if filters:
                value = apply_filters(value, filters, text)
            out.append(value if type(value) is str else stringify(value, where))
        return "".join(out)

    return joined


def _bind_single(expr: Expr, get: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """:func:`bind_template` of a template that is one reference: its value, copied."""
    filters, text = expr.filters, expr.text
    if not filters:
        return lambda context: copy_value(get(context))
    return lambda context: copy_value(apply_filters(get(context), filters, text))
