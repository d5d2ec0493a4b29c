"""The few standard-library tools the run path needs, taken from the interpreter's built-in
modules instead of their Python wrappers.

`signal` (which imports `enum`), `threading`, `collections`, `functools`, `contextlib` and
`importlib` are Python modules the interpreter would read, unmarshal and run at every start:
together about a tenth of a guest's whole start-up, for a lock, a queue and a few signal calls.
Their C cores are built in (no file to read), so they also stay importable whatever the guest
does to our credentials, root or fd limit.

`signal` here is `_signal`: plain ints where the wrapper would give `Signals` and `Handlers`
enum members, which compare equal to them.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections import deque
    from collections.abc import Callable
    from types import ModuleType
    from typing import Generic, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")
else:
    import _signal as signal
    from _collections import deque

    class Generic:
        def __class_getitem__(cls, _item: object) -> type:
            return cls

    T = R = None

__all__ = ["MAIN_THREAD", "allocate_lock", "cached_property", "deque", "get_ident",
           "import_module", "memoize", "nullcontext", "signal", "start_thread"]

allocate_lock = _thread.allocate_lock
get_ident = _thread.get_ident
MAIN_THREAD = get_ident()  # this module is first imported by the main thread


def start_thread(fn: Callable[[], None]) -> int:
    """Run `fn` in a new host thread that never holds up the exit (threading's daemon)."""
    return _thread.start_new_thread(fn, ())


def import_module(name: str) -> ModuleType:
    """The module `name` (importlib.import_module without importing importlib)."""
    __import__(name)
    return sys.modules[name]


class nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc: object) -> None:
        return None


class cached_property(Generic[T, R]):
    """functools.cached_property: computed on first access, then an instance attribute."""

    def __init__(self, fn: Callable[[T], R]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj: T | None, _owner: type | None = None) -> R:
        if obj is None:
            return self  # type: ignore[return-value]
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


def memoize(fn: Callable[[str], R]) -> Callable[[str], R]:
    """functools.cache for a function of one hashable argument."""
    results: dict[str, R] = {}

    def cached(key: str) -> R:
        try:
            return results[key]
        except KeyError:
            value = results[key] = fn(key)
            return value

    cached.__doc__ = fn.__doc__
    cached.__name__ = fn.__name__
    return cached
