"""Handler families; importing this package registers every row: `ROWS` is the full table."""

from syscalls.linux import (  # noqa: F401
    arm,
    compat32,
    epoll,
    fhandle,
    fs_data,
    fs_fd,
    fs_path,
    fs_rw,
    fs_stat,
    futex,
    ids,
    info,
    inotify,
    mm,
    mount,
    mqueue,
    ns,
    poll,
    process,
    sched,
    signal,
    signalfd,
    socket,
    sysvipc,
    thread,
    time,
    timers,
    tty,
    x86,
    xattr,
)
from syscalls.registry import ROWS

__all__ = ["ROWS"]
