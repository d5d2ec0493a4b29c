"""What the debugger adds to the engine: breakpoints, watchpoints and single steps, each a
Unicorn hook on exactly the addresses gdb asked for, so a run without them costs nothing.

Every hook stops the engine with `Engine.debug_event` saying why, before the instruction
at that address runs:
- a breakpoint: a code hook on its address;
- a single step: a code hook on every address while a step is under way; the stepped
  thread's first instruction runs, its next one stops (on mips a branch and its delay slot
  are one step);
- a watchpoint: a memory hook on its range. The hook runs before the access, when the
  registers in the CPU state are still those before the instruction (QEMU keeps every memory
  access restartable, as a fault there must be): they are saved there. By the time the
  engine stops, the access has happened (a load may have written its register, a store its
  memory), so the registers go back, a store is undone, and the instruction runs again,
  whole, as a single step with the watchpoints quiet. gdb then sees the new value, just
  after the instruction.
"""

from __future__ import annotations

from usermode.engine import capi
from usermode.kernel.errors import Errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.kernel.process import Process

WATCH_WRITE, WATCH_READ, WATCH_ACCESS = 2, 3, 4  # gdb's Z types
WATCH_NAMES = {WATCH_WRITE: b"watch", WATCH_READ: b"rwatch", WATCH_ACCESS: b"awatch"}


class Controls:
    """The breakpoints, watchpoints and stepping of one process image."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.eng = proc.engine
        self.breakpoints: dict[int, int] = {}  # address -> hook handle
        self.watchpoints: dict[tuple[int, int, int], list[int]] = {}  # (type, addr, len)
        self.skip: tuple[int, int] | None = None  # (tid, address): a breakpoint to pass once
        self.step_tid: int | None = None
        self.step_seen = False
        self.step_delay = False  # mips: the stepped instruction was a branch
        self.step_hook: int | None = None
        self.quiet = False  # watchpoints off while a watched instruction runs again
        self.watch_hit: tuple[int, int] | None = None  # (Z type, address) being finished
        self._undo: tuple[int, bytes] | None = None  # a watched store to take back
        self._before: object = None  # the registers as the watched instruction began
        self._on_code = capi.HOOK_CODE(self.eng.guarded(self._breakpoint))
        self._on_step = capi.HOOK_CODE(self.eng.guarded(self._step))
        self._on_mem = capi.HOOK_MEM(self.eng.guarded(self._access))
        self._mips = proc.arch.NAME == "mipsel"

    # ---- breakpoints
    def add_breakpoint(self, addr: int) -> None:
        if addr not in self.breakpoints:
            uc = self.eng.uc
            self.breakpoints[addr] = uc.hook_add(capi.UC_HOOK_CODE, self._on_code, addr, addr)
            uc.remove_cache(addr, addr + 1)  # code translated before lacks the hook

    def remove_breakpoint(self, addr: int) -> None:
        hh = self.breakpoints.pop(addr, None)
        if hh is not None:
            self.eng.uc.hook_del(hh)
            self.eng.uc.remove_cache(addr, addr + 1)

    def _breakpoint(self, _h: int, addr: int, _size: int, _u: int) -> None:
        tid = self.proc.sched.current.tid
        if self.skip is not None and self.skip == (tid, addr):
            self.skip = None  # the one we stopped at: resuming runs it
            return
        self._stop("break", addr)

    # ---- single steps
    def start_step(self, tid: int) -> None:
        self.step_tid = tid
        self.step_seen = False
        self.step_delay = False
        if self.step_hook is None:
            self.step_hook = self.eng.uc.hook_add(capi.UC_HOOK_CODE, self._on_step, 1, 0)
            self.eng.uc.flush_tb()  # every block needs the hook now

    def end_steps(self) -> None:
        """Running on freely: the per-instruction hook goes, and the code that has it."""
        self.step_tid = None
        if self.step_hook is not None:
            self.eng.uc.hook_del(self.step_hook)
            self.step_hook = None
            self.eng.uc.flush_tb()

    def _step(self, _h: int, addr: int, _size: int, _u: int) -> None:
        if self.step_tid is None or self.proc.sched.current.tid != self.step_tid:
            return
        if not self.step_seen:
            self.step_seen = True
            if self._mips:
                self.step_delay = _mips_branch(self.proc, addr)
            return
        if self.step_delay:
            self.step_delay = False
            return
        self.step_tid = None
        self._stop("step", addr)

    # ---- watchpoints
    def add_watchpoint(self, kind: int, addr: int, length: int) -> None:
        key = (kind, addr, length)
        if key in self.watchpoints or length <= 0:
            return
        types = {WATCH_WRITE: (capi.UC_HOOK_MEM_WRITE,), WATCH_READ: (capi.UC_HOOK_MEM_READ,),
                 WATCH_ACCESS: (capi.UC_HOOK_MEM_READ, capi.UC_HOOK_MEM_WRITE)}[kind]
        uc = self.eng.uc
        self.watchpoints[key] = [uc.hook_add(t, self._on_mem, addr, addr + length - 1)
                                 for t in types]
        uc.flush_tb()  # loads and stores translated before would not call the hook
        uc.flush_tlb()

    def remove_watchpoint(self, kind: int, addr: int, length: int) -> None:
        for hh in self.watchpoints.pop((kind, addr, length), ()):
            self.eng.uc.hook_del(hh)
        if not self.watchpoints:
            self.eng.uc.flush_tb()

    def _access(self, _h: int, access: int, addr: int, size: int, _value: int, _u: int) -> None:
        if self.quiet or self.eng.debug_event is not None:
            return
        write = access == capi.UC_MEM_WRITE
        for kind, lo, length in self.watchpoints:
            if lo < addr + size and addr < lo + length and \
                    (kind == WATCH_ACCESS or (kind == WATCH_WRITE) == write):
                break
        else:
            return
        if self._before is None:
            self._before = self.eng.new_context()
        self.eng.save_context(self._before)  # type: ignore[arg-type]
        if write:  # the store happens when this returns: keep what it overwrites
            try:
                self._undo = (addr, self.proc.mem.read_for_debug(addr, size))
            except Errno:
                self._undo = None
        self.watch_hit = (kind, max(addr, lo))
        self._stop("watch", addr)

    def finish_access(self, tid: int) -> None:
        """The engine stopped at a watched access: take a store back and run the instruction
        again, whole, as a single step with the watchpoints quiet."""
        self.eng.restore_context(self._before)  # type: ignore[arg-type]
        if self._undo is not None:
            addr, old = self._undo
            self._undo = None
            self.proc.mem.write(addr, old, force=True)
        self.quiet = True
        self.start_step(tid)

    # ---- common
    def _stop(self, why: str, addr: int) -> None:
        eng = self.eng
        eng.debug_event = (why, addr)
        if self._mips and why != "watch":
            eng.uc.reg_write(self.proc.arch.REG_PC_ID, addr)  # its PC lags after a stop
        eng.uc.emu_stop()

    def clear(self) -> None:
        """Detach: every hook goes."""
        for addr in list(self.breakpoints):
            self.remove_breakpoint(addr)
        for key in list(self.watchpoints):
            self.remove_watchpoint(*key)
        self.end_steps()
        self.skip = None
        self.quiet = False
        self.watch_hit = None


def _mips_branch(proc: Process, addr: int) -> bool:
    from usermode.engine.tbsplit import ends_block

    try:
        word = int.from_bytes(proc.mem.read_for_debug(addr, 4), "little")
    except Errno:
        return False
    return ends_block(word) and (word >> 26 != 0 or (word & 0x3F) in (0x08, 0x09))
