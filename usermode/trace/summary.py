"""strace -c: per-syscall calls, errors and time, and the table strace prints for them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Counts:
    """name -> [calls, errors, nanoseconds]."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def add(self, name: str, ns: int, failed: bool) -> None:
        c = self.by_name.get(name)
        if c is None:
            c = self.by_name[name] = [0, 0, 0]
        c[0] += 1
        c[1] += failed
        c[2] += ns

    def merge(self, other: Counts) -> None:
        for name, (calls, errors, ns) in other.by_name.items():
            c = self.by_name.setdefault(name, [0, 0, 0])
            c[0] += calls
            c[1] += errors
            c[2] += ns

    def to_json(self) -> dict[str, Any]:
        return self.by_name

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        c = cls()
        c.by_name = {str(k): [int(x) for x in v] for k, v in data.items()}
        return c


_RULE = "------ ----------- ----------- --------- --------- ----------------\n"


def table(counts: Counts) -> str:
    """The summary as strace -c prints it: by time spent, then by calls, then by name."""
    rows = sorted(counts.by_name.items(), key=lambda kv: (-kv[1][2], -kv[1][0], kv[0]))
    total_ns = sum(v[2] for _, v in rows)
    out = ["% time     seconds  usecs/call     calls    errors syscall\n", _RULE]
    for name, (calls, errors, ns) in rows:
        pct = 100.0 * ns / total_ns if total_ns else 0.0
        out.append(_line(pct, ns, calls, errors, name))
    calls = sum(v[0] for _, v in rows)
    errors = sum(v[1] for _, v in rows)
    out.append(_RULE)
    out.append(_line(100.0, total_ns, calls, errors, "total"))
    return "".join(out)


def _line(pct: float, ns: int, calls: int, errors: int, name: str) -> str:
    per_call = ns // 1000 // calls if calls else 0
    err = f"{errors:9d}" if errors else " " * 9
    return f"{pct:6.2f} {ns / 1e9:11.6f} {per_call:11d} {calls:9d} {err} {name}\n"
