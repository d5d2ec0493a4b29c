"""clone, clone3 (threads; new processes go to process.py), exit, exit_group, gettid,
set_tid_address, set/get_robust_list, sched_yield: guest threads' life cycle. The threads
themselves are usermode.sched's."""

from __future__ import annotations

import errno

from syscalls.registry import PARTIAL, syscall
from usermode.kernel.errors import Errno, Park
from usermode.uapi import (
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_PARENT_SETTID,
    CLONE_PIDFD,
    CLONE_SETTLS,
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VM,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

THREAD_FLAGS = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND
CLONE_ARGS_SIZE_VER0 = 64


def _spawn(p: Process, flags: int, sp: int, ptid: int, ctid: int, tls: int) -> int:
    """Create a thread (checks done, called outside the hook). Returns the new tid."""
    if flags & CLONE_THREAD == 0:  # a new process (fork, vfork, posix_spawn's VM|VFORK)
        from syscalls.linux.process import fork_process

        return fork_process(p, flags, sp, ptid, ctid, tls)
    if flags & THREAD_FLAGS != THREAD_FLAGS:
        raise Errno(errno.EINVAL)  # THREAD needs SIGHAND, SIGHAND needs VM
    sched = p.sched
    a = p.arch
    tid = sched.new_tid()
    tid_bytes = tid.to_bytes(4, p.abi.byteorder)
    if flags & CLONE_PARENT_SETTID:
        p.mem.write(ptid, tid_bytes)
    if flags & CLONE_CHILD_SETTID:
        p.mem.write(ctid, tid_bytes)
    regs = [(a.SYSCALL_RET_REG, 0)]
    if a.SYSCALL_ERR_REG is not None:
        regs.append((a.SYSCALL_ERR_REG, 0))  # mips: a3 = 0, no error
    if sp:
        regs.append((a.REG_SP_ID, sp))
    if flags & CLONE_SETTLS:
        from syscalls.linux.x86 import tls_regs

        regs.extend(tls_regs(p, tls))
    t = sched.spawn(tid, tuple(regs))
    if flags & CLONE_CHILD_CLEARTID:
        t.clear_child_tid = ctid
    return tid


@syscall("clone", args=("ulong:clone_flags", "ptr", "ptr", "ulong", "ulong"), support=PARTIAL,
         note="threads (CLONE_VM|CLONE_THREAD|CLONE_SIGHAND, SETTLS, PARENT_SETTID, "
              "CHILD_SETTID, CHILD_CLEARTID); new processes by host fork")
def sys_clone(p: Process, flags: int, sp: int, ptid: int, a3: int, a4: int) -> int:
    if p.abi.clone_sp_first:
        flags, sp = sp, flags
    tls, ctid = (a3, a4) if p.abi.clone_backwards else (a4, a3)
    flags &= 0xFFFFFFFF
    if flags & CLONE_THREAD and flags & THREAD_FLAGS != THREAD_FLAGS:
        raise Errno(errno.EINVAL)
    raise Park.outside(lambda: _spawn(p, flags, sp, ptid, ctid, tls))


@syscall("clone3", args=("ptr", "size"), support=PARTIAL, note="as clone; no pidfd/set_tid")
def sys_clone3(p: Process, uargs: int, size: int) -> int:
    if size < CLONE_ARGS_SIZE_VER0 or size > 4096:
        raise Errno(errno.EINVAL)
    layout = p.abi.clone_args
    raw = p.mem.read(uargs, min(size, layout.size)).ljust(layout.size, b"\0")
    if size > layout.size and any(p.mem.read(uargs + layout.size, size - layout.size)):
        raise Errno(errno.E2BIG)
    ca = layout.unpack_dict(raw)
    flags, stack, stack_size = int(ca["flags"]), int(ca["stack"]), int(ca["stack_size"])
    if ca["set_tid"] or ca["set_tid_size"] or flags >> 32:
        raise Errno(errno.EINVAL)
    if (flags & CLONE_THREAD and flags & THREAD_FLAGS != THREAD_FLAGS) or flags & CLONE_PIDFD \
            or (stack == 0) != (stack_size == 0):
        raise Errno(errno.EINVAL)
    sp = stack + stack_size if stack else 0
    ptid, ctid, tls = int(ca["parent_tid"]), int(ca["child_tid"]), int(ca["tls"])
    raise Park.outside(lambda: _spawn(p, flags, sp, ptid, ctid, tls))


@syscall("exit_group", args=("int",))
def sys_exit_group(p: Process, status: int) -> int:
    p.exit(status)
    return 0


@syscall("exit", args=("int",))
def sys_exit(p: Process, status: int) -> int:
    """The calling thread ends; the last one ends the process."""
    if p.sched.live_threads() == 1:
        p.exit(status)
        return 0
    t = p.thread

    def leave() -> int:
        p.sched.exit_thread(t, status & 0xFF)
        return 0

    raise Park.outside(leave)


@syscall("gettid")
def sys_gettid(p: Process) -> int:
    return p.thread.tid


@syscall("set_tid_address", args=("ptr",))
def sys_set_tid_address(p: Process, tidptr: int) -> int:
    t = p.thread
    t.clear_child_tid = tidptr
    return t.tid


@syscall("set_robust_list", args=("ptr", "size"))
def sys_set_robust_list(p: Process, head: int, length: int) -> int:
    if length != 3 * p.abi.wordsize:
        raise Errno(errno.EINVAL)
    p.thread.robust_list = head
    return 0


@syscall("get_robust_list", args=("int", "ptr", "ptr"))
def sys_get_robust_list(p: Process, tid: int, head_ptr: int, len_ptr: int) -> int:
    t = p.thread if tid == 0 else p.sched.threads.get(tid)
    if t is None:
        raise Errno(errno.ESRCH)
    p.mem.write(head_ptr, p.abi.pack_word(t.robust_list))
    p.mem.write(len_ptr, p.abi.pack_word(3 * p.abi.wordsize))
    return 0


@syscall("sched_yield")
def sys_sched_yield(p: Process) -> int:
    if p.sched.runq or p.sched.waits.external:
        raise Park.outside(lambda: 0)  # the run loop then hands the CPU on
    return 0
