"""Linux's user-space ABI constants, in the kernel's generic numbering (the x86_64 host's).

Each value is stated here once; the ABI layer (`syscalls/abi/`) converts an arch that numbers
them differently (mips) at the boundary, so everything inside works in these. Imports
nothing of ours: any layer may use it.
"""

from __future__ import annotations

# ---- signals ------------------------------------------------------------------------------
SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL = 4, 5, 6, 7, 8, 9
SIGSEGV, SIGPIPE, SIGCHLD, SIGCONT, SIGSTOP = 11, 13, 17, 18, 19
SIGRTMIN = 32
# the signals a CPU fault raises (si_addr is the faulting address)
FAULT_SIGNALS = frozenset({SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV})
DEFAULT_IGNORE = frozenset({17, 18, 23, 28})  # SIGCHLD SIGCONT SIGURG SIGWINCH
DEFAULT_STOP = frozenset({19, 20, 21, 22})  # SIGSTOP SIGTSTP SIGTTIN SIGTTOU
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))

SIG_DFL, SIG_IGN = 0, 1
SA_NOCLDSTOP, SA_SIGINFO, SA_ONSTACK, SA_RESTART = 0x1, 0x4, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND, SA_RESTORER = 0x40000000, 0x80000000, 0x04000000
SS_ONSTACK, SS_DISABLE = 1, 2
SI_USER, SI_QUEUE, SI_TIMER, SI_ASYNCIO, SI_TKILL = 0, -1, -2, -4, -6
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6

# ---- memory -------------------------------------------------------------------------------
PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
