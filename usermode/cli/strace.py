"""`usermode strace [OPTIONS] PROGRAM [ARGS...]`: strace's command line for a foreign program.

Children and threads are always followed (strace -f); -L and -E pass to the run as in
`usermode run`.
"""

from __future__ import annotations

import os
import sys

from usermode.trace.tracer import TraceOptions, parse_expr

USAGE = """\
usage: usermode strace [OPTIONS] PROGRAM [ARGS...]

Run a foreign program and print its system calls as strace does (children and threads
are always followed, each line starts with the thread id).

  -o FILE     write the trace to FILE (default: stderr)
  -ff         with -o: one file per process, FILE.PID
  -e EXPR     trace=SET (names, %file %network %process %signal %memory %desc, !SET),
              status=failed|successful; a bare SET means trace=SET
  -z / -Z     only successful / only failed calls
  -s N        show at most N bytes of each string (default 32)
  -T          time spent in each call
  -t, -tt, -ttt   time of day; with microseconds; seconds since the epoch
  -c          a summary table only;  -C  the lines and the summary table
  -f          accepted (always on)
  --trace-json FILE, --trace-timeline FILE   also a JSON-lines trace, a Perfetto timeline
  -L DIR      guest sysroot;  -E VAR=VALUE  set a guest environment variable
"""


def main(args: list[str]) -> int:
    from usermode.cli.run import fail, run_command
    from usermode.kernel.exec import EXIT_USAGE

    opts = TraceOptions()
    run_args: list[str] = []
    i = 0
    try:
        while i < len(args) and args[i].startswith("-") and args[i] != "-":
            opt = args[i]
            i += 1
            if opt == "--":
                break
            if opt in ("-h", "--help"):
                sys.stdout.write(USAGE)
                return 0
            if opt in ("-f", "-q", "-qq", "-v"):
                continue
            if opt == "-ff":
                opts.per_process = True
            elif opt == "-T":
                opts.durations = True
            elif opt in ("-t", "-tt", "-ttt"):
                opts.timestamps = min(3, opts.timestamps + len(opt) - 1)
            elif opt in ("-c", "-C"):
                opts.summary = opt[1]
            elif opt in ("-z", "-Z"):
                opts.status = "successful" if opt == "-z" else "failed"
            elif opt in ("-o", "-e", "-s", "-L", "-E", "--trace-json", "--trace-timeline"):
                if i >= len(args):
                    return fail(f"strace: option {opt} needs a value", EXIT_USAGE)
                val = args[i]
                i += 1
                if opt == "-o":
                    opts.output = os.path.abspath(val)
                elif opt == "--trace-json":
                    opts.json_file = os.path.abspath(val)
                elif opt == "--trace-timeline":
                    opts.timeline_file = os.path.abspath(val)
                elif opt == "-e":
                    parse_expr(opts, val)
                elif opt == "-s":
                    opts.limit = int(val)
                    if opts.limit < 0:
                        raise ValueError("-s must not be negative")
                else:
                    run_args += [opt, val]
            else:
                return fail(f"strace: unknown option {opt} (see usermode strace --help)",
                             EXIT_USAGE)
    except ValueError as e:
        return fail(f"strace: {e}", EXIT_USAGE)
    if opts.per_process and not opts.output:
        return fail("strace: -ff needs -o FILE", EXIT_USAGE)
    if i >= len(args):
        return fail("strace: no program given (usage: usermode strace [OPTIONS] PROGRAM)",
                     EXIT_USAGE)
    return run_command([*run_args, "--", *args[i:]], trace=opts)
