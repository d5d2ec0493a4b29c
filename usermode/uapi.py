"""Linux's user-space ABI constants, in the kernel's generic numbering (the x86_64 host's).

Each value is stated here once; the ABI layer (`syscalls/abi/`) converts an arch that numbers
them differently (mips) at the boundary, so everything inside works in these. Imports
nothing of ours: any layer may use it.
"""

from __future__ import annotations

# ---- signals ------------------------------------------------------------------------------
SIGINT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL = 2, 4, 5, 6, 7, 8, 9
SIGSEGV, SIGPIPE, SIGCHLD, SIGCONT, SIGSTOP = 11, 13, 17, 18, 19
SIGTTOU, SIGXFSZ = 22, 25
SIGRTMIN = 32
# the signals a CPU fault raises (si_addr is the faulting address)
FAULT_SIGNALS = frozenset({SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV})
DEFAULT_IGNORE = frozenset({17, 18, 23, 28})  # SIGCHLD SIGCONT SIGURG SIGWINCH
DEFAULT_STOP = frozenset({19, 20, 21, 22})  # SIGSTOP SIGTSTP SIGTTIN SIGTTOU
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))

SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SA_NOCLDSTOP, SA_SIGINFO, SA_ONSTACK, SA_RESTART = 0x1, 0x4, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND, SA_RESTORER = 0x40000000, 0x80000000, 0x04000000
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
SI_USER, SI_QUEUE, SI_TIMER, SI_ASYNCIO, SI_TKILL = 0, -1, -2, -4, -6
POLL_IN, POLL_HUP = 1, 6  # an I/O signal's si_codes (POLL_IN ... POLL_HUP)
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6

# ---- memory -------------------------------------------------------------------------------
PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4

# ---- clone --------------------------------------------------------------------------------
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PIDFD, CLONE_VFORK, CLONE_THREAD = 0x1000, 0x4000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x80000, 0x100000, 0x200000
CLONE_CHILD_SETTID = 0x1000000

# ---- files --------------------------------------------------------------------------------
O_CLOEXEC = 0x80000
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_DUPFD_CLOEXEC = 1030
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
UIO_MAXIOV = 1024  # the most iovecs one readv/writev/sendmsg takes

# ---- memory (PROT_* above) ----------------------------------------------------------------
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 0x1, 0x2, 0x3
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_NORESERVE = 0x4000
MAP_FIXED_NOREPLACE = 0x100000
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000
MADV_DONTNEED, MADV_FREE = 4, 8

# ---- poll, sockets, System V IPC ----------------------------------------------------------
POLLIN, POLLPRI, POLLOUT = 0x1, 0x2, 0x4
MSG_NOSIGNAL = 0x4000
IPC_64 = 0x100

# ---- terminals (asm-generic/ioctls.h) -----------------------------------------------------
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TCSBRK, TCXONC, TCFLSH, TIOCEXCL, TIOCNXCL = 0x5409, 0x540A, 0x540B, 0x540C, 0x540D
TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCOUTQ, TIOCSTI = 0x540E, 0x540F, 0x5410, 0x5411, 0x5412
TIOCGWINSZ, TIOCSWINSZ, TIOCMGET, TIOCMSET = 0x5413, 0x5414, 0x5415, 0x5418
FIONREAD, FIONBIO, TIOCNOTTY, TIOCSETD, TIOCGETD = 0x541B, 0x5421, 0x5422, 0x5423, 0x5424
TCSBRKP, TIOCGSID, TIOCVHANGUP = 0x5425, 0x5429, 0x5437
TCGETS2, TCSETS2, TCSETSW2, TCSETSF2 = 0x802C542A, 0x402C542B, 0x402C542C, 0x402C542D
TIOCGPTN, TIOCSPTLCK, TIOCGEXCL, TIOCGPTPEER = 0x80045430, 0x40045431, 0x80045440, 0x5441
TIOCGLCKTRMIOS, TIOCSLCKTRMIOS = 0x5456, 0x5457

# ---- time ---------------------------------------------------------------------------------
NSEC_PER_SEC = 1_000_000_000
