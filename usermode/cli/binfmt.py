"""`usermode binfmt print|register|unregister`: let the kernel run foreign binaries through
usermode, as qemu-binfmt-conf.sh does for qemu-user.

The magic and mask of each arch are qemu-binfmt-conf.sh's: the ELF class, byte order,
version and type (executable or shared object) and the machine; for mipsel also the o32
ABI (e_flags' ABI2 bit clear, which tells it from n32). The interpreter is a launcher
installed with the package: `usermode-binfmt`, or `usermode-binfmt-P` for the P flag (the
kernel then passes the original argv[0] too).
"""

from __future__ import annotations

import os
import shutil
import sys

from usermode.arch import SUPPORTED, load

MOUNT = "/proc/sys/fs/binfmt_misc"
# arch -> (magic, mask), from each arch's spec; an arch of another's family (armel) is served
# by that family's entry, which matches its programs too
ENTRIES: dict[str, tuple[bytes, bytes]] = {
    a: (load(a).BINFMT_MAGIC, load(a).BINFMT_MASK) for a in SUPPORTED if load(a).FAMILY is None}

USAGE = """\
usage: usermode binfmt print|register|unregister [--arch A[,B...]] [--persistent]
                       [--credential] [--preserve-argv0] [--launcher PATH] [--mount DIR]

Register usermode with the kernel's binfmt_misc, so foreign binaries run directly:
  print        the lines register would write (one per arch)
  register     write them to DIR/register (default /proc/sys/fs/binfmt_misc; needs root)
  unregister   remove usermode's entries
  --arch       these arches only (default: all but the host's own family)
  --persistent the F flag (the launcher is opened now: works in containers and chroots)
  --credential the C flag (set-uid binaries run with their credentials; implies O)
  --preserve-argv0  the P flag (the launcher gets the program's own argv[0])
"""


def escape(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def flags(persistent: bool, credential: bool, preserve: bool) -> str:
    return ("OC" if credential else "") + ("F" if persistent else "") + ("P" if preserve else "")


def line(arch: str, launcher: str, flag_text: str) -> str:
    magic, mask = ENTRIES[arch]
    return f":usermode-{arch}:M::{escape(magic)}:{escape(mask)}:{launcher}:{flag_text}"


def default_arches() -> list[str]:
    host = os.uname().machine
    return [a for a in ENTRIES if host not in load(a).NATIVE_ON and host != a]


def default_launcher(preserve: bool) -> str:
    name = "usermode-binfmt-P" if preserve else "usermode-binfmt"
    beside = os.path.join(os.path.dirname(sys.executable), name)  # this environment's own
    found = beside if os.path.exists(beside) else (shutil.which(name) or beside)
    return os.path.abspath(found)


def main(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd not in ("print", "register", "unregister"):
        return _fail(f"unknown command {cmd!r} (print, register or unregister)")
    arches: list[str] | None = None
    persistent = credential = preserve = False
    launcher: str | None = None
    mount = MOUNT
    i = 0
    while i < len(rest):
        opt = rest[i]
        i += 1
        if opt == "--persistent":
            persistent = True
        elif opt == "--credential":
            credential = True
        elif opt == "--preserve-argv0":
            preserve = True
        elif opt in ("--arch", "--launcher", "--mount"):
            if i >= len(rest):
                return _fail(f"{opt} needs a value")
            val = rest[i]
            i += 1
            if opt == "--arch":
                arches = [a for a in val.split(",") if a]
                bad = [a for a in arches if a not in ENTRIES]
                if bad:
                    return _fail(f"unknown arch {bad[0]!r} (one of {', '.join(ENTRIES)})")
            elif opt == "--launcher":
                launcher = os.path.abspath(val)
            else:
                mount = val
        else:
            return _fail(f"unknown option {opt!r} (see usermode binfmt --help)")
    chosen = arches if arches is not None else default_arches()
    if cmd == "unregister":
        for arch in chosen:
            entry = os.path.join(mount, f"usermode-{arch}")
            if os.path.exists(entry):
                try:
                    with open(entry, "w") as f:
                        f.write("-1")
                except OSError as e:
                    return _fail(f"cannot unregister {arch}: {e.strerror}")
        return 0
    exe = launcher or default_launcher(preserve)
    lines = [line(a, exe, flags(persistent, credential, preserve)) for a in chosen]
    if cmd == "print":
        sys.stdout.write("".join(x + "\n" for x in lines))
        return 0
    if not os.path.exists(os.path.join(mount, "register")):
        return _fail(f"{mount}/register not found: mount binfmt_misc there first "
                     f"(mount -t binfmt_misc binfmt_misc {mount})")
    for arch, text in zip(chosen, lines, strict=True):
        if os.path.exists(os.path.join(mount, f"usermode-{arch}")):
            continue  # already there: registering twice is EEXIST
        try:
            with open(os.path.join(mount, "register"), "w") as f:
                f.write(text)
        except OSError as e:
            return _fail(f"cannot register {arch}: {e.strerror}")
    return 0


def _fail(msg: str) -> int:
    sys.stderr.write(f"usermode: binfmt: {msg}\n")
    return 2


def launcher_main() -> None:
    """`usermode-binfmt PATH ARGS...`: what binfmt_misc runs without the P flag (the
    program's argv[0] is lost: the path stands for it)."""
    from usermode.cli.run import run_command

    args = sys.argv[1:]
    if not args:
        sys.stderr.write("usermode-binfmt: run by binfmt_misc with the program's path\n")
        os._exit(2)
    status = run_command(["--", *args])
    sys.stdout.flush()
    os._exit(status)


def launcher_p_main() -> None:
    """`usermode-binfmt-P PATH ARGV0 ARGS...`: the P flag's layout."""
    from usermode.cli.run import run_command

    args = sys.argv[1:]
    if len(args) < 2:
        sys.stderr.write("usermode-binfmt-P: run by binfmt_misc with PATH ARGV0 ARGS...\n")
        os._exit(2)
    status = run_command(["-0", args[1], "--", args[0], *args[2:]])
    sys.stdout.flush()
    os._exit(status)
