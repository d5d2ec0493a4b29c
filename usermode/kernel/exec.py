"""exec: read a program, map its image (and its ELF interpreter's), build the initial stack
and set the start-up registers, as Linux's binfmt_elf does."""

from __future__ import annotations

import errno
import os

from loaders import stack as auxv
from loaders.elf import PF_R, PF_W, PF_X, ElfError, ElfFile, read_elf
from loaders.image import ImagePlan, choose_bias, plan_image
from usermode.host import syscalls as hostsys
from usermode.host.fds import SURVIVE_EXEC, forget_spares, ours
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_R, PROT_W, PROT_X, AddressSpace

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

BRK_RESERVE = 1 << 30  # host address space reserved after the image for brk growth

# exit statuses for our own errors (the guest's own status is passed through unchanged)
EXIT_USAGE = 2
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127
EXIT_INTERNAL = 70


class UsageError(Exception):
    """A problem with what the user asked us to run: (message, exit status)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def read_program(path: str) -> ElfFile:
    """The program's ELF headers; UsageError with exit status 127 or 126 when it cannot run."""
    try:
        return read_elf(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: No such file or directory", EXIT_NOT_FOUND) from None
    except IsADirectoryError:
        raise UsageError(f"{path}: Is a directory", EXIT_CANNOT_EXEC) from None
    except PermissionError:
        raise UsageError(f"{path}: Permission denied", EXIT_CANNOT_EXEC) from None
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror}", EXIT_CANNOT_EXEC) from None
    except ElfError as e:
        raise UsageError(f"{path}: {e}", EXIT_CANNOT_EXEC) from None


def _prot(flags: int) -> int:
    return (PROT_R if flags & PF_R else 0) | (PROT_W if flags & PF_W else 0) | \
        (PROT_X if flags & PF_X else 0)


def map_image(mem: AddressSpace, elf: ElfFile, plan: ImagePlan, *, reserve_brk: bool) -> None:
    """Map the plan's runs and copy the file's bytes in (bss stays zero)."""
    # One backing for the image and its brk, so that a heap buffer is one piece of host
    # memory: on 32-bit guests the mmap arena starts less than BRK_RESERVE above a low
    # image, and the reservation stops there.
    above = min((b.lo for b in mem.backings if b.lo >= plan.hi), default=plan.hi + BRK_RESERVE)
    if reserve_brk and not any(b.lo < plan.hi and plan.lo < b.hi for b in mem.backings):
        try:
            mem.add_backing(plan.lo, min(plan.hi + BRK_RESERVE, above))
        except (Errno, OSError) as e:
            raise ElfError(f"cannot reserve {plan.lo:#x}-{plan.hi:#x}: "
                           f"{os.strerror(e.errno or errno.ENOMEM)}") from None
    st = os.stat(elf.path)
    name = os.path.realpath(elf.path)
    for run in plan.runs:
        try:
            mem.map(run.start, run.length, _prot(run.flags), fixed=True, name=name,
                    offset=run.offset, dev=st.st_dev, ino=st.st_ino)
        except (Errno, OSError) as e:  # beyond the address space, more than memory holds...
            why = os.strerror(e.errno) if e.errno else str(e)
            raise ElfError(f"cannot map {run.length:#x} bytes at {run.start:#x}: {why}") from None
    fd = os.open(elf.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for c in plan.copies:
            if os.preadv(fd, [mem.view_for_loader(c.vaddr, c.size)], c.offset) != c.size:
                raise ElfError("segment beyond end of file")
    finally:
        os.close(fd)


def load_program(p: Process, env: dict[str, str]) -> None:
    """Map the program and its interpreter, build the stack, set the start-up registers."""
    a, elf = p.arch, p.elf
    interp = _read_interp(p) if elf.interp else None
    try:
        img = plan_image(elf, choose_bias(elf, a.ELF_ET_DYN_BASE))
        map_image(p.mem, elf, img, reserve_brk=True)
        p.mem.set_brk_start(img.hi)
        base, entry = 0, img.entry
        if interp is not None:
            # the interpreter goes where Linux's mmap would put it: top-down in the arena
            span = (interp.max_vaddr - interp.min_vaddr + 0xFFF) & ~0xFFF
            ibias = choose_bias(interp, p.mem.find_free(span + 0x10000)) \
                if interp.is_pie else 0
            iimg = plan_image(interp, ibias)
            map_image(p.mem, interp, iimg, reserve_brk=False)
            base, entry = iimg.lo, iimg.entry
    except ElfError as e:
        raise UsageError(f"{elf.path}: {e}", EXIT_CANNOT_EXEC) from None
    p.image = img
    p.code_mapped(img.lo, img.hi)
    if interp is not None:
        p.code_mapped(iimg.lo, iimg.hi)
    if a.KUSER_PAGE is not None:
        p.mem.map(a.KUSER_PAGE, 4096, PROT_R | PROT_X, fixed=True, name="[vectors]", kernel=True)
        for off, code in a.KUSER_HELPERS.items():
            p.mem.write(a.KUSER_PAGE + off, code, force=True)
    stack_prot = PROT_R | PROT_W | (PROT_X if elf.exec_stack else 0)
    size = p.opts.stack_size
    p.mem.map(a.STACK_TOP - size, size, stack_prot, fixed=True, name="[stack]")
    vec = [
        (auxv.AT_HWCAP, a.HWCAP), (auxv.AT_PAGESZ, 4096), (auxv.AT_CLKTCK, 100),
        (auxv.AT_PHDR, img.phdr), (auxv.AT_PHENT, elf.phentsize), (auxv.AT_PHNUM, elf.phnum),
        (auxv.AT_BASE, base), (auxv.AT_FLAGS, 0), (auxv.AT_ENTRY, img.entry),
        (auxv.AT_UID, os.getuid()), (auxv.AT_EUID, os.geteuid()), (auxv.AT_GID, os.getgid()),
        (auxv.AT_EGID, os.getegid()), (auxv.AT_SECURE, 0), (auxv.AT_HWCAP2, a.HWCAP2),
        (auxv.AT_MINSIGSTKSZ, a.MINSIGSTKSZ),
    ]
    argv = [os.fsencode(x) for x in p.argv]
    envp = [os.fsencode(f"{k}={v}") for k, v in env.items()]
    sp, blob = auxv.build_initial_stack(
        a.STACK_TOP, wordsize=a.WORDSIZE, little_endian=a.LITTLE_ENDIAN, argv=argv,
        envp=envp, auxv=vec, execfn=os.fsencode(p.exe_path), platform=a.PLATFORM,
        random16=os.urandom(16))
    if len(blob) > size - 4096:
        raise UsageError(f"{p.argv[0]}: arguments and environment do not fit in the "
                         f"{size}-byte stack (see -s)", EXIT_CANNOT_EXEC)
    p.mem.write(sp, blob, force=True)
    p.envp = envp
    p.stack_start = sp
    # the auxv as the guest sees it (with AT_RANDOM/EXECFN/PLATFORM), for /proc/self/auxv
    words = p.abi.unpack_words(blob[:len(blob) - len(blob) % a.WORDSIZE])
    i = 1 + len(argv) + 1 + len(envp) + 1
    p.auxv_final = []
    while i + 1 < len(words):
        p.auxv_final.append((words[i], words[i + 1]))
        if words[i] == auxv.AT_NULL:
            break
        i += 2
    eng = p.engine
    if a.TLS_KIND == "gdt":
        from usermode.arch.i386.tls import setup_gdt

        setup_gdt(p)
    eng.set_reg(a.REG_SP_ID, sp)
    for reg, val in a.ENTRY_REGS:
        eng.set_reg(reg, val)
    p.entry = entry


def _read_interp(p: Process) -> ElfFile:
    """The ELF interpreter, looked up through the sysroot (exit 127 if missing)."""
    assert p.elf.interp is not None
    guest = os.fsencode(p.elf.interp)
    host = os.fsdecode(p.paths.to_host(guest))
    where = os.fsdecode(p.paths.sysroot) if p.paths.sysroot else "the host (no -L)"
    try:
        interp = read_elf(host)
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"{p.argv[0]}: ELF interpreter {p.elf.interp} not found "
                         f"(searched {where}; give a sysroot with -L)", EXIT_NOT_FOUND) from None
    except OSError as e:
        raise UsageError(f"{p.argv[0]}: ELF interpreter {p.elf.interp}: "
                         f"{e.strerror}", EXIT_CANNOT_EXEC) from None
    except ElfError as e:
        raise UsageError(f"{p.argv[0]}: ELF interpreter {host}: {e}", EXIT_CANNOT_EXEC) from None
    if interp.arch != p.elf.arch:
        raise UsageError(f"{p.argv[0]}: ELF interpreter {host} is {interp.arch}, "
                         f"not {p.elf.arch} (wrong sysroot?)", EXIT_CANNOT_EXEC)
    return interp


def end_image(p: Process) -> None:
    """execve of a foreign program: the old image goes (engine, memory, threads), handled
    signals return to their default action, close-on-exec fds are closed; what the next
    image inherits (ignored signals, the caller's mask) is left in `p.opts`."""
    from usermode.kernel.signals import exec_reset

    reserved = set(p.fds.reserved)
    for timer in p.posix_timers:  # POSIX timers do not survive execve
        try:
            hostsys.syscall(hostsys.NR["timer_delete"], timer)
        except OSError:
            pass
    p.posix_timers.clear()
    p.opts.exec_ignored = exec_reset(p)
    p.opts.exec_sigmask = p.thread.sigmask
    p.close()
    close_on_exec(reserved)
    forget_spares()  # they were close-on-exec


def close_on_exec(reserved: set[int]) -> None:
    """Close the fds marked close-on-exec, as the kernel does during execve (and our own
    reserved ones: the next image makes its own)."""
    import fcntl

    for name in ours(lambda: os.listdir("/proc/self/fd")):
        fd = int(name)
        if (fd < 3 and fd not in reserved) or fd in SURVIVE_EXEC:
            continue
        try:
            if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC or fd in reserved:
                os.close(fd)
        except OSError:
            pass
