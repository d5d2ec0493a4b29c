"""Render syscall values the way strace prints them: escaped strings cut at `-s`, flags as
`A|B`, enums by name, and the common structs read from guest memory through the ABI layer.

Every reader here may meet a bad guest pointer; the caller falls back to the bare address,
so nothing a guest passes can make the tracer fail.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Sequence

from usermode.trace import names as N

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

_ESCAPES = {9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}


def escape(data: bytes, limit: int, cut: bool | None = None) -> str:
    """A quoted C string as strace shows it: octal escapes, `...` after it when cut."""
    shown = data[:limit]
    out = ['"']
    for i, b in enumerate(shown):
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            nxt = shown[i + 1] if i + 1 < len(shown) else None
            digit_next = nxt is not None and 0x30 <= nxt <= 0x37
            out.append(f"\\{b:03o}" if digit_next else f"\\{b:o}")
    out.append('"')
    if cut if cut is not None else len(data) > limit:
        out.append("...")
    return "".join(out)


def flags(v: int, table: Sequence[tuple[int, str]], zero: str = "0") -> str:
    if v == 0:
        return zero
    parts = []
    for bit, name in table:
        if bit and v & bit == bit:
            parts.append(name)
            v &= ~bit
    if v:
        parts.append(hex(v))
    return "|".join(parts)


def enum(v: int, table: dict[int, str], prefix: str = "") -> str:
    """A value's name; an unknown one in decimal, or as strace shows it when the names share
    a prefix: `0x4d /* SEEK_??? */`."""
    name = table.get(v)
    if name is not None:
        return name
    return f"{v:#x} /* {prefix}??? */" if prefix else str(v)


def open_flags(v: int) -> str:
    acc = N.OPEN_ACCMODE[v & 3]
    rest = v & ~3
    return acc if not rest else f"{acc}|{flags(rest, N.OPEN_FLAGS)}"


def mode(v: int) -> str:
    return f"0{v:o}" if v else "000"


def file_mode(v: int) -> str:
    kind = N.FILE_TYPES.get(v & 0o170000)
    perm = v & 0o7777
    return f"{kind}|{perm:04o}" if kind else f"{v:#o}"


def map_flags(v: int) -> str:
    kind = N.MAP_TYPE.get(v & 3, hex(v & 3))
    rest = flags(v & ~0xF, N.MAP_FLAGS, "")
    return kind + (f"|{rest}" if rest else "")


def signal(n: int) -> str:
    return N.SIGNALS.get(n, str(n))


def sigset(mask: int, nsig: int = 64) -> str:
    bits = [i + 1 for i in range(nsig) if mask >> i & 1]
    if len(bits) > nsig // 2:
        inv = [i + 1 for i in range(nsig) if not mask >> i & 1 and i + 1 not in (32, 33)]
        return "~[" + " ".join(signal(s)[3:] if signal(s).startswith("SIG") else str(s)
                               for s in inv) + "]"
    return "[" + " ".join(signal(s)[3:] if signal(s).startswith("SIG") else str(s)
                          for s in bits) + "]"


def wait_status(s: int) -> str:
    low = s & 0x7F
    if low == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {(s >> 8) & 0xFF}}}]"
    if low == 0x7F:
        return f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {signal((s >> 8) & 0xFF)}}}]"
    core = " && WCOREDUMP(s)" if s & 0x80 else ""
    return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {signal(low)}{core}}}]"


def limit(v: int, wide: bool) -> str:
    if v in ((1 << 64) - 1, (1 << 32) - 1, 0x7FFFFFFF) and (wide or v != 0x7FFFFFFF):
        return "RLIM64_INFINITY" if wide else "RLIM_INFINITY"
    if v and v % 1024 == 0:
        return f"{v // 1024}*1024"
    return str(v)


# ---- structs in guest memory -------------------------------------------------------------------
def cstr(p: Process, ptr: int, lim: int | None) -> str:
    if not ptr:
        return "NULL"
    raw = p.mem.read_cstr(ptr, 4096)
    return escape(raw, len(raw) if lim is None else lim)


def stat(p: Process, ptr: int) -> str:
    d = p.abi.stat.unpack_dict(p.mem.read(ptr, p.abi.stat.size))
    m = int(d["st_mode"])
    if m & 0o170000 in (0o20000, 0o60000):
        rdev = int(d["st_rdev"])
        extra = f"st_rdev=makedev({os.major(rdev):#x}, {os.minor(rdev)})"
    else:
        extra = f"st_size={int(d['st_size'])}"
    return f"{{st_mode={file_mode(m)}, {extra}, ...}}"


def statx(p: Process, ptr: int) -> str:
    raw = p.mem.read(ptr, 0x48)
    bo = p.abi.byteorder
    mask = int.from_bytes(raw[0:4], bo)
    m = int.from_bytes(raw[0x1C:0x1E], bo)
    size = int.from_bytes(raw[0x28:0x30], bo)
    return f"{{stx_mask={flags(mask, N.STATX_MASK)}, stx_attributes=0, " \
           f"stx_mode={file_mode(m)}, stx_size={size}, ...}}"


def timespec(p: Process, ptr: int) -> str:
    sec, nsec = p.abi.from_guest_timespec(p.mem.read(ptr, p.abi.timespec.size))
    return f"{{tv_sec={sec}, tv_nsec={nsec}}}"


def timeval(p: Process, ptr: int) -> str:
    sec, usec = p.abi.timeval.unpack(p.mem.read(ptr, p.abi.timeval.size))
    return f"{{tv_sec={sec}, tv_usec={usec}}}"


UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def utimes(p: Process, ptr: int) -> str:
    """utimensat's two timespecs, with strace's date comments and UTIME_* names."""
    size = p.abi.timespec.size
    raw = p.mem.read(ptr, 2 * size)
    items = []
    for i in range(2):
        sec, nsec = p.abi.from_guest_timespec(raw[i * size:(i + 1) * size])
        if nsec in (UTIME_NOW, UTIME_OMIT):
            items.append("UTIME_NOW" if nsec == UTIME_NOW else "UTIME_OMIT")
            continue
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        frac = f".{nsec:09d}" if nsec else ""
        items.append(f"{{tv_sec={sec}, tv_nsec={nsec}}} /* {when}{frac}+0000 */")
    return "[" + ", ".join(items) + "]"


def guest_sigset(p: Process, ptr: int, size: int | None = None) -> str:
    n = p.abi.sigset_size if size is None else min(size, p.abi.sigset_size)
    return sigset(p.abi.from_guest_sigset(p.mem.read(ptr, n)))


def sigaction(p: Process, ptr: int) -> str:
    raw = p.mem.read(ptr, p.abi.sigaction.size)
    handler, sa_flags, restorer, mask = p.abi.from_guest_sigaction(raw)
    h = {0: "SIG_DFL", 1: "SIG_IGN"}.get(handler, hex(handler))
    text = f"{{sa_handler={h}, sa_mask={sigset(mask)}, sa_flags={flags(sa_flags, N.SA_FLAGS)}"
    if "sa_restorer" in p.abi.sigaction.names and sa_flags & 0x04000000:  # SA_RESTORER
        text += f", sa_restorer={hex(restorer)}"
    return text + "}"


def sockaddr(p: Process, ptr: int, size: int) -> str:
    if not ptr:
        return "NULL"
    return sockaddr_bytes(p, p.mem.read(ptr, min(max(size, 0), 128)))


def sockaddr_bytes(p: Process, raw: bytes) -> str:
    if len(raw) < 2:
        return "{}"
    fam = int.from_bytes(raw[0:2], p.abi.byteorder)
    name = N.FAMILIES.get(fam, str(fam))
    if fam == 2 and len(raw) >= 8:
        port = int.from_bytes(raw[2:4], "big")
        return f'{{sa_family={name}, sin_port=htons({port}), ' \
               f'sin_addr=inet_addr("{ipaddress.IPv4Address(raw[4:8])}")}}'
    if fam == 10 and len(raw) >= 24:
        port = int.from_bytes(raw[2:4], "big")
        flow = int.from_bytes(raw[4:8], "big")
        scope = int.from_bytes(raw[24:28], p.abi.byteorder) if len(raw) >= 28 else 0
        return f'{{sa_family={name}, sin6_port=htons({port}), sin6_flowinfo=htonl({flow}), ' \
               f'inet_pton({name}, "{ipaddress.IPv6Address(raw[8:24])}", &sin6_addr), ' \
               f'sin6_scope_id={scope}}}'
    if fam == 1:
        path = raw[2:]
        if path[:1] == b"\0" and len(path) > 1:
            abstract = escape(path[1:].rstrip(b"\0"), 108)
            return f"{{sa_family={name}, sun_path=@{abstract}}}"
        sun = escape(path.split(b"\0")[0], 108)
        return f"{{sa_family={name}, sun_path={sun}}}"
    return f"{{sa_family={name}, sa_data={escape(raw[2:], 32)}}}"


def pollfds(p: Process, ptr: int, n: int, revents: bool) -> str:
    raw = p.mem.read(ptr, 8 * min(n, 64))
    bo = p.abi.byteorder
    items = []
    for i in range(0, len(raw), 8):
        fd = int.from_bytes(raw[i:i + 4], bo, signed=True)
        if revents:
            ev = p.abi.poll_in(int.from_bytes(raw[i + 6:i + 8], bo))
            if not ev:
                continue
            items.append(f"{{fd={fd}, revents={flags(ev, N.POLL_EVENTS)}}}")
        else:
            ev = p.abi.poll_in(int.from_bytes(raw[i + 4:i + 6], bo))
            items.append(f"{{fd={fd}, events={flags(ev, N.POLL_EVENTS)}}}")
    return "[" + ", ".join(items) + ("" if n <= 64 else ", ...") + "]"


def iovecs(p: Process, ptr: int, n: int, total: int | None, lim: int) -> str:
    layout = p.abi.iovec
    raw = p.mem.read(ptr, layout.size * min(max(n, 0), 16))
    items = []
    left = total
    for i in range(0, len(raw), layout.size):
        base, length = (int(x) for x in layout.unpack(raw[i:]))
        shown = length if left is None else max(0, min(length, left))
        data = p.mem.read(base, min(shown, lim)) if shown else b""
        if left is not None:
            left -= shown
        shown_base = escape(data, lim, shown > lim) if base else "NULL"
        items.append(f"{{iov_base={shown_base}, iov_len={length}}}")
    return "[" + ", ".join(items) + ("" if n <= 16 else ", ...") + "]"


def argv(p: Process, ptr: int, lim: int) -> str:
    if not ptr:
        return "NULL"
    w = p.abi.wordsize
    items = []
    for i in range(64):
        a = int.from_bytes(p.mem.read(ptr + i * w, w), p.abi.byteorder)
        if not a:
            break
        items.append(cstr(p, a, lim))
    else:
        items.append("...")
    return "[" + ", ".join(items) + "]"


def envp(p: Process, ptr: int) -> str:
    if not ptr:
        return "NULL"
    w = p.abi.wordsize
    n = 0
    while n < 4096 and int.from_bytes(p.mem.read(ptr + n * w, w), p.abi.byteorder):
        n += 1
    return f"{hex(ptr)} /* {n} vars */"


def utsname(p: Process, ptr: int) -> str:
    raw = p.mem.read(ptr, 65 * 2)
    sysname, nodename = (raw[i * 65:(i + 1) * 65].split(b"\0")[0] for i in range(2))
    return f"{{sysname={escape(sysname, 65)}, nodename={escape(nodename, 65)}, ...}}"


def rlimit(p: Process, ptr: int, wide: bool) -> str:
    layout = p.abi.rlimit64 if wide else p.abi.rlimit
    cur, mx = (int(x) for x in layout.unpack(p.mem.read(ptr, layout.size)))
    return f"{{rlim_cur={limit(cur, wide)}, rlim_max={limit(mx, wide)}}}"


def int_array(p: Process, ptr: int, n: int) -> str:
    raw = p.mem.read(ptr, 4 * n)
    return "[" + ", ".join(str(int.from_bytes(raw[i:i + 4], p.abi.byteorder, signed=True))
                           for i in range(0, len(raw), 4)) + "]"


def cpuset(p: Process, ptr: int, size: int) -> str:
    bits = int.from_bytes(p.mem.read(ptr, size), "little")
    return "[" + " ".join(str(i) for i in range(size * 8) if bits >> i & 1) + "]"


SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
            -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}
FAULT_CODES = {11: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR"}, 7: {1: "BUS_ADRALN", 2: "BUS_ADRERR"},
               4: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP",
                   5: "ILL_PRVOPC"},
               8: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV"}, 5: {1: "TRAP_BRKPT"}}
CLD_CODES = {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
             5: "CLD_STOPPED", 6: "CLD_CONTINUED"}


def siginfo(p: Process, signo: int, raw: bytes) -> str:
    """A delivered signal's siginfo (the guest's layout) as strace's `--- SIG ---` shows it."""
    bo = p.abi.byteorder
    code_at, _ = p.abi.siginfo_code_errno
    code = int.from_bytes(raw[code_at:code_at + 4], bo, signed=True) if len(raw) >= 16 else 0
    word = p.abi.wordsize
    at = 16 if word == 8 else 12  # the union after signo, errno and code
    head = f"{{si_signo={signal(signo)}, si_code="
    if code <= 0 or code == 0x80:
        pid = int.from_bytes(raw[at:at + 4], bo, signed=True)
        uid = int.from_bytes(raw[at + 4:at + 8], bo)
        return head + f"{SI_CODES.get(code, str(code))}, si_pid={pid}, si_uid={uid}}}"
    if signo == 17:
        pid = int.from_bytes(raw[at:at + 4], bo, signed=True)
        uid = int.from_bytes(raw[at + 4:at + 8], bo)
        status = int.from_bytes(raw[at + 8:at + 12], bo, signed=True)
        shown = signal(status) if code in (2, 3, 4, 5) else str(status)
        return head + f"{CLD_CODES.get(code, str(code))}, si_pid={pid}, si_uid={uid}, " \
            f"si_status={shown}, si_utime=0, si_stime=0}}"
    names = FAULT_CODES.get(signo)
    if names is not None:
        addr = int.from_bytes(raw[at:at + word], bo)
        return head + f"{names.get(code, str(code))}, si_addr={hex(addr) if addr else 'NULL'}}}"
    return head + f"{code}}}"


def fd_set(p: Process, ptr: int, nfds: int) -> str:
    """An fd_set's members below nfds: `[3 4]`."""
    w = p.abi.wordsize
    nbytes = (max(nfds, 0) + 8 * w - 1) // (8 * w) * w
    bits = int.from_bytes(p.mem.read(ptr, min(nbytes, 1 << 17)), "little")
    return "[" + " ".join(str(i) for i in range(min(nfds, nbytes * 8)) if bits >> i & 1) + "]"


def msghdr(p: Process, ptr: int, lim: int, total: int | None) -> str:
    """A struct msghdr: name, iovecs (up to `total` bytes after a receive), control."""
    w = p.abi.wordsize
    bo = p.abi.byteorder
    raw = p.mem.read(ptr, 7 * w)
    name, namelen, iov, iovlen, control, controllen, mflags = (
        int.from_bytes(raw[i * w:(i + 1) * w], bo) for i in range(7))
    namelen &= 0xFFFFFFFF
    mflags &= 0xFFFFFFFF
    name_text = sockaddr(p, name, namelen) if name else "NULL"
    parts = [f"msg_name={name_text}", f"msg_namelen={namelen}",
             f"msg_iov={iovecs(p, iov, iovlen, total, lim) if iov else 'NULL'}",
             f"msg_iovlen={iovlen}"]
    if control and controllen:
        parts.append(f"msg_control={cmsgs(p, control, controllen)}")
    parts += [f"msg_controllen={controllen}", f"msg_flags={flags(mflags, N.MSG_FLAGS)}"]
    return "{" + ", ".join(parts) + "}"


def cmsgs(p: Process, ptr: int, size: int) -> str:
    w = p.abi.wordsize
    bo = p.abi.byteorder
    raw = p.mem.read(ptr, min(size, 4096))
    items = []
    off = 0
    while off + w + 8 <= len(raw):
        clen = int.from_bytes(raw[off:off + w], bo)
        level = int.from_bytes(raw[off + w:off + w + 4], bo)
        ctype = int.from_bytes(raw[off + w + 4:off + w + 8], bo)
        if clen < w + 8:
            break
        level_name = "SOL_SOCKET" if level == p.abi.sol_socket else str(level)
        data = raw[off + w + 8:off + clen]
        if level == p.abi.sol_socket and ctype == 1:
            fds = [int.from_bytes(data[i:i + 4], bo, signed=True)
                   for i in range(0, len(data) - 3, 4)]
            shown = f"cmsg_type=SCM_RIGHTS, cmsg_data={fds}"
        else:
            shown = f"cmsg_type={ctype:#x}, cmsg_data={escape(data, 32)}"
        items.append(f"{{cmsg_len={clen}, cmsg_level={level_name}, {shown}}}")
        off += (clen + w - 1) // w * w
    return "[" + ", ".join(items) + "]"


_BAUD = {0: "B0", 1: "B50", 2: "B75", 3: "B110", 4: "B134", 5: "B150", 6: "B200", 7: "B300",
         8: "B600", 9: "B1200", 10: "B1800", 11: "B2400", 12: "B4800", 13: "B9600",
         14: "B19200", 15: "B38400", 0o10001: "B57600", 0o10002: "B115200",
         0o10003: "B230400", 0o10004: "B460800", 0o10007: "B921600", 0o10010: "B1000000"}


IFLAGS = [(1, "IGNBRK"), (2, "BRKINT"), (4, "IGNPAR"), (8, "PARMRK"), (0x10, "INPCK"),
          (0x20, "ISTRIP"), (0x40, "INLCR"), (0x80, "IGNCR"), (0x100, "ICRNL"), (0x200, "IUCLC"),
          (0x400, "IXON"), (0x800, "IXANY"), (0x1000, "IXOFF"), (0x2000, "IMAXBEL"),
          (0x4000, "IUTF8")]
OFLAGS = [(1, "OPOST"), (2, "OLCUC"), (4, "ONLCR"), (8, "OCRNL"), (0x10, "ONOCR"),
          (0x20, "ONLRET"), (0x40, "OFILL"), (0x80, "OFDEL")]
CFLAGS = [(0o100, "CSTOPB"), (0o200, "CREAD"), (0o400, "PARENB"), (0o1000, "PARODD"),
          (0o2000, "HUPCL"), (0o4000, "CLOCAL"), (0o10000000000, "CMSPAR"),
          (0o20000000000, "CRTSCTS")]
LFLAGS = [(1, "ISIG"), (2, "ICANON"), (4, "XCASE"), (8, "ECHO"), (0x10, "ECHOE"),
          (0x20, "ECHOK"), (0x40, "ECHONL"), (0x80, "NOFLSH"), (0x8000, "IEXTEN"),
          (0x200, "ECHOCTL"), (0x400, "ECHOPRT"), (0x800, "ECHOKE"), (0x1000, "FLUSHO"),
          (0x4000, "PENDIN"), (0x100, "TOSTOP"), (0x10000, "EXTPROC")]


def termios(p: Process, ptr: int) -> str:
    """struct termios as strace shows it without -v: the four flag words."""
    from syscalls.linux.tty import termios_size

    raw = p.mem.read(ptr, termios_size(p.abi, False))
    bo = p.abi.byteorder
    iflag, oflag, cflag, lflag = (int.from_bytes(raw[i:i + 4], bo) for i in (0, 4, 8, 12))
    lflag = p.abi.lflag_in(lflag)
    delays = [f"NL{oflag >> 8 & 1}", f"CR{oflag >> 9 & 3}", f"TAB{oflag >> 11 & 3}",
              f"BS{oflag >> 13 & 1}", f"VT{oflag >> 14 & 1}", f"FF{oflag >> 15 & 1}"]
    out_text = "|".join([*delays, flags(oflag & 0xFF, OFLAGS, "")]).rstrip("|")
    speed = _BAUD.get(cflag & 0o10017, str(cflag & 0o10017))
    size = f"CS{5 + (cflag >> 4 & 3)}"
    c_text = "|".join(x for x in (speed, size, flags(cflag & ~0o10077, CFLAGS, "")) if x)
    return (f"{{c_iflag={flags(iflag, IFLAGS)}, c_oflag={out_text}, c_cflag={c_text}, "
            f"c_lflag={flags(lflag, LFLAGS)}, ...}}")


def winsize(p: Process, ptr: int) -> str:
    row, col, xp, yp = (int(v) for v in p.abi.winsize.unpack(p.mem.read(ptr, 8)))
    return f"{{ws_row={row}, ws_col={col}, ws_xpixel={xp}, ws_ypixel={yp}}}"


FS_MAGIC = {0xEF53: "EXT2_SUPER_MAGIC", 0x01021994: "TMPFS_MAGIC",
            0x794C7630: "OVERLAYFS_SUPER_MAGIC", 0x9FA0: "PROC_SUPER_MAGIC",
            0x62656572: "SYSFS_MAGIC", 0x9123683E: "BTRFS_SUPER_MAGIC",
            0x58465342: "XFS_SUPER_MAGIC", 0x6969: "NFS_SUPER_MAGIC",
            0x65735546: "FUSE_SUPER_MAGIC", 0x1CD1: "DEVPTS_SUPER_MAGIC",
            0x27E0EB: "CGROUP_SUPER_MAGIC", 0x63677270: "CGROUP2_SUPER_MAGIC"}
ST_FLAGS = [(1, "ST_RDONLY"), (2, "ST_NOSUID"), (4, "ST_NODEV"), (8, "ST_NOEXEC"),
            (16, "ST_SYNCHRONOUS"), (0x20, "ST_VALID"), (64, "ST_MANDLOCK"),
            (0x400, "ST_NOATIME"), (0x800, "ST_NODIRATIME"), (0x1000, "ST_RELATIME")]


def statfs(p: Process, ptr: int, wide: bool) -> str:
    layout = p.abi.statfs64 if wide else p.abi.statfs
    d = {k: int(v) for k, v in layout.unpack_dict(p.mem.read(ptr, layout.size)).items()}
    kind = FS_MAGIC.get(d["f_type"], hex(d["f_type"]))
    fsid = f"{{val=[{d['f_fsid0'] & 0xFFFFFFFF:#x}, {d['f_fsid1'] & 0xFFFFFFFF:#x}]}}"
    counts = ", ".join(f"{k}={d[k]}" for k in ("f_blocks", "f_bfree", "f_bavail", "f_files",
                                              "f_ffree"))
    return (f"{{f_type={kind}, f_bsize={d['f_bsize']}, {counts}, f_fsid={fsid}, "
            f"f_namelen={d['f_namelen']}, f_frsize={d['f_frsize']}, "
            f"f_flags={flags(d['f_flags'], ST_FLAGS)}}}")
