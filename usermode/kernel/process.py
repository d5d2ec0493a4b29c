"""One emulated process: its engine, address space, syscall table and exec/run cycle."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from loaders import stack as auxv
from loaders.elf import ElfError, ElfFile, read_elf
from loaders.image import LoadedImage, choose_bias, load_image
from syscalls.abi import Abi
from syscalls.abi import get as get_abi
from syscalls.dispatch import Dispatcher
from usermode import arch as archmod
from usermode.engine.core import Engine
from usermode.kernel.children import ChildWatch
from usermode.kernel.fatal import die, ignored_at_start
from usermode.kernel.fdtable import FdTable
from usermode.kernel.memory import PROT_R, PROT_W, PROT_X, AddressSpace, page_down
from usermode.kernel.paths import Paths, default_sysroot
from usermode.kernel.sched import Scheduler, Thread
from usermode.kernel.signals import IGNORED, Action
from usermode.loop.aio import EventLoop

if TYPE_CHECKING:
    from usermode.trace.tracer import TraceOptions, Tracer


class UsageError(Exception):
    """A problem with what the user asked us to run: (message, exit status)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Options:
    """What the command line (or the API) asks of one run."""

    def __init__(self) -> None:
        self.argv0: str | None = None
        self.stack_size = 8 << 20
        self.sysroot: str | None = None
        self.strace = False
        self.trace: TraceOptions | None = None  # `usermode strace` (or -strace): what to trace
        self.log_file: str | None = None
        self.uname_release: str | None = None  # -r / QEMU_UNAME
        self.warn_unsupported = False
        self.debug: set[str] = set()
        self.quantum_ns = 10_000_000  # preemption time slice while several threads compete
        self.poll_max_ns: int | None = None  # None: the loop's default (0 on one CPU)
        self.poll_grow = 2
        self.poll_shrink = 2  # 0: QEMU's reset-to-0
        self.poll_fds = False  # poll fd readiness in the polling window too
        self.stats = False  # print the scheduler's and the loop's counters at exit
        # what an execve carries into the next image: ignored signals and the caller's mask
        self.exec_ignored: set[int] | None = None
        self.exec_sigmask = 0


class Process:
    def __init__(self, path: str, argv: list[str], opts: Options) -> None:
        self.opts = opts
        self.exe_path = os.path.abspath(path)
        self.argv = argv
        self.exit_status: int | None = None
        self.pid = os.getpid()
        self.elf = self._read(path)
        self.fds = FdTable()
        self.paths = Paths(self.exe_path, self.pid, opts.sysroot or default_sysroot(
            self.elf.arch, self.elf.interp))
        self.sigactions: dict[int, Action] = {
            s: IGNORED for s in ignored_at_start(opts.exec_ignored)}
        self.host_dispositions: dict[int, int] = {}  # signals.HOST_*: what the host was told
        self.children = ChildWatch(self)
        self.vfork_release: int | None = None  # a vfork child's hold on its waiting parent
        self.comm = os.fsencode(os.path.basename(argv[0] if argv else path))[:15]
        try:
            self.arch: ModuleType = archmod.load(self.elf.arch)
        except KeyError:
            raise UsageError(f"{path}: guest architecture {self.elf.arch} is not supported yet",
                             126) from None
        self.abi: Abi = get_abi(self.elf.arch)
        self.abi_time64: Abi = self.abi.with_time64() if self.abi.wordsize == 4 else self.abi
        self.engine = Engine(self.arch)
        self.sched = Scheduler(self, quantum_ns=opts.quantum_ns, loop_factory=self._new_loop,
                               poll_fds=opts.poll_fds)
        self.sched.current.sigmask = opts.exec_sigmask
        a = self.arch
        arena_lo = a.STACK_TOP - a.ARENA_SIZE
        self.mem = AddressSpace(self.engine.uc, arena_lo=arena_lo, arena_hi=a.STACK_TOP,
                                mmap_top=page_down(a.STACK_TOP - max(opts.stack_size, 128 << 20)),
                                task_size=a.TASK_SIZE, region_perms=self.engine.cpu_tlb)
        self.dispatcher = Dispatcher(
            self.elf.arch, self.abi, self, warn_unsupported=opts.warn_unsupported or opts.strace)
        self.dispatch: Callable[[int, list[int]], int] = self.dispatcher.call
        self.tracer: Tracer | None = None  # set by the tracer itself
        self.api_hooks: list[object] = []  # the Python API's address hooks, kept alive
        if opts.strace or opts.trace is not None or "strace" in opts.debug:
            from usermode.trace.tracer import TraceOptions, Tracer

            if opts.trace is None:  # qemu's -strace: the defaults, into the -D file
                opts.trace = TraceOptions(output=opts.log_file)
            self.dispatch = Tracer(self, self.dispatcher, opts.trace)
        self.engine.install(self.dispatch, self.abi.mask, self.mem.tlb_fill)
        if "in_asm" in opts.debug:
            from usermode.trace.debug import install_in_asm

            install_in_asm(self, self._log_fd())
        self.image: LoadedImage | None = None
        self._sigpage: int | None = None
        self.entry = 0

    def _new_loop(self) -> EventLoop:
        o = self.opts
        loop = EventLoop(poll_max_ns=o.poll_max_ns, poll_grow=o.poll_grow,
                         poll_shrink=o.poll_shrink)
        if o.stats:
            loop.keep_histograms()
        return loop

    def _log_fd(self) -> int:
        """Where -d output goes: the -D file, else (a private dup of) stderr."""
        import fcntl

        if self.opts.log_file:
            fd = os.open(self.opts.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND |
                         os.O_CLOEXEC, 0o644)
        else:
            fd = os.dup(2)
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 900)
        os.close(fd)
        self.fds.reserved.add(high)
        return high

    @staticmethod
    def _read(path: str) -> ElfFile:
        try:
            return read_elf(path)
        except FileNotFoundError:
            raise UsageError(f"{path}: No such file or directory", 127) from None
        except IsADirectoryError:
            raise UsageError(f"{path}: Is a directory", 126) from None
        except PermissionError:
            raise UsageError(f"{path}: Permission denied", 126) from None
        except OSError as e:
            raise UsageError(f"{path}: {e.strerror}", 126) from None
        except ElfError as e:
            raise UsageError(f"{path}: {e}", 126) from None

    # ---- exec --------------------------------------------------------------------------------
    def load(self, env: dict[str, str]) -> None:
        a, elf = self.arch, self.elf
        interp = self._read_interp() if elf.interp else None
        bias = choose_bias(elf, a.ELF_ET_DYN_BASE)
        try:
            img = load_image(self.mem, elf, bias, reserve_brk=True)
            self.mem.set_brk_start(img.hi)
            base, entry = 0, img.entry
            if interp is not None:
                # the interpreter goes where Linux's mmap would put it: top-down in the arena
                span = (interp.max_vaddr - interp.min_vaddr + 0xFFF) & ~0xFFF
                ibias = choose_bias(interp, self.mem.find_free(span + 0x10000)) \
                    if interp.is_pie else 0
                iimg = load_image(self.mem, interp, ibias, reserve_brk=False)
                base, entry = iimg.lo, iimg.entry
        except ElfError as e:
            raise UsageError(f"{elf.path}: {e}", 126) from None
        self.image = img
        self.code_mapped(img.lo, img.hi)
        if interp is not None:
            self.code_mapped(iimg.lo, iimg.hi)
        stack_prot = PROT_R | PROT_W | (PROT_X if elf.exec_stack else 0)
        size = self.opts.stack_size
        self.mem.map(a.STACK_TOP - size, size, stack_prot, fixed=True, name="[stack]")
        vec = [
            (auxv.AT_HWCAP, a.HWCAP), (auxv.AT_PAGESZ, 4096), (auxv.AT_CLKTCK, 100),
            (auxv.AT_PHDR, img.phdr), (auxv.AT_PHENT, elf.phentsize), (auxv.AT_PHNUM, elf.phnum),
            (auxv.AT_BASE, base), (auxv.AT_FLAGS, 0), (auxv.AT_ENTRY, img.entry),
            (auxv.AT_UID, os.getuid()), (auxv.AT_EUID, os.geteuid()), (auxv.AT_GID, os.getgid()),
            (auxv.AT_EGID, os.getegid()), (auxv.AT_SECURE, 0), (auxv.AT_HWCAP2, a.HWCAP2),
            (auxv.AT_MINSIGSTKSZ, a.MINSIGSTKSZ),
        ]
        argv = [os.fsencode(x) for x in self.argv]
        envp = [os.fsencode(f"{k}={v}") for k, v in env.items()]
        sp, blob = auxv.build_initial_stack(
            a.STACK_TOP, wordsize=a.WORDSIZE, little_endian=a.LITTLE_ENDIAN, argv=argv,
            envp=envp, auxv=vec, execfn=os.fsencode(self.exe_path), platform=a.PLATFORM,
            random16=os.urandom(16))
        if len(blob) > size - 4096:
            raise UsageError(f"{self.argv[0]}: arguments and environment do not fit in the "
                             f"{size}-byte stack (see -s)", 126)
        self.mem.write(sp, blob, force=True)
        self.envp = envp
        self.stack_start = sp
        # the auxv as the guest sees it (with AT_RANDOM/EXECFN/PLATFORM), for /proc/self/auxv
        words = self.abi.unpack_words(blob[:len(blob) - len(blob) % a.WORDSIZE])
        i = 1 + len(argv) + 1 + len(envp) + 1
        self.auxv_final: list[tuple[int, int]] = []
        while i + 1 < len(words):
            self.auxv_final.append((words[i], words[i + 1]))
            if words[i] == auxv.AT_NULL:
                break
            i += 2
        eng = self.engine
        if getattr(a, "TLS_KIND", "") == "gdt":
            from syscalls.linux.x86 import setup_gdt

            setup_gdt(self)
        eng.set_reg(a.REG_SP_ID, sp)
        for reg, val in a.ENTRY_REGS:
            eng.set_reg(reg, val)
        self.entry = entry
        if "page" in self.opts.debug:
            from usermode.trace.debug import print_page_map

            print_page_map(self, self._log_fd())

    def _read_interp(self) -> ElfFile:
        """The ELF interpreter, looked up through the sysroot (exit 127 if missing)."""
        assert self.elf.interp is not None
        guest = os.fsencode(self.elf.interp)
        host = os.fsdecode(self.paths.to_host(guest))
        where = os.fsdecode(self.paths.sysroot) if self.paths.sysroot else "the host (no -L)"
        try:
            interp = read_elf(host)
        except (FileNotFoundError, NotADirectoryError):
            raise UsageError(f"{self.argv[0]}: ELF interpreter {self.elf.interp} not found "
                             f"(searched {where}; give a sysroot with -L)", 127) from None
        except OSError as e:
            raise UsageError(f"{self.argv[0]}: ELF interpreter {self.elf.interp}: "
                             f"{e.strerror}", 126) from None
        except ElfError as e:
            raise UsageError(f"{self.argv[0]}: ELF interpreter {host}: {e}", 126) from None
        if interp.arch != self.elf.arch:
            raise UsageError(f"{self.argv[0]}: ELF interpreter {host} is {interp.arch}, "
                             f"not {self.elf.arch} (wrong sysroot?)", 126)
        return interp

    # ---- run ---------------------------------------------------------------------------------
    def code_mapped(self, lo: int, hi: int) -> None:
        """Executable code may have appeared in [lo, hi) (an ELF image, an mmap or mprotect
        with PROT_EXEC): let the engine's block splitter see it (mips only)."""
        sp = self.engine.splitter
        if sp is None:
            return
        for v in list(self.mem.vmas):
            if v.prot & PROT_X and v.start < hi and v.end > lo:
                a, b = max(v.start, lo), min(v.end, hi)
                sp.add(self.mem.view_for_loader(a, b - a), a)

    def exit(self, status: int) -> None:
        """exit_group: remember the status and stop the engine after this hook returns."""
        self.exit_status = status & 0xFF
        self.engine.uc.emu_stop()

    def die_by_signal(self, signo: int) -> None:
        """End the emulator with the guest's fatal signal (default action of a sent signal)."""
        if self.tracer is not None:
            self.tracer.killed(signo)
        die(signo)

    def close(self) -> None:
        """Tear the guest image down (execve): engine, memory, scheduler."""
        self.sched.close()
        self.mem.release()
        self.engine.uc.close()

    def signal_trampoline(self, code: bytes) -> int:
        """A page of ours holding `code` (the rt_sigreturn call), mapped on first use."""
        if self._sigpage is None:
            self._sigpage = self.mem.map(0, 4096, PROT_R | PROT_X, name="[sigpage]")
            self.mem.write(self._sigpage, code, force=True)
        return self._sigpage

    @property
    def thread(self) -> Thread:
        """The guest thread whose syscall is being handled."""
        return self.sched.current

    def run(self) -> int:
        return self.sched.run(self.entry)
