"""System V IPC arguments as strace shows them: keys, get flags with the mode, ctl commands,
sembuf arrays, message buffers and the *_ds structs (read through the guest's layouts)."""

from __future__ import annotations

from collections.abc import Callable

from usermode.trace import render as R
from usermode.uapi import IPC_64

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

_GET = [(0o1000, "IPC_CREAT"), (0o2000, "IPC_EXCL"), (0o4000, "IPC_NOWAIT")]
_GET_SHM = [*_GET, (0o4000000, "SHM_HUGETLB"), (0o10000000, "SHM_NORESERVE")]
_SHMAT = [(0o10000, "SHM_RDONLY"), (0o20000, "SHM_RND"), (0o40000, "SHM_REMAP"),
          (0o100000, "SHM_EXEC")]
_MSG = [(0o4000, "IPC_NOWAIT"), (0o10000, "MSG_NOERROR"), (0o20000, "MSG_EXCEPT"),
        (0o40000, "MSG_COPY")]
_SEM_FLG = [(0o4000, "IPC_NOWAIT"), (0x1000, "SEM_UNDO")]
_COMMON = {0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO"}
SHM_CMDS = {**_COMMON, 11: "SHM_LOCK", 12: "SHM_UNLOCK", 13: "SHM_STAT", 14: "SHM_INFO",
            15: "SHM_STAT_ANY"}
SEM_CMDS = {**_COMMON, 11: "GETPID", 12: "GETVAL", 13: "GETALL", 14: "GETNCNT", 15: "GETZCNT",
            16: "SETVAL", 17: "SETALL", 18: "SEM_STAT", 19: "SEM_INFO", 20: "SEM_STAT_ANY"}
MSG_CMDS = {**_COMMON, 11: "MSG_STAT", 12: "MSG_INFO", 13: "MSG_STAT_ANY"}
_STAT_BY_KIND = {"shm": {2, 13, 15}, "sem": {2, 18, 20}, "msg": {2, 11, 13}}


def _key(v: int) -> str:
    return "IPC_PRIVATE" if v == 0 else hex(v & 0xFFFFFFFF)


def _octal(v: int) -> str:
    """C's %#03o."""
    return (f"0{v:o}" if v else "0").rjust(3, "0")


def _get_flags(v: int, table: list[tuple[int, str]]) -> str:
    flags = R.flags(v & ~0o777, table, "")
    return f"{flags}|{_octal(v & 0o777)}" if flags else _octal(v & 0o777)


def _cmd(v: int, names: dict[int, str]) -> str:
    text = names.get(v & ~IPC_64, str(v & ~IPC_64))
    return f"IPC_64|{text}" if v & IPC_64 else text


SCALARS: dict[str, Callable[[int, Process], str]] = {
    "ipc_key": lambda v, p: _key(v),
    "ipc_get": lambda v, p: _get_flags(v, _GET),
    "shm_get": lambda v, p: _get_flags(v, _GET_SHM),
    "shm_flags": lambda v, p: R.flags(v, _SHMAT),
    "msg_ipc_flags": lambda v, p: R.flags(v, _MSG),
    "shm_cmd": lambda v, p: _cmd(v, SHM_CMDS),
    "sem_cmd": lambda v, p: _cmd(v, SEM_CMDS),
    "msg_cmd": lambda v, p: _cmd(v, MSG_CMDS),
}


def is_stat(kind: str, cmd: int) -> bool:
    return cmd & ~IPC_64 in _STAT_BY_KIND[kind]


def is_set(cmd: int) -> bool:
    return cmd & ~IPC_64 == 1


def sembufs(p: Process, ptr: int, n: int) -> str:
    raw = p.mem.read(ptr, 6 * min(max(n, 0), 64))
    bo = p.abi.byteorder
    items = []
    for i in range(0, len(raw), 6):
        num = int.from_bytes(raw[i:i + 2], bo)
        op = int.from_bytes(raw[i + 2:i + 4], bo, signed=True)
        flg = int.from_bytes(raw[i + 4:i + 6], bo, signed=True) & 0xFFFF
        items.append(f"{{sem_num={num}, sem_op={op}, sem_flg={R.flags(flg, _SEM_FLG)}}}")
    return "[" + ", ".join(items) + "]"


def msgbuf(p: Process, ptr: int, size: int, limit: int) -> str:
    ws = p.abi.wordsize
    raw = p.mem.read(ptr, ws + min(max(size, 0), limit + 1))
    mtype = p.abi.sword(int.from_bytes(raw[:ws], p.abi.byteorder))
    return f"{{mtype={mtype}, mtext={R.escape(raw[ws:ws + size], limit)}}}"


def _perm(v: dict[str, int], full: bool) -> str:
    head = f"uid={v['uid']}, gid={v['gid']}, mode={_octal(v['mode'] & 0o777)}"
    if not full:
        return head
    return f"{head}, key={v['key']}, cuid={v['cuid']}, cgid={v['cgid']}"


def _time(v: dict[str, int], name: str) -> int:
    return v[name] | (v.get(f"{name}_high", 0) << 32)


def ds(p: Process, kind: str, ptr: int, full: bool) -> str:
    """A *_ds struct: all of it after a STAT, the perm fields IPC_SET uses otherwise."""
    layout = getattr(p.abi, {"shm": "shmid64", "sem": "semid64", "msg": "msqid64"}[kind])
    v = {k: int(x) for k, x in layout.unpack_dict(p.mem.read(ptr, layout.size)).items()}
    perm = f"{kind}_perm={{{_perm(v, full)}}}"
    if not full:
        return f"{{{perm}}}" if kind != "msg" else f"{{{perm}, msg_qbytes={v['qbytes']}}}"
    if kind == "shm":
        rest = (f"shm_segsz={v['segsz']}, shm_cpid={v['cpid']}, shm_lpid={v['lpid']}, "
                f"shm_nattch={v['nattch']}, shm_atime={_time(v, 'atime')}, "
                f"shm_dtime={_time(v, 'dtime')}, shm_ctime={_time(v, 'ctime')}")
    elif kind == "sem":
        rest = (f"sem_otime={_time(v, 'otime')}, sem_ctime={_time(v, 'ctime')}, "
                f"sem_nsems={v['nsems']}")
    else:
        rest = (f"msg_stime={_time(v, 'stime')}, msg_rtime={_time(v, 'rtime')}, "
                f"msg_ctime={_time(v, 'ctime')}, msg_qnum={v['qnum']}, "
                f"msg_qbytes={v['qbytes']}, msg_lspid={v['lspid']}, msg_lrpid={v['lrpid']}")
    return f"{{{perm}, {rest}}}"


# ---- i386's and MIPS o32's ipc(call, first, second, third, ptr, fifth) -------------------------
SUBCALLS = {1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop", 11: "msgsnd", 12: "msgrcv",
            13: "msgget", 14: "msgctl", 21: "shmat", 22: "shmdt", 23: "shmget", 24: "shmctl"}


def subcall(p: Process, a: tuple[int, ...]) -> tuple[str, tuple[int, ...], int] | None:
    """The call an `ipc` makes, as strace shows it: (name, its arguments, the address its
    result is stored at (shmat) or 0)."""
    if len(a) < 6:
        return None
    call, first, second, third, ptr, fifth = a[:6]
    version, c = call >> 16, call & 0xFFFF
    name = SUBCALLS.get(c)
    if name is None:
        return None
    mask = p.abi.mask
    args: tuple[int, ...]
    if c in (2, 23):
        args = (first, second, third)
    elif c == 1:
        args = (first, ptr, second)
    elif c == 3:  # the union semun, passed by reference
        args = (first, second, third, ptr)
    elif c == 4:
        args = (first, ptr, second, fifth & mask)
    elif c == 11:
        args = (first, ptr, second, third)
    elif c == 12:
        if version == 0 and ptr:
            ws, bo = p.abi.wordsize, p.abi.byteorder
            raw = p.mem.read(ptr, 2 * ws)
            args = (first, int.from_bytes(raw[:ws], bo), second,
                    p.abi.sword(int.from_bytes(raw[ws:], bo)), third)
        else:
            args = (first, ptr, second, fifth, third)
    elif c == 13:
        args = (first, second)
    elif c in (14, 24):
        args = (first, second, ptr)
    elif c == 21:
        return name, (first, ptr, second), third & mask
    else:
        args = (ptr,)
    return name, args, 0


def semun_by_reference(p: Process, kind_stat: bool, ptr: int) -> str | int:
    """semctl's fourth argument through ipc: the union's word in brackets, or (for a STAT)
    the pointer it holds, whose struct is shown after the call."""
    if not ptr:
        return "NULL"
    word = int.from_bytes(p.mem.read(ptr, p.abi.wordsize), p.abi.byteorder)
    if kind_stat:
        return word
    return f"[{hex(word) if word else 'NULL'}]"
