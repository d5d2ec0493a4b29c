"""`NamedTuple` without importing `typing` at run time.

`typing` (with `re`, `contextlib` and `warnings`, which it imports) costs about 4 ms of a
5 ms-long interpreter start, a tenth of a guest's whole start-up, and the emulator needs none of
it at run time: every module does `from __future__ import annotations` and imports `typing` only
under `TYPE_CHECKING` (a module-level `TYPE_CHECKING = False`, which mypy and ruff read as true).
Record classes are the one run-time use. A module writes

    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from loaders.records import NamedTuple

and declares `class Point(NamedTuple): x: int; y: int = 0` as usual: the type checkers see
typing's, the interpreter gets the same `collections.namedtuple` class from this one (fields in
declaration order, trailing defaults, the body's methods, properties and docstring kept).
"""

from __future__ import annotations

from collections import namedtuple

_NOT_COPIED = frozenset({"__module__", "__qualname__", "__annotations__", "__dict__",
                         "__weakref__", "__orig_bases__"})


class _RecordMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if not bases:  # the NamedTuple base itself
            return super().__new__(mcls, name, bases, ns)
        annotations = ns.get("__annotations__", {})
        assert isinstance(annotations, dict)
        fields = [str(f) for f in annotations]
        defaults = [ns[f] for f in fields if f in ns]
        if any(f not in ns for f in fields[len(fields) - len(defaults):]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        cls: type = namedtuple(name, fields, defaults=defaults or None,  # type: ignore[misc]
                               module=str(ns.get("__module__")))
        for key, value in ns.items():
            if key not in _NOT_COPIED and key not in fields:
                setattr(cls, key, value)
        cls.__qualname__ = str(ns.get("__qualname__", name))
        return cls


class NamedTuple(metaclass=_RecordMeta):
    """Base for record classes (see the module docstring)."""
