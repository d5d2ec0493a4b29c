"""strace's syscall classes for -e trace=%file,%network,...: derived from the registry's
argument kinds where a kind says it (a path argument: %file; an fd: %desc), listed where
it does not."""

from __future__ import annotations

from functools import cache

from syscalls.linux import ROWS

NETWORK = frozenset({
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    "setsockopt", "getsockopt", "shutdown", "send", "recv", "socketcall"})
PROCESS = frozenset({
    "clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
    "waitid", "waitpid", "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "pidfd_open", "pidfd_send_signal", "unshare", "setns"})
SIGNAL = frozenset({
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigreturn", "rt_sigsuspend",
    "rt_sigpending", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "sigaltstack", "kill", "tkill", "tgkill", "signalfd", "signalfd4",
    "pause", "sigaction", "sigprocmask", "sigsuspend", "sigpending", "signal",
    "pidfd_send_signal"})
MEMORY = frozenset({
    "mmap", "mmap2", "old_mmap", "munmap", "mprotect", "brk", "mremap", "madvise", "msync",
    "mlock", "mlock2", "munlock", "mlockall", "munlockall", "mincore", "remap_file_pages",
    "pkey_mprotect", "shmat", "shmdt", "memfd_create", "membarrier", "mbind",
    "set_mempolicy", "get_mempolicy", "process_madvise"})

IPC = frozenset({
    "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl"})


@cache
def classes() -> dict[str, frozenset[str]]:
    rows = ROWS
    file = frozenset(n for n, r in rows.items() if any(a.split(":")[0] == "path"
                                                       for a in r.args))
    desc = frozenset(n for n, r in rows.items() if (r.args and r.args[0].split(":")[0] == "fd")
                     or r.ret == "fd") | NETWORK - {"socketcall"}
    return {"file": file, "desc": desc, "network": NETWORK, "process": PROCESS,
            "signal": SIGNAL, "memory": MEMORY, "ipc": IPC}


def expand_set(value: str) -> frozenset[str]:
    """A -e trace= value: names and %classes, comma-separated; a leading `!` inverts it
    (everything else); `all` and `none`. Raises ValueError for an unknown class."""
    invert = value.startswith("!")
    if invert:
        value = value[1:]
    names: set[str] = set()
    every = set(ROWS) | {n for c in classes().values() for n in c}
    for item in filter(None, value.split(",")):
        if item == "all":
            names |= every
        elif item == "none":
            continue
        elif item.startswith("%"):
            cls = classes().get(item[1:])
            if cls is None:
                raise ValueError(f"unknown syscall class {item} "
                                 f"(one of %{', %'.join(sorted(classes()))})")
            names |= cls
        else:
            names.add(item)
    return frozenset(every - names if invert else names)
