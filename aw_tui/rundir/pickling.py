"""Checkpoints written with the C pickler, handing to dill only what needs it.

dill pickles with Python's pure-Python pickler: a 10,000-step pipeline took 1.2-7 s to dump.
Nearly all of it (step kwargs, results, lists, dicts, the steps themselves) is plain data that
the C pickler writes ~20x faster. What plain pickle cannot write by reference is what a
user's script holds: functions and classes of ``__main__``, lambdas, closures, and instances
of ``__main__`` classes. :class:`FastPickler` hands exactly those to dill (one
``dill.dumps`` each, embedded as a call of ``dill.loads``), so the file stays a standard
pickle: ``dill.load(open(path, 'rb'))`` (the seed's promise) and ``pickle.load`` both read it,
with dill importable.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import IO, Any

import dill

__all__ = ["FastPickler", "dump_fast", "dumps_fast"]

_BY_VALUE_TYPES = (types.FunctionType, type)


def _needs_dill(obj: Any) -> bool:
    """Whether plain pickle would fail on ``obj`` or lose it in another process."""
    kind = type(obj)
    if kind is types.FunctionType:
        return obj.__module__ == "__main__" or "<" in obj.__qualname__
    if kind is type or isinstance(obj, type):
        return getattr(obj, "__module__", None) == "__main__" or "<" in getattr(
            obj, "__qualname__", "")
    if kind is types.MethodType:
        return _needs_dill(obj.__func__) or _needs_dill(obj.__self__)
    if kind in (types.ModuleType, types.CodeType, types.CellType, types.GeneratorType):
        return True
    module = getattr(kind, "__module__", None)
    return module == "__main__" or "<" in getattr(kind, "__qualname__", "")


class FastPickler(pickle.Pickler):
    """The C pickler, with what only dill can write handed to dill (see the module)."""

    def reducer_override(self, obj: Any) -> Any:
        if _needs_dill(obj):
            return dill.loads, (dill.dumps(obj, protocol=self._protocol),)
        return NotImplemented

    def __init__(self, file: IO[bytes], protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        super().__init__(file, protocol)
        self._protocol = protocol


def dump_fast(obj: Any, handle: IO[bytes]) -> None:
    """Pickle ``obj`` into ``handle`` (dill falls back for the whole object if the fast
    pickler cannot write it, e.g. an object whose own ``__reduce__`` fails)."""
    buffer = io.BytesIO()
    try:
        FastPickler(buffer).dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        handle.write(dill.dumps(obj))
        return
    handle.write(buffer.getbuffer())


def dumps_fast(obj: Any) -> bytes:
    """:func:`dump_fast` into bytes."""
    buffer = io.BytesIO()
    dump_fast(obj, buffer)
    return buffer.getvalue()
