"""The syscall registry: one row per syscall, registered by name with typed arguments.

Arguments are described once, at registration, by kind strings; the dispatcher compiles
them into a per-ABI decoding plan when it builds an arch's table, never per call.
Kinds: `int`/`fd` (signed 32-bit), `uint` (unsigned 32-bit), `long`/`off` (signed word),
`off64` (signed 64-bit: a register pair on 32-bit ABIs),
`ulong`/`size`/`ptr` (unsigned word), `str`/`path` (pointer to a C string; decoded only by
tracing). A kind may carry a detail after a colon for the tracer (`int:open_flags`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NamedTuple

    Handler = Callable[..., int]
else:
    from loaders.records import NamedTuple

FULL = "full"
PARTIAL = "partial"
UNSUPPORTED = "enosys"

SIGNED32 = frozenset({"int", "fd"})
UNSIGNED32 = frozenset({"uint"})
SIGNED_WORD = frozenset({"long", "off", "ssize"})
RAW = frozenset({"ulong", "size", "ptr", "str", "path"})
# A 64-bit value: one register on 64-bit ABIs, a register pair on 32-bit ones (even-aligned
# on arm and mips o32), always handed to the handler as one signed integer.
WIDE = frozenset({"off64"})


class Row(NamedTuple):
    name: str
    handler: Handler | None
    args: tuple[str, ...]
    support: str
    note: str
    ret: str

    @property
    def base_kinds(self) -> tuple[str, ...]:
        return tuple(k.split(":", 1)[0] for k in self.args)


ROWS: dict[str, Row] = {}


def syscall(*names: str, args: tuple[str, ...] = (), support: str = FULL, note: str = "",
            ret: str = "int") -> Callable[[Handler], Handler]:
    """Register `handler(proc, *args) -> int` under one or more syscall names."""

    def deco(fn: Handler) -> Handler:
        for k in args:
            base = k.split(":", 1)[0]
            if base not in SIGNED32 | UNSIGNED32 | SIGNED_WORD | RAW | WIDE:
                raise ValueError(f"{names[0]}: unknown argument kind {k!r}")
        for name in names:
            if name in ROWS:
                raise ValueError(f"syscall {name} registered twice")
            ROWS[name] = Row(name, fn, args, support, note, ret)
        return fn

    return deco


def alias(name: str, target: str, args: tuple[str, ...] | None = None,
          wrap: Callable[[Handler], Handler] | None = None) -> None:
    """Register `name` (a 32-bit ABI's variant such as getuid32 or fstat64) as `target`'s
    handler, with its own argument kinds if they differ (and `wrap` around the handler)."""
    row = ROWS[target]
    if name in ROWS:
        raise ValueError(f"syscall {name} registered twice")
    assert row.handler is not None
    ROWS[name] = row._replace(name=name, args=args if args is not None else row.args,
                              handler=wrap(row.handler) if wrap else row.handler)
