"""`usermode COMMAND ...`: the entry point; each command's work is its own module."""

from __future__ import annotations

import os
import sys

from usermode import __version__
from usermode.cli.run import USAGE, fail, run_command
from usermode.kernel.exec import EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else EXIT_USAGE
    if args[0] in ("--version", "-version"):
        from usermode.engine.native import describe

        sys.stdout.write(f"usermode {__version__} ({describe()})\n")
        return 0
    if args[0] == "run":
        status = run_command(args[1:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if args[0] == "strace":
        from usermode.cli import strace as strace_cli

        status = strace_cli.main(args[1:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if args[0] == "binfmt":
        from usermode.cli import binfmt

        return binfmt.main(args[1:])
    if args[0] == "syscalls":
        from usermode.cli import syscalls as syscall_table

        return syscall_table.main(args[1:])
    return fail(f"unknown command {args[0]!r} (usage: usermode run PROGRAM [ARGS...])",
                 EXIT_USAGE)
