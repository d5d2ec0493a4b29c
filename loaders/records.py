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
typing's, the interpreter gets the class `collections.namedtuple` would make (fields in
declaration order, trailing defaults, the body's methods, properties and docstring kept),
built here without importing `collections`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from operator import itemgetter as _tuplegetter
else:
    from _collections import _tuplegetter  # the C field accessor namedtuple uses

_NOT_COPIED = frozenset({"__module__", "__qualname__", "__annotations__", "__dict__",
                         "__weakref__", "__orig_bases__"})


def _record(name: str, fields: list[str], defaults: list[object], module: str) -> type:
    """What collections.namedtuple(name, fields, defaults=...) makes, without importing
    `collections` (a millisecond of every start)."""
    for f in fields:
        if not f.isidentifier() or f.startswith("_"):
            raise ValueError(f"{name}: bad field name {f!r}")
    args = ", ".join(fields)
    namespace: dict[str, object] = {"_tuple_new": tuple.__new__}
    exec(f"def __new__(_cls, {args}):\n return _tuple_new(_cls, ({args}{',' if fields else ''}))",
         namespace)
    new = namespace["__new__"]
    new.__defaults__ = tuple(defaults) or None  # type: ignore[attr-defined]
    new.__qualname__ = f"{name}.__new__"  # type: ignore[attr-defined]

    def __repr__(self: tuple[object, ...]) -> str:
        inner = ", ".join(f"{f}={v!r}" for f, v in zip(fields, self, strict=True))
        return f"{name}({inner})"

    def _replace(self: tuple[object, ...], **changes: object) -> tuple[object, ...]:
        values = [changes.pop(f, v) for f, v in zip(fields, self, strict=True)]
        if changes:
            raise TypeError(f"{name}: no fields {sorted(changes)}")
        return tuple.__new__(type(self), values)

    def _asdict(self: tuple[object, ...]) -> dict[str, object]:
        return dict(zip(fields, self, strict=True))

    def __getnewargs__(self: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(self)

    body: dict[str, object] = {
        "__slots__": (), "__module__": module, "__new__": new, "__repr__": __repr__,
        "_replace": _replace, "_asdict": _asdict, "__getnewargs__": __getnewargs__,
        "_fields": tuple(fields), "_field_defaults": dict(zip(fields[len(fields) - len(defaults):],
                                                              defaults, strict=True)),
        "__match_args__": tuple(fields)}
    for i, f in enumerate(fields):
        body[f] = _tuplegetter(i, f"Alias for field number {i}")
    return type(name, (tuple,), body)


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
        cls = _record(name, fields, defaults, str(ns.get("__module__")))
        for key, value in ns.items():
            if key not in _NOT_COPIED and key not in fields:
                setattr(cls, key, value)
        cls.__qualname__ = str(ns.get("__qualname__", name))
        return cls


class NamedTuple(metaclass=_RecordMeta):
    """Base for record classes (see the module docstring)."""
