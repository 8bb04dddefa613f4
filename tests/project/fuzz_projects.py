"""Generated project files for the fuzz tests of the project loader (issue 11, item 11).

Seeded random mutations of a few valid projects: deep nesting, long strings, NUL and other
control characters, wrong types, huge integers, odd paths and names, chains and loops of
references, broken TOML text. Used by ``tests/project/test_fuzz.py`` (a few hundred, in
``make test``) and ``tests/benchmarks/bench_fuzz_project.py`` (thousands).

    folder = make_data_folder(tmp)            # images and a func file the projects use
    for name, text in generate(folder, seed=1, count=300): ...
"""

from __future__ import annotations

import copy
import datetime
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The files the base projects name (made by :func:`make_data_folder`).
IMAGES = ("a.fits", "b.fits", "c.fits")
FUNC_PY = '''
def record(out="", **kwargs):
    return {"status": "success"}
'''


def make_data_folder(folder: Path) -> Path:
    """Make the images (with weight maps) and ``steps.py`` the base projects use."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        (folder / "images").mkdir(exist_ok=True)
        (folder / "images" / name).write_bytes(b"")
        (folder / "images" / name.replace(".fits", ".wtmap.fits")).write_bytes(b"")
    (folder / "steps.py").write_text(FUNC_PY)
    return folder


def base_projects() -> list[dict[str, Any]]:
    """Valid projects (as data) the mutations start from."""
    simple = {
        "pipeline": {"name": "simple", "create_paths": True},
        "paths": {"temp": "work/temp", "log": "work/log"},
        "vars": {"frames": [1], "thresh": 1.5, "stack": "{paths.temp}/stack.fits"},
        "steps": [
            {"name": "one", "func": "aw_tui.testing_funcs:succeed", "tags": ["a", "b"],
             "kwargs": {"image": "{vars.stack}", "frames": "{vars.frames}"}},
            {"func": "steps.py:record", "kwargs": {"out": "{paths.log}/x.json"}},
        ],
    }
    foreach = {
        "pipeline": {"name": "foreach", "create_paths": True, "jobs": 2, "run_name": "night1"},
        "paths": {"temp": "work/temp", "log": "work/log", "images": "images"},
        "build_paths": {"SExtractor": "sex", "SCAMP": "bin/scamp"},
        "vars": {"suffix": ".cat", "keys": ["X", "Y"], "conf": {"DETECT": 2, "F": False}},
        "executor": {"kind": "local", "jobs": 2},
        "inputs": {
            "exposures": {
                "glob": "{paths.images}/*.fits",
                "exclude": ["*.wtmap.fits"],
                "required": ["wtmap"],
                "fields": {"wtmap": "{item.parent}/{item.stem}.wtmap.fits"},
            },
            "bands": {"items": ["g", "r"], "field": "band", "text_fields": ["band"]},
        },
        "steps": [
            {"name": "detect", "func": "aw_tui.testing_funcs:succeed", "foreach": "exposures",
             "tags": ["step1", "{item.stem}"],
             "outputs": {"catalog": "{paths.temp}/{item.image|name|suffix:.cat}"},
             "kwargs": {"files": "{item}", "config": {"NAME": "{outputs.catalog}",
                                                      "KEYS": "{vars.keys}"}}},
            {"name": "per_band", "func": "aw_tui.testing_funcs:succeed", "foreach": "bands",
             "kwargs": {"band": "{item.band}", "n": "{item.index}"}},
            {"name": "gather", "func": "aw_tui.testing_funcs:succeed",
             "kwargs": {"catalogs": "{steps.detect.outputs.catalog}",
                        "images": "{inputs.exposures[*].image}"}},
        ],
    }
    dask = {
        "pipeline": {"name": "dask"},
        "paths": {"log": "log"},
        "executor": {"kind": "dask", "workers": 2, "threads_per_worker": 1,
                     "cluster_options": {"memory": "1GB"}},
        "inputs": {"frames": {"items": [{"image": "images/a.fits", "n": 1},
                                        {"image": "images/b.fits", "n": 2}]}},
        "steps": [
            {"func": "steps.py:record", "foreach": "frames", "independent": True,
             "group": "g", "kwargs": {"out": "{item.name}", "n": "{item.n}"}},
        ],
    }
    return [simple, foreach, dask]


# -- TOML text ---------------------------------------------------------------------------------
def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key)


def toml_value(value: Any) -> str:
    """``value`` as a TOML inline value (strings JSON-escaped, which TOML reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, _Raw):
        return value.text
    raise TypeError(type(value))


class _Raw:
    """TOML text put as it is (deep nesting the writer would recurse on)."""

    def __init__(self, text: str) -> None:
        self.text = text


def toml_text(data: dict[str, Any]) -> str:
    """A project as TOML: each top-level table a ``[section]``, steps as ``[[steps]]``."""
    lines: list[str] = []
    for key, value in data.items():
        if key == "steps" and isinstance(value, list) and all(isinstance(s, dict) for s in value):
            for step in value:
                lines.append("[[steps]]")
                lines += [f"{_key(k)} = {toml_value(v)}" for k, v in step.items()]
            continue
        if isinstance(value, dict):
            lines.append(f"[{_key(key)}]")
            lines += [f"{_key(k)} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{_key(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


# -- mutations ---------------------------------------------------------------------------------
ODD_PATHS = (
    "", " ", ".", "..", "/", "//", "project.toml", "/dev/null", "/dev/zero", "/proc/self",
    "/proc", "/sys/kernel", "/dev", "images/a.fits", "~nosuchuser/x", "a\nb", "a\x00b",
    "/etc/passwd", "x" * 300, "/".join(["d"] * 200), "{paths.log}", "\x1b[2J", "a\rb",
    "work/log/../../..", "images", "\t",
)
ODD_NAMES = (
    "a/b", ".hidden", "..", ".", "", " ", "x" * 300, "é", "a b", "a\x00", "a\nb", "\x1b]52;c;x\x07",
    "-", "_", "a.b", "~", "a:b", "a|b", "{x}", "../../etc", "CON", "name-ok_1",
)
HUGE_INTS = (2**63 - 1, -(2**63), 2**64, 10**30, 0, -1, -5, 10**6, 4097, 1)
FUNCS = (
    "os:system", "nonexistent.py:f", "../../etc/passwd:x", "a.py:", ":", "sextractor", "\x00",
    "steps.py:record\x00", "steps.py:nope", "aw_tui.testing_funcs:raise_error", "steps.py",
    "aw_tui.testing_funcs:succeed", "builtins:print", "x" * 5000, "scampp", "module.",
)
TEMPLATES = (
    "{", "}", "{{}}", "{vars}", "{vars.}", "{item}", "{outputs.x}", "{steps.zz.outputs.a}",
    "{env.HOME}", "{env.NO_SUCH_VAR_XYZ}", "{vars.frames|join:-}", "{vars.frames|nofilter}",
    "{paths.log|replace:a:b|stem|suffix:.x}", "{inputs.exposures|map:image}", "{vars.x[99]}",
    "{vars.frames[-1]}", "{paths.temp}/{vars.frames}", "{{literal}}", "{vars.conf.DETECT}",
)


def _strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from _strings(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _strings(sub, (*path, index))


def _slots(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in ``value`` (where a value can be replaced)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield (*path, key)
            yield from _slots(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield (*path, index)
            yield from _slots(sub, (*path, index))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _pick_slot(rng: random.Random, data: dict[str, Any]) -> tuple[Any, ...]:
    return rng.choice(list(_slots(data)))


def _nested(rng: random.Random, depth: int) -> _Raw:
    if rng.random() < 0.5:
        return _Raw("[" * depth + "1" + "]" * depth)
    return _Raw("{a = " * depth + "1" + "}" * depth)


def m_deep(rng: random.Random, data: dict[str, Any]) -> None:
    depth = rng.choice((40, 64, 65, 100, 300, 400, 450, 480, 520, 800))
    where = rng.choice((("vars", "deep"), ("executor", "deep"), ("paths", "log"),
                        ("pipeline", "name")))
    if data.get("steps") and rng.random() < 0.5:
        step = rng.choice(data["steps"])
        step.setdefault("kwargs", {})[rng.choice(("frames", "deep"))] = _nested(rng, depth)
        return
    data.setdefault(where[0], {})[where[1]] = _nested(rng, depth)


def m_deep_data(rng: random.Random, data: dict[str, Any]) -> None:
    """Nesting the TOML parser reads (below its own limit) but later code recurses on."""
    depth = rng.choice((64, 65, 200, 300, 400))
    value: Any = 1
    for _ in range(depth):
        value = [value] if rng.random() < 0.7 else {"f": value}
    data.setdefault("vars", {})["deep"] = _Raw(toml_value_iter(value))
    if data.get("steps"):
        rng.choice(data["steps"]).setdefault("kwargs", {})["frames"] = "{vars.deep}"


def toml_value_iter(value: Any) -> str:
    """:func:`toml_value` of a chain of one-element arrays/tables, without recursion."""
    opens, closes = [], []
    while isinstance(value, (list, dict)):
        if isinstance(value, list):
            opens.append("[")
            closes.append("]")
            value = value[0]
        else:
            opens.append("{f = ")
            closes.append("}")
            value = value["f"]
    return "".join(opens) + toml_value(value) + "".join(reversed(closes))


def m_ref_chain(rng: random.Random, data: dict[str, Any]) -> None:
    length = rng.choice((5, 20, 31, 32, 33, 60, 100, 150, 300))
    root = rng.choice(("vars", "paths"))
    table = data.setdefault(root, {})
    for i in range(length):
        table[f"c{i}"] = f"{{{root}.c{i + 1}}}" + ("/x" if root == "paths" else "")
    table[f"c{length}"] = "end"
    if data.get("steps"):
        rng.choice(data["steps"]).setdefault("kwargs", {})["chain"] = f"{{{root}.c0}}"
    if root == "paths" and rng.random() < 0.5:
        table["log"] = "{paths.c0}"


def m_ref_loop(rng: random.Random, data: dict[str, Any]) -> None:
    size = rng.choice((1, 2, 3, 40))
    root = rng.choice(("vars", "paths"))
    table = data.setdefault(root, {})
    for i in range(size):
        table[f"l{i}"] = f"{{{root}.l{(i + 1) % size}}}"


def m_char(rng: random.Random, data: dict[str, Any]) -> None:
    strings = list(_strings(data))
    if not strings:
        return
    path, text = rng.choice(strings)
    char = rng.choice(("\x00", "\x00", "\x1b", "\x07", "\n", "\r", "\t", "\x7f", "\u2028",
                       "\ufeff", "\x9b", "\U0001f600", "\\", '"', "'", "{", "}", "|"))
    at = rng.randint(0, len(text))
    _set(data, path, text[:at] + char + text[at:])


def m_key_char(rng: random.Random, data: dict[str, Any]) -> None:
    table = rng.choice([v for v in data.values() if isinstance(v, dict)] or [data])
    if table:
        key = rng.choice(list(table))
        table[key + rng.choice(("\x00", "\x1b", "/", ".", " ", "é"))] = table.pop(key)


def m_long(rng: random.Random, data: dict[str, Any]) -> None:
    strings = list(_strings(data))
    if strings:
        path, text = rng.choice(strings)
        _set(data, path, text + rng.choice(("x", "/", "{vars.frames}", "é")) * rng.choice(
            (256, 4096, 100_000)))


def m_type(rng: random.Random, data: dict[str, Any]) -> None:
    value = rng.choice((1, -1, 1.5, float("nan"), True, False, "", "text", [], [1, "a"], {},
                        {"k": 1}, datetime.date(2020, 1, 1), [[1]], [{}], 2**63 - 1))
    _set(data, _pick_slot(rng, data), value)


def m_huge(rng: random.Random, data: dict[str, Any]) -> None:
    key = rng.choice(("jobs", "workers", "threads_per_worker", "scale", "capacity",
                      "allowed_failures", "wait_for_workers"))
    value = rng.choice(HUGE_INTS)
    if key == "jobs" and rng.random() < 0.5:
        data.setdefault("pipeline", {})["jobs"] = value
    else:
        executor = data.setdefault("executor", {})
        executor.setdefault("kind", rng.choice(("local", "dask")))
        executor[key] = value


def m_path(rng: random.Random, data: dict[str, Any]) -> None:
    key = rng.choice(("log", "log", "temp", "images", "new"))
    data.setdefault("paths", {})[key] = rng.choice(ODD_PATHS)


def m_build_path(rng: random.Random, data: dict[str, Any]) -> None:
    tool = rng.choice(("SExtractor", "SExtracter", "STIFF", "sex", "Foo", "a\x00", ""))
    data.setdefault("build_paths", {})[tool] = rng.choice((*ODD_PATHS, "sex", "bin/sex"))


def m_name(rng: random.Random, data: dict[str, Any]) -> None:
    name = rng.choice(ODD_NAMES)
    if rng.random() < 0.4 or not data.get("steps"):
        data.setdefault("pipeline", {})[rng.choice(("run_name", "name", "run_name"))] = name
    else:
        step = rng.choice(data["steps"])
        step[rng.choice(("name", "name", "group", "foreach"))] = name


def m_func(rng: random.Random, data: dict[str, Any]) -> None:
    if data.get("steps"):
        rng.choice(data["steps"])["func"] = rng.choice(FUNCS)


def m_template(rng: random.Random, data: dict[str, Any]) -> None:
    strings = list(_strings(data))
    if strings:
        path, text = rng.choice(strings)
        _set(data, path, rng.choice((text + rng.choice(TEMPLATES), rng.choice(TEMPLATES))))


def m_drop(rng: random.Random, data: dict[str, Any]) -> None:
    path = _pick_slot(rng, data)
    container: Any = data
    for part in path[:-1]:
        container = container[part]
    del container[path[-1]]


def m_unknown(rng: random.Random, data: dict[str, Any]) -> None:
    table = rng.choice([data, *[v for v in data.values() if isinstance(v, dict)]])
    table[rng.choice(("stepz", "fucn", "unknown", "kwarg", "workerz"))] = 1


def m_many(rng: random.Random, data: dict[str, Any]) -> None:
    """Many steps, items or vars (sizes a user could write)."""
    count = rng.choice((200, 1000, 3000))
    what = rng.choice(("steps", "items", "vars"))
    if what == "steps":
        data["steps"] = [{"func": "aw_tui.testing_funcs:succeed", "name": f"s{i}"}
                         for i in range(count)]
    elif what == "items":
        data.setdefault("inputs", {})["many"] = {"items": [f"f{i}" for i in range(count)],
                                                 "text_fields": ["image"]}
        data.setdefault("steps", []).append({"func": "aw_tui.testing_funcs:succeed",
                                             "foreach": "many", "kwargs": {"x": "{item}"}})
    else:
        data.setdefault("vars", {}).update({f"v{i}": f"{{vars.v{i - 1}}}x" if i else "x"
                                            for i in range(count)})


MUTATIONS: tuple[Callable[[random.Random, dict[str, Any]], None], ...] = (
    m_deep, m_deep_data, m_ref_chain, m_ref_loop, m_char, m_char, m_key_char, m_long, m_type,
    m_type, m_huge, m_path, m_path, m_build_path, m_name, m_name, m_func, m_template,
    m_template, m_drop, m_unknown, m_many,
)


def _text_mutation(rng: random.Random, text: str) -> str:
    kind = rng.randrange(6)
    at = rng.randint(0, len(text))
    if kind == 0:
        return text[:at]
    if kind == 1:
        return text[:at] + rng.choice(("\x00", "\x1b", "[", "]]", "{", '"', "'''", "\ufeff",
                                       "= ", "\n[[steps]]\n", "\n[paths]\n")) + text[at:]
    if kind == 2:
        lines = text.splitlines()
        line = rng.choice(lines) if lines else ""
        return text + line + "\n"
    if kind == 3:
        return "\ufeff" + text
    if kind == 4:
        return text.replace("\n", "\r\n")
    return text + "x = " + "[" * rng.choice((100, 499, 1000, 5000)) + "\n"


def generate(count: int, seed: int = 0) -> Iterator[tuple[str, str | bytes]]:
    """``count`` mutated projects: (a label naming the mutations, the file's text or bytes).

    The projects assume a folder made by :func:`make_data_folder` beside them.
    """
    rng = random.Random(seed)
    bases = base_projects()
    for number in range(count):
        data = copy.deepcopy(rng.choice(bases))
        names = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            mutation = rng.choice(MUTATIONS)
            names.append(mutation.__name__[2:])
            try:
                mutation(rng, data)
            except (AttributeError, IndexError, KeyError, TypeError, ValueError):
                names[-1] += "(skipped)"
        text = toml_text(data)
        if rng.random() < 0.12:
            text = _text_mutation(rng, text)
            names.append("text")
        label = f"{number:05d}-" + "+".join(names)
        if rng.random() < 0.02:
            yield label + "+bytes", text.encode("utf-8")[: rng.randint(0, len(text))] + b"\xff"
            continue
        yield label, text
