"""The engine: one Unicorn instance, its hooks, and the run loop around `emu_start`.

No Python runs while the guest computes: the only hooks installed in a normal run are the
syscall entry, CPU exceptions and the virtual-TLB fill (one call per TLB miss).
A handler that would block raises Park; the hook stops the engine and the loop finishes
the operation outside any hook, then resumes the guest.
"""

from __future__ import annotations

import ctypes

from usermode.engine import capi
from usermode.engine.native import NATIVE, NativeStopper
from usermode.uapi import SIGBUS, SIGILL, SIGSEGV

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from usermode.arch.spec import ArchSpec
    from usermode.engine.preempt import BlockStopper
    from usermode.engine.tbsplit import TbSplitter

UNTIL = 0xFFFFFFFFFFFFFFFF  # never reached: we always stop explicitly


_ERR_SIGNALS = {
    capi.UC_ERR_READ_UNMAPPED: SIGSEGV, capi.UC_ERR_WRITE_UNMAPPED: SIGSEGV,
    capi.UC_ERR_FETCH_UNMAPPED: SIGSEGV, capi.UC_ERR_READ_PROT: SIGSEGV,
    capi.UC_ERR_WRITE_PROT: SIGSEGV, capi.UC_ERR_FETCH_PROT: SIGSEGV,
    capi.UC_ERR_EXCEPTION: SIGSEGV, capi.UC_ERR_INSN_INVALID: SIGILL,
    capi.UC_ERR_READ_UNALIGNED: SIGBUS, capi.UC_ERR_WRITE_UNALIGNED: SIGBUS,
    capi.UC_ERR_FETCH_UNALIGNED: SIGBUS,
}


# What a sigreturn returns when it has restored every register itself (mips: v0 and a3 are
# the interrupted code's, and the error-flag convention must not touch them).
REGISTERS_RESTORED = -(1 << 80)


class Suspend(Exception):
    """Raised by the syscall callback: stop the engine once the hook returns and leave the
    exception in `Engine.parked` for the run loop, which finishes the call outside any hook
    (the kernel's `Park` is one)."""


class GuestFault(Exception):
    """The guest hit a fatal CPU fault: `signo` at `pc` (and `addr` for memory faults)."""

    def __init__(self, signo: int, pc: int, addr: int | None = None, code: str = "") -> None:
        super().__init__(signo, pc, addr)
        self.signo, self.pc, self.addr, self.code = signo, pc, addr, code


class Engine:
    def __init__(self, arch: ArchSpec) -> None:
        self.arch = arch
        self.uc = capi.Uc(arch.UC_ARCH, arch.UC_MODE, arch.CPU_MODEL)
        if arch.PAGE_SIZE_CTL:
            self.uc.set_page_size(4096)
        # Our TLB fill callback maps guest pages and enforces their protections. Not on
        # mips: Unicorn 2.1.4 restores the CPU state before calling it, and a fill for a
        # load or store in a branch delay slot leaves the delay-slot flags set, so the
        # next block is decoded as a delay slot (wrong branches, or SIGILL). There the
        # CPU's own TLB runs (kernel mode with Status.ERL maps user addresses 1:1) and
        # Unicorn's region permissions carry the protections (AddressSpace.region_perms).
        self.cpu_tlb = arch.CPU_TLB
        if not self.cpu_tlb:
            self.uc.set_tlb_mode(capi.UC_TLB_VIRTUAL)
        # Exits mode with no exits: emu_start ignores `until`. Without it, Unicorn probes a
        # fetch at the `until` page after every emu_stop, a spurious TLB miss and error.
        self.uc.ctl_write(capi.UC_CTL_UC_USE_EXITS, ctypes.c_int(1))
        # why a debugger's hook stopped the run (usermode/gdb): read and cleared by its owner
        self.debug_event: tuple[str, int] | None = None
        self.parked: Suspend | None = None
        self.error: BaseException | None = None
        self.pending_signal: int | None = None
        self.stopper: BlockStopper | NativeStopper | None = None
        # the compiled core (engine/_native.c), unless it is not built or switched off
        self.core: Any = NATIVE.Core(self.uc.handle) if NATIVE is not None else None
        self._ret = ctypes.c_uint64()
        self._ret_ref = ctypes.byref(self._ret)
        self._tbit = arch.THUMB_CPSR_BIT  # arm: CPSR.T
        self.splitter: TbSplitter | None = None
        if arch.SPLIT_LONG_BLOCKS:
            from usermode.engine.tbsplit import TbSplitter

            self.splitter = TbSplitter(self)
        # mips o32: errors come back as a positive errno in v0 with a3 = 1 (a3 = 0: success)
        self._err_reg = arch.SYSCALL_ERR_REG
        self._max_errno = arch.SYSCALL_MAX_ERRNO
        self._flag = ctypes.c_uint64()
        self._flag_ref = ctypes.byref(self._flag)

    # ---- registers ---------------------------------------------------------------------------
    def pc(self) -> int:
        return self.uc.reg_read(self.arch.REG_PC_ID)

    def thumb(self) -> bool:
        """arm: the CPU is in Thumb state (CPSR.T)."""
        return bool(self._tbit and self.uc.reg_read(self.arch.THUMB_REG) & self._tbit)

    def resume_pc(self) -> int:
        """Where emu_start must resume: the PC, plus bit 0 in Thumb state on arm."""
        pc = self.uc.reg_read(self.arch.REG_PC_ID)
        return pc | 1 if self.thumb() else pc

    def syscall_insn_size(self) -> int:
        """Length of the syscall instruction just executed (a restart re-runs it)."""
        return 2 if self.thumb() else self.arch.SYSCALL_INSN_SIZE

    def set_reg(self, reg: int, value: int) -> None:
        self.uc.reg_write(reg, value)

    def reg(self, reg: int) -> int:
        return self.uc.reg_read(reg)

    def write_return(self, value: int, mask: int) -> None:
        if value == REGISTERS_RESTORED:
            return
        if self._err_reg is not None:
            failed = -self._max_errno <= value < 0
            self._flag.value = int(failed)
            capi.uc_reg_write(self.uc.handle, self._err_reg, self._flag_ref)
            if failed:
                value = -value
        self._ret.value = value & mask
        capi.uc_reg_write(self.uc.handle, self.arch.SYSCALL_RET_REG, self._ret_ref)

    # ---- hooks -------------------------------------------------------------------------------
    def install_native(self, dispatch: Callable[[int, list[int]], int], proc: object,
                       errnos: list[int], errno_type: type[BaseException]) -> None:
        """The syscall, exception and TLB-fill hooks in the compiled core: `dispatch(nr,
        args)` serves what its table (`set_syscall_table`) does not; handlers in the table
        are called as `fn(proc, *args)`; `errnos[host errno]` is the guest's number."""
        a = self.arch
        core = self.core
        core.configure((a.SYSCALL_NR_REG, *a.SYSCALL_ARG_REGS), a.SYSCALL_RET_REG,
                       -1 if self._err_reg is None else self._err_reg, self._max_errno,
                       8 * a.WORDSIZE, dispatch, proc, Suspend, errno_type, errnos)
        if a.SYSCALL_PC_AT_INSN:
            core.syscall_at_insn(a.REG_PC_ID, a.SYSCALL_INSN_SIZE, a.SYSCALL_NR_IMM)
        fix_reg, fix_mask = a.FILL_RESTORED_BITS or (0, 0)
        if a.SYSCALL_HOOK == "intr":
            assert a.SYSCALL_INTNO is not None
            core.install("intr", a.SYSCALL_INTNO, SIGILL, a.INTR_SIGNALS, not self.cpu_tlb,
                         fix_reg, fix_mask)
        else:
            core.install("insn", 0, SIGSEGV, a.INTR_SIGNALS, not self.cpu_tlb, fix_reg, fix_mask)

    def set_syscall_table(self, rows: list[tuple[int, Callable[..., int], int, bytes, int, int]]
                          ) -> None:
        """The compiled core's table: (nr, handler, argument count, conversions, fast kind,
        fd check)."""
        self.core.set_table(rows)

    def install(self, dispatch: Callable[[int, list[int]], int], mask: int,
                tlb_fill: Callable[[int, int, Any], bool]) -> None:
        """Install the syscall, exception and TLB-fill hooks in Python (no compiled core, or
        USERMODE_NATIVE=0). The syscall path is one closure with everything it touches bound
        locally: this is the per-syscall hot path."""
        a = self.arch
        uc = self.uc
        batch = uc.batch((a.SYSCALL_NR_REG, *a.SYSCALL_ARG_REGS))
        # Both C calls without argtypes checking, their arguments prebuilt as ctypes objects:
        # ~40% cheaper per call than the checked prototypes.
        read_batch = capi.raw_function(capi.uc_reg_read_batch)
        reg_write = capi.raw_function(capi.uc_reg_write)
        ids, ptrs, vals = batch._ids, batch._ptrs, batch.values
        count = ctypes.c_int(len(batch.values))
        handle_obj = ctypes.c_void_p(uc.handle)
        ret_reg = ctypes.c_int(a.SYSCALL_RET_REG)
        ret = self._ret
        ret_ref = self._ret_ref
        emu_stop = uc.emu_stop
        o32 = self._err_reg is not None
        err_reg = ctypes.c_int(self._err_reg or 0)
        max_errno = self._max_errno
        flag, flag_ref = self._flag, self._flag_ref
        at_insn = a.SYSCALL_PC_AT_INSN
        insn_size = a.SYSCALL_INSN_SIZE
        nr_imm = a.SYSCALL_NR_IMM
        pc_reg = a.REG_PC_ID

        def on_syscall() -> None:
            # Nothing may escape into ctypes, which would print and swallow it and leave the
            # guest a stale register: every failure stops the engine and is reported outside.
            try:
                read_batch(handle_obj, ids, ptrs, count)
                v = vals[:]
                if at_insn:  # s390x: PC is on the svc; past it, as on the other arches
                    pc = uc.reg_read(pc_reg)
                    uc.reg_write(pc_reg, pc + insn_size)
                    if nr_imm:
                        imm = uc.mem_read_byte(pc + 1)
                        if imm:
                            v[0] = imm
                r = dispatch(v[0], v[1:])
                if r.__class__ is not int:
                    raise TypeError(f"syscall {v[0]} returned {r!r}, not an int")
                if o32:
                    flag.value = failed = -max_errno <= r < 0
                    reg_write(handle_obj, err_reg, flag_ref)
                    if failed:
                        r = -r
                ret.value = r & mask
                reg_write(handle_obj, ret_reg, ret_ref)
            except Suspend as p:
                self.parked = p
                emu_stop()
            except BaseException as e:  # a bug of ours: stop cleanly, report outside
                self.error = e
                emu_stop()

        signals = a.INTR_SIGNALS
        if a.SYSCALL_HOOK == "intr":
            sys_intno = a.SYSCALL_INTNO

            def on_intr(_h: int, intno: int, _u: int) -> None:
                if intno == sys_intno:
                    on_syscall()
                else:
                    self.pending_signal = signals.get(intno, SIGILL)
                    emu_stop()

            uc.hook_add(capi.UC_HOOK_INTR, capi.HOOK_INTR(on_intr))
        else:
            def on_insn(_h: int, _u: int) -> None:
                on_syscall()

            def on_intr_x86(_h: int, intno: int, _u: int) -> None:
                self.pending_signal = signals.get(intno, SIGSEGV)
                emu_stop()

            uc.hook_add(capi.UC_HOOK_INSN, capi.HOOK_INSN_SYSCALL(on_insn), 1, 0,
                        ctypes.c_int(a.SYSCALL_INSN or 0))
            uc.hook_add(capi.UC_HOOK_INTR, capi.HOOK_INTR(on_intr_x86))

        restored = a.FILL_RESTORED_BITS

        def on_fill(_h: int, vaddr: int, access: int, entry: Any, _u: int) -> bool:
            try:
                ok = tlb_fill(vaddr, access, entry)
                if ok and restored is not None and access != capi.UC_MEM_FETCH:
                    # as the compiled core's undo_restored_state (engine/_native.c) does
                    reg, bits = restored
                    value = uc.reg_read(reg)
                    if value & bits:
                        uc.reg_write(reg, value & ~bits)
                return ok
            except BaseException as e:
                self.error = e
                return False

        if not self.cpu_tlb:
            uc.hook_add(capi.UC_HOOK_TLB_FILL, capi.HOOK_TLB_FILL(on_fill))

    def guarded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` for use as a Unicorn callback: an exception stops the engine and is raised
        by the run loop (ctypes would print and swallow it)."""

        def callback(*args: Any) -> Any:
            try:
                return fn(*args)
            except BaseException as e:
                if self.error is None:
                    self.error = e
                self.uc.emu_stop()
                return False

        return callback

    # ---- running -----------------------------------------------------------------------------
    def run_slice(self, pc: int, count: int = 0) -> int:
        """Run the guest from `pc` until something stops it, or for `count` instructions
        (a debugger's single step); returns the UC_ERR code."""
        self.parked = None
        self.pending_signal = None
        sp = self.splitter
        core = self.core
        if core is not None:
            if sp is not None:
                sp.before(pc)
            err = int(core.emu_start(pc, count) if count else core.emu_start(pc))
            self.parked = core.take_parked()
            if self.error is None:
                self.error = core.take_error()
            self.pending_signal = core.pending_signal or None
        elif sp is None:
            return self.uc.emu_start(pc, UNTIL, count)
        else:
            sp.before(pc)
            err = self.uc.emu_start(pc, UNTIL, count)
        if sp is None:
            return err
        if (not err and self.parked is None and self.pending_signal is None and not count
                and self.debug_event is None):
            sp.after()  # stopped at an exit: put the PC there (Unicorn's is stale)
        return err

    # ---- preemption ------------------------------------------------------------------------------
    def enable_preemption(self) -> BlockStopper | NativeStopper:
        """Install the native stop-on-request block hook (the compiled core's, or the one in
        engine/preempt.py)."""
        if self.stopper is None and self.core is not None:
            self.core.install_preempt()
            self.stopper = NativeStopper(self.core)
            self.uc.flush_tb()  # code translated so far lacks the hook call
        if self.stopper is None:
            from usermode.engine.preempt import BlockStopper

            self.stopper = BlockStopper()
            self.uc.hook_add(capi.UC_HOOK_BLOCK, self.stopper.callback,
                             user_data=self.stopper.flag_ptr)
            self.uc.flush_tb()  # code translated so far lacks the hook call
        return self.stopper

    # ---- contexts (green threads) --------------------------------------------------------------
    def new_context(self) -> ctypes.c_void_p:
        ctx = ctypes.c_void_p()
        capi.check(capi.uc_context_alloc(self.uc.handle, ctypes.byref(ctx)), "uc_context_alloc")
        return ctx

    def save_context(self, ctx: ctypes.c_void_p) -> None:
        capi.uc_context_save(self.uc.handle, ctx)

    def restore_context(self, ctx: ctypes.c_void_p) -> None:
        capi.uc_context_restore(self.uc.handle, ctx)

    @staticmethod
    def free_context(ctx: ctypes.c_void_p) -> None:
        capi.uc_context_free(ctx)

    def fault_signal(self, err: int) -> int:
        return _ERR_SIGNALS.get(err, SIGSEGV)
