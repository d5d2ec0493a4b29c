"""ioctl arguments beyond the terminal ones, as strace shows them: struct ifreq for the
SIOCGIF* requests, SIOCGIFCONF's struct ifconf with its entries, and unknown requests split
into their _IOC fields."""

from __future__ import annotations

from syscalls.linux.ioctl_more import (
    IFREQ_USED,
    SIOCGIFADDR,
    SIOCGIFBRDADDR,
    SIOCGIFDSTADDR,
    SIOCGIFFLAGS,
    SIOCGIFHWADDR,
    SIOCGIFINDEX,
    SIOCGIFMETRIC,
    SIOCGIFMTU,
    SIOCGIFNAME,
    SIOCGIFNETMASK,
    SIOCGIFTXQLEN,
    decode_request,
)
from usermode.trace import render as R

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

IFF_FLAGS = [(1 << i, "IFF_" + n) for i, n in enumerate(
    ("UP", "BROADCAST", "DEBUG", "LOOPBACK", "POINTOPOINT", "NOTRAILERS", "RUNNING", "NOARP",
     "PROMISC", "ALLMULTI", "MASTER", "SLAVE", "MULTICAST", "PORTSEL", "AUTOMEDIA",
     "DYNAMIC", "LOWER_UP", "DORMANT", "ECHO"))]
ARPHRD = {1: "ARPHRD_ETHER", 772: "ARPHRD_LOOPBACK", 776: "ARPHRD_SIT", 65534: "ARPHRD_NONE"}
# request -> the union member it fills and how it is shown
_ADDRS = {SIOCGIFADDR: "ifr_addr", SIOCGIFDSTADDR: "ifr_dstaddr",
          SIOCGIFBRDADDR: "ifr_broadaddr", SIOCGIFNETMASK: "ifr_netmask"}
_INTS = {SIOCGIFINDEX: "ifr_ifindex", SIOCGIFMETRIC: "ifr_metric", SIOCGIFMTU: "ifr_mtu",
         SIOCGIFTXQLEN: "ifr_qlen"}
_DIRS = {0: "_IOC_NONE", 1: "_IOC_WRITE", 2: "_IOC_READ", 3: "_IOC_READ|_IOC_WRITE"}


def _hex(v: int) -> str:
    return hex(v) if v else "0"  # C's %#x


def request(p: Process, req: int) -> str:
    """An ioctl request without a name, as strace splits it."""
    direction, kind, nr, size = decode_request(p.abi.arch == "mipsel", req)
    return f"_IOC({_DIRS[direction]}, {_hex(kind)}, {_hex(nr)}, {_hex(size)})"


def _name(raw: bytes) -> str:
    return R.escape(raw[:16].split(b"\0")[0], 16)


def _member(p: Process, req: int, raw: bytes) -> str:
    bo = p.abi.byteorder
    u = raw[16:IFREQ_USED]
    if req in _ADDRS:
        return f"{_ADDRS[req]}={R.sockaddr_bytes(p, u)}"
    if req in _INTS:
        return f"{_INTS[req]}={int.from_bytes(u[0:4], bo, signed=True)}"
    if req == SIOCGIFFLAGS:
        return f"ifr_flags={R.flags(int.from_bytes(u[0:2], bo), IFF_FLAGS)}"
    if req == SIOCGIFHWADDR:
        fam = int.from_bytes(u[0:2], bo)
        mac = ":".join(f"{b:02x}" for b in u[2:8])
        return f"ifr_hwaddr={{sa_family={ARPHRD.get(fam, str(fam))}, sa_data={mac}}}"
    return ""


def ifreq(p: Process, ptr: int, req: int, ok: bool) -> str:
    """struct ifreq after a SIOCGIF* request (only what was passed, if it failed)."""
    raw = p.mem.read(ptr, IFREQ_USED)
    index = int.from_bytes(raw[16:20], p.abi.byteorder, signed=True)
    if req == SIOCGIFNAME:
        return f"{{ifr_ifindex={index}, ifr_name={_name(raw)}}}" if ok else \
            f"{{ifr_ifindex={index}}}"
    if not ok:
        return f"{{ifr_name={_name(raw)}}}"
    return f"{{ifr_name={_name(raw)}, {_member(p, req, raw)}}}"


def ifconf_len(p: Process, ptr: int) -> int:
    return int.from_bytes(p.mem.read(ptr, 4), p.abi.byteorder, signed=True)


def ifconf(p: Process, ptr: int, len_in: int, ok: bool) -> str:
    """struct ifconf after SIOCGIFCONF: the length passed and returned, and the entries."""
    ws = p.abi.wordsize
    size = 40 if ws == 8 else IFREQ_USED
    len_out = ifconf_len(p, ptr)
    buf = int.from_bytes(p.mem.read(ptr + ws, ws), p.abi.byteorder)

    def counted(n: int) -> str:
        return f"{n} /* {n // size} * sizeof(struct ifreq) */" if n % size == 0 else str(n)

    if not buf:
        return f"{{ifc_len={counted(len_out)}, ifc_buf=NULL}}"
    if not ok:
        return f"{{ifc_len={counted(len_in)}, ifc_buf={hex(buf)}}}"
    entries = []
    for i in range(max(len_out, 0) // size):
        raw = p.mem.read(buf + i * size, IFREQ_USED)
        entries.append(f"{{ifr_name={_name(raw)}, ifr_addr={R.sockaddr_bytes(p, raw[16:])}}}")
    return f"{{ifc_len={counted(len_in)} => {counted(len_out)}, ifc_buf=[{', '.join(entries)}]}}"
