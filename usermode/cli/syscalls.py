"""`usermode syscalls`: what each guest arch's syscalls do here, from the registry.

One row per number in the arch's table: its name, the status (full, partial, or enosys for
numbers no handler serves) and the handler's note, like gVisor's compatibility tables.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import asdict, dataclass

from syscalls import registry, tables
from syscalls.linux import ROWS
from usermode.arch import SUPPORTED, load

USAGE = """\
usage: usermode syscalls [--arch ARCH] [--format table|csv|json]

List every syscall of a guest arch (default: all of them) with its number, its status here
(full, partial, enosys) and a note. Arches: {arches}.
"""


@dataclass(frozen=True)
class Entry:
    arch: str
    number: int
    name: str
    status: str
    note: str


def entries(arch: str) -> list[Entry]:
    rows = ROWS
    out = []
    for nr, name in sorted(tables.load(load(arch).FAMILY or arch).items()):
        row = rows.get(name)
        if row is None or row.handler is None:
            status = registry.UNSUPPORTED
            note = row.note if row is not None and row.note else "not implemented: ENOSYS"
        else:
            status, note = row.support, row.note
        out.append(Entry(arch, nr, name, status, note))
    return out


def render(items: list[Entry], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([asdict(e) for e in items], indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("arch", "number", "name", "status", "note"))
        for e in items:
            w.writerow((e.arch, e.number, e.name, e.status, e.note))
        return buf.getvalue()
    lines = []
    for arch in dict.fromkeys(e.arch for e in items):
        mine = [e for e in items if e.arch == arch]
        counts = {s: sum(e.status == s for e in mine) for s in
                  (registry.FULL, registry.PARTIAL, registry.UNSUPPORTED)}
        lines.append(f"{arch}: {len(mine)} syscalls, " +
                     ", ".join(f"{n} {s}" for s, n in counts.items()))
        width = max(len(e.name) for e in mine)
        for e in mine:
            note = f"  {e.note}" if e.note else ""
            lines.append(f"  {e.number:>6}  {e.name:<{width}}  {e.status:<7}{note}".rstrip())
        lines.append("")
    return "\n".join(lines)


def main(args: list[str]) -> int:
    arches: list[str] = list(SUPPORTED)
    fmt = "table"
    i = 0
    while i < len(args):
        opt = args[i]
        if opt in ("-h", "--help"):
            sys.stdout.write(USAGE.format(arches=", ".join(SUPPORTED)))
            return 0
        if opt not in ("--arch", "--format") or i + 1 >= len(args):
            sys.stderr.write(f"usermode: syscalls: bad option {opt!r} "
                             "(usage: usermode syscalls [--arch ARCH] [--format FMT])\n")
            return 2
        val = args[i + 1]
        i += 2
        if opt == "--arch":
            if val not in SUPPORTED:
                sys.stderr.write(f"usermode: syscalls: unknown arch {val!r} "
                                 f"(one of {', '.join(SUPPORTED)})\n")
                return 2
            arches = [val]
        elif val not in ("table", "csv", "json"):
            sys.stderr.write(f"usermode: syscalls: unknown format {val!r} "
                             "(table, csv or json)\n")
            return 2
        else:
            fmt = val
    items = [e for a in arches for e in entries(a)]
    sys.stdout.write(render(items, fmt))
    return 0
