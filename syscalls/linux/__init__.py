"""Handler families; importing this package registers every row."""

from syscalls.linux import (  # noqa: F401
    arm,
    epoll,
    fs_fd,
    fs_path,
    fs_rw,
    fs_stat,
    futex,
    ids,
    info,
    mm,
    poll,
    process,
    signal,
    signalfd,
    socket,
    thread,
    time,
    tty,
    x86,
    xattr,
)
