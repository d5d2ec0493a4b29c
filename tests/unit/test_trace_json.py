"""The JSON-lines sink writes exactly what json.dumps would, for awkward values too."""

from __future__ import annotations

import json
from pathlib import Path

from usermode.trace.sinks import JsonSink, SyscallEvent

EVENTS = [
    SyscallEvent(1764755555.123456, 4242, 4242, "aarch64", "openat", 56, (0xFFFFFF9C, 0x4000, 0),
                 ("AT_FDCWD", '"/tmp/a \\"q\\"\\n"', "O_RDONLY"), -2, "ENOENT", 1.5e-05, 0.0),
    SyscallEvent(0.1, 1, 4194305, "mipsel", "write", 4004, (1, 0x7F0000, 3),
                 ("1", '"\\u00e9\\t\\x01"', "3", "caf\u00e9 \x00 \u2603"), 3, None, 2e-06,
                 1.25),
    SyscallEvent(3.0, 7, 7, "x86_64", "exit_group", 231, (), (), 0, None, 0.0, 0.0),
]


def test_lines_equal_json_dumps(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    sink = JsonSink(str(path), True, lambda fd: None)
    for ev in EVENTS:
        sink.syscall(ev)
    lines = path.read_text().splitlines()
    assert lines == [json.dumps(ev._asdict()) for ev in EVENTS]
    assert [json.loads(x)["args"] for x in lines] == [list(ev.args) for ev in EVENTS]
