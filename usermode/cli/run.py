"""`usermode run [OPTIONS] PROGRAM [ARGS...]`: qemu-user's options and QEMU_* variables, and the
exit statuses of our own errors."""

from __future__ import annotations

import gc
import os
import sys

from usermode.kernel.exec import EXIT_INTERNAL, EXIT_USAGE, UsageError
from usermode.kernel.process import Options

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.trace.tracer import TraceOptions

USAGE = """\
usage: usermode run [OPTIONS] PROGRAM [ARGS...]
       usermode strace [STRACE OPTIONS] PROGRAM [ARGS...]   (see usermode strace --help)
       usermode syscalls [--arch ARCH] [--format table|csv|json]
       usermode binfmt print|register|unregister [...]   (see usermode binfmt --help)
       usermode --version

Run a Linux program built for another CPU on this machine.

options (qemu-user names; the QEMU_* environment variables work too):
  -L DIR          sysroot for the guest's paths and its ELF interpreter  (QEMU_LD_PREFIX)
  -E VAR=VALUE    set a variable in the guest's environment (repeatable)   (QEMU_SET_ENV)
  -U VAR          remove a variable from the guest's environment           (QEMU_UNSET_ENV)
  -0 ARGV0        use ARGV0 as the guest's argv[0]                         (QEMU_ARGV0)
  -s SIZE         guest stack size in bytes (k/m suffixes)                 (QEMU_STACK_SIZE)
  -cpu MODEL      CPU model: checked, the most capable working one is used; -cpu help
                  lists them                                                (QEMU_CPU)
  -r RELEASE      the kernel release uname reports                          (QEMU_UNAME)
  -strace         print each guest syscall on stderr (or the -D file)      (QEMU_STRACE)
  -D FILE         write -strace and -d output to FILE                      (QEMU_LOG_FILENAME)
  --trace-json FILE      every syscall as a JSON line (ts, pid, tid, args, result...)
  --trace-timeline FILE  a Chrome/Perfetto trace: a track per thread, syscalls as slices
  -d ITEMS        debug items, comma-separated: unimp (warn on unsupported syscalls),
                  in_asm (disassemble each translated block), page (the memory map
                  after loading), strace, trace (tracebacks on internal errors);
                  -d help lists them                                        (QEMU_LOG)
  -B, -R, -p, -seed  accepted for qemu compatibility and ignored, with one warning line
                  (guest addresses are the guest's own here, with no host base)
  -g PORT         wait for gdb on TCP PORT (or a Unix socket path) before the first
                  instruction: gdb-multiarch's `target remote :PORT`        (QEMU_GDB)

event loop and threads (usermode's own):
  --poll-max-ns N   longest adaptive polling window before a blocking wait (0: never poll)
  --poll-grow N     window growth factor (default 2)
  --poll-shrink N   window shrink divisor (default 2; 0 resets to 0 as QEMU does)
  --poll-fds        also poll fd readiness inside the window (one poll(0) per check)
  --quantum-ms N    time slice of a guest thread that others are waiting for (default 10)
  --stats           print thread and event-loop counters and histograms at exit
  -h, --help      this text;  --version  the version
"""



def fail(msg: str, status: int) -> int:
    sys.stderr.write(f"usermode: {msg}\n")
    return status


def _size(text: str) -> int:
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:].lower(), 1)
    return int(text[:-1] if mult != 1 else text) * mult


def _count(opt: str, text: str) -> int:
    n = int(text)
    if n < 0:
        raise ValueError(f"--{opt[1:]} must not be negative")
    return n


def _env_list(value: str) -> list[str]:
    return [x for x in value.split(",") if x]


def run_command(args: list[str], trace: TraceOptions | None = None) -> int:
    opts = Options()
    opts.trace = trace
    env = dict(os.environ)
    set_env: list[str] = _env_list(os.environ.get("QEMU_SET_ENV", ""))
    unset_env: list[str] = _env_list(os.environ.get("QEMU_UNSET_ENV", ""))
    opts.sysroot = os.environ.get("QEMU_LD_PREFIX") or None
    opts.argv0 = os.environ.get("QEMU_ARGV0") or None
    opts.strace = bool(os.environ.get("QEMU_STRACE"))
    opts.log_file = os.environ.get("QEMU_LOG_FILENAME") or None
    opts.uname_release = os.environ.get("QEMU_UNAME") or None
    opts.gdb = os.environ.get("QEMU_GDB") or None
    if os.environ.get("QEMU_LOG"):
        opts.debug |= set(_env_list(os.environ["QEMU_LOG"]))
    try:
        if os.environ.get("QEMU_STACK_SIZE"):
            opts.stack_size = _size(os.environ["QEMU_STACK_SIZE"])
        i = 0
        with_value = {"-L", "-E", "-U", "-0", "-s", "-cpu", "-D", "-d", "-r", "-B", "-R", "-p",
                      "-g", "-seed", "-poll-max-ns", "-poll-grow", "-poll-shrink", "-quantum-ms",
                      "-trace-json", "-trace-timeline"}
        machine: dict[str, str] = {}
        while i < len(args) and args[i].startswith("-") and args[i] != "-":
            opt = args[i]
            if opt == "--":
                i += 1
                break
            if opt.startswith("--") and opt not in ("--strace", "--help"):
                opt = opt[1:]
            if opt in ("-h", "-help", "--help"):
                sys.stdout.write(USAGE)
                return 0
            if opt in ("-strace", "--strace"):
                opts.strace = True
                i += 1
                continue
            if opt in ("-poll-fds", "-stats"):
                setattr(opts, opt[1:].replace("-", "_"), True)
                i += 1
                continue
            if opt not in with_value:
                return fail(f"unknown option {args[i]} (see usermode --help)", EXIT_USAGE)
            if i + 1 >= len(args):
                return fail(f"option {opt} needs a value", EXIT_USAGE)
            val = args[i + 1]
            i += 2
            if opt == "-L":
                opts.sysroot = val
            elif opt == "-E":
                set_env += _env_list(val)
            elif opt == "-U":
                unset_env += _env_list(val)
            elif opt == "-0":
                opts.argv0 = val
            elif opt == "-s":
                opts.stack_size = _size(val)
            elif opt == "-D":
                opts.log_file = val
            elif opt == "-d":
                if val == "help":
                    from usermode.trace.debug import help_text

                    sys.stdout.write(help_text())
                    return 0
                opts.debug |= set(_env_list(val))
            elif opt == "-r":
                opts.uname_release = val
            elif opt == "-cpu":
                from usermode.cli import cpus

                if val == "help":
                    sys.stdout.write(cpus.help_text())
                    return 0
                if not cpus.known(val):
                    return fail(f"unknown CPU model {val!r} (see -cpu help)", EXIT_USAGE)
            elif opt == "-poll-max-ns":
                opts.poll_max_ns = _count(opt, val)
            elif opt == "-poll-grow":
                opts.poll_grow = _count(opt, val)
            elif opt == "-poll-shrink":
                opts.poll_shrink = _count(opt, val)
            elif opt == "-quantum-ms":
                opts.quantum_ns = max(1, _count(opt, val)) * 1_000_000
            elif opt in ("-trace-json", "-trace-timeline"):
                machine[opt] = os.path.abspath(val)
            elif opt == "-g":
                opts.gdb = val
            elif opt == "-p" and val == "4096":
                pass  # the page size we run with
            else:  # -B, -R, -p, -seed
                sys.stderr.write(f"usermode: {opt} {val}: not supported, ignored\n")
    except ValueError as e:
        return fail(f"bad option value: {e}", EXIT_USAGE)
    if i >= len(args):
        return fail("no program given (usage: usermode run [OPTIONS] PROGRAM [ARGS...])",
                     EXIT_USAGE)
    for item in set_env:
        k, sep, v = item.partition("=")
        if not sep:
            return fail(f"-E needs VAR=VALUE, got {item!r}", EXIT_USAGE)
        env[k] = v
    for k in unset_env:
        env.pop(k, None)
    if machine:  # a machine-readable trace: strace's lines only if asked for as well
        from usermode.trace.tracer import TraceOptions

        if opts.trace is None:
            opts.trace = TraceOptions(text=opts.strace, output=opts.log_file)
        opts.trace.json_file = machine.get("-trace-json")
        opts.trace.timeline_file = machine.get("-trace-timeline")
    cpu = os.environ.get("QEMU_CPU")
    if cpu and cpu != "help":
        from usermode.cli import cpus

        if not cpus.known(cpu):
            return fail(f"unknown CPU model {cpu!r} in QEMU_CPU (see -cpu help)", EXIT_USAGE)
    from usermode.trace.debug import check_items

    bad = check_items(opts.debug)
    if bad:
        return fail(bad, EXIT_USAGE)
    opts.warn_unsupported = "unimp" in opts.debug
    program = args[i]
    guest_argv = [opts.argv0 or program, *args[i + 1:]]
    stack_rlimit = opts.stack_size
    opts.stack_size = max(stack_rlimit, 1 << 16)
    return _run(program, guest_argv, env, opts)


def _run(program: str, argv: list[str], env: dict[str, str], opts: Options) -> int:
    from usermode.engine.core import GuestFault
    from usermode.kernel.fatal import die, restore_default_dispositions
    from usermode.run import Runner

    restore_default_dispositions()
    runner = Runner(opts, prepare=_collect_from_now)
    try:
        status = runner.run(program, argv, env)
    except UsageError as e:
        return fail(str(e), e.status)
    except GuestFault as f:
        from usermode.trace.crash import describe

        proc = runner.proc
        assert proc is not None
        sys.stderr.write(describe(proc, f) + "\n")
        _print_stats(proc)
        if proc.tracer is not None:
            proc.tracer.killed(f.signo)
        die(f.signo)
        return 128 + f.signo
    except Exception as e:  # a bug of ours: one line, the traceback only on request
        if "trace" in opts.debug:
            import traceback

            traceback.print_exc()
        return fail(f"internal error: {type(e).__name__}: {e}", EXIT_INTERNAL)
    if runner.proc is not None:
        _print_stats(runner.proc)
    return status


def _collect_from_now(_proc: Process) -> None:
    """The guest is about to run: what start-up built stays (see usermode/cli/__init__.py)."""
    gc.freeze()
    gc.enable()


def _print_stats(proc: Process) -> None:
    if not proc.opts.stats:
        return
    from usermode.cli.stats import report

    text = report(proc)
    if proc.opts.log_file:
        with open(proc.opts.log_file, "a") as f:
            f.write(text)
    else:
        sys.stderr.write(text)
