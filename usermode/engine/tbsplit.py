"""Keep Unicorn's mips translation blocks short.

Unicorn 2.1.4 crashes the host (in its MIPS TCG code generator) when one translation block
holds more than about 380 instructions, which a long branch-free stretch of code produces:
zig's libc has one of 936 in its allocator, and unrolled code can have more. A block ends
at a branch, at a page end, or at an exit address (exits mode), so this module places exits
every SPLIT instructions inside such stretches of executable mappings.

An exit stops the emulation, and after that stop Unicorn's MIPS PC still holds the start of
the slice. So a tiny code hook on the instruction before each exit records which exit is
reached; the run loop resumes there with that one exit lifted (starting at an exit would
stop at once) until the next slice. With an exit every 128 instructions, one lifted exit
still leaves blocks under 256.

Data in an executable segment (glibc's read-only data shares it) can look like a long
stretch; an exit there is never reached and costs nothing.
"""

from __future__ import annotations

from usermode.engine import capi
from usermode.engine.native import NATIVE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.engine.core import Engine

SPLIT = 128  # instructions between exits
LONG = 300  # stretches longer than this get exits


def ends_block(w: int) -> bool:
    """Branches, jumps, syscall, break: what ends a mips translation block (o32, r2)."""
    op = w >> 26
    if op == 0:
        return (w & 0x3F) in (0x08, 0x09, 0x0C, 0x0D)  # jr jalr syscall break
    if op in (1, 2, 3, 4, 5, 6, 7, 0x14, 0x15, 0x16, 0x17):
        return True
    return op == 0x11 and ((w >> 21) & 0x1F) == 8  # bc1*


def split_points(code: memoryview, base: int) -> list[int]:
    """Exit addresses for the long branch-free stretches of `code` (little-endian words)."""
    if NATIVE is not None:
        return NATIVE.split_points(code, base, SPLIT, LONG)  # type: ignore[no-any-return]
    return _split_points(code, base)


def _split_points(code: memoryview, base: int) -> list[int]:
    words = code[:len(code) & ~3].cast("I")
    out: list[int] = []
    run_start = 0
    nonzero = 0  # zero-filled stretches (padding) are not code
    i = 0
    n = len(words)
    while i <= n:
        if i == n or ends_block(words[i]):
            if i - run_start > LONG and nonzero > LONG // 2:
                out.extend(base + 4 * k for k in range(run_start + SPLIT, i - 8, SPLIT))
            run_start = i + 2  # past the delay slot
            nonzero = 0
            i += 2
            continue
        if words[i]:
            nonzero += 1
        i += 1
    return out


class TbSplitter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.exits: set[int] = set()
        self.lifted: int | None = None  # the exit a slice starts at, not armed during it
        self.hit: int | None = None
        self._hooked: set[int] = set()
        self._dirty = False

        def on_before_exit(_h: int, addr: int, _size: int, _u: int) -> None:
            target = addr + 4
            if target in self.exits and target != self.lifted:
                self.hit = target

        self._cb = capi.HOOK_CODE(engine.guarded(on_before_exit))

    def add(self, code: memoryview, base: int) -> None:
        new = [a for a in split_points(code, base) if a not in self.exits]
        if not new:
            return
        uc = self.engine.uc
        uc.remove_cache(base, base + len(code))
        for a in new:
            self.exits.add(a)
            if a - 4 not in self._hooked:
                uc.hook_add(capi.UC_HOOK_CODE, self._cb, a - 4, a - 4)
                self._hooked.add(a - 4)
        self._dirty = True

    def before(self, pc: int) -> None:
        self.hit = None
        lifted = pc if pc in self.exits else None
        if lifted != self.lifted or self._dirty:
            uc = self.engine.uc
            if self.lifted is not None:
                # code translated while it was lifted runs through it: translate anew
                uc.remove_cache(self.lifted - 4 * 2 * SPLIT, self.lifted + 4 * 2 * SPLIT)
            self.lifted = lifted
            self._dirty = False
            uc.set_exits(sorted(self.exits - {lifted} if lifted else self.exits))

    def after(self) -> None:
        if self.hit is not None:
            self.engine.uc.reg_write(self.engine.arch.REG_PC_ID, self.hit)


