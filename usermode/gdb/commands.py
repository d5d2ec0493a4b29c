"""gdb's packets while the guest is stopped, one function each: `handle` answers one and
returns a `Resume` when the packet lets the guest go."""

from __future__ import annotations

from usermode.gdb.control import WATCH_ACCESS, WATCH_READ, WATCH_WRITE
from usermode.kernel.threads import DEAD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.engine.core import Engine
    from usermode.gdb.stub import GdbStub
    from usermode.gdb.target import Target

SUPPORTED = (b"PacketSize=4000;qXfer:features:read+;qXfer:exec-file:read+;"
             b"qXfer:auxv:read+;vContSupported+;QStartNoAckMode+;QPassSignals+")


class Resume:
    """gdb's choice when it lets the guest go: which thread steps, with what signal."""

    def __init__(self, step_tid: int | None = None, signo: int = 0,
                 signal_tid: int | None = None, only_tid: int | None = None) -> None:
        self.step_tid = step_tid
        self.signo = signo
        self.signal_tid = signal_tid
        self.only_tid = only_tid  # the one thread gdb lets run (the others stay stopped)


ERROR = b"E01"
BAD_ADDRESS = b"E14"  # EFAULT, as gdbserver answers


def handle(stub: GdbStub, pkt: bytes) -> Resume | None:
    conn = stub.conn
    assert conn is not None
    if not pkt:
        conn.send(b"")
        return None
    head = pkt[:1]
    if head in (b"c", b"s", b"C", b"S"):
        return _resume_packet(stub, pkt)
    if pkt.startswith(b"vCont"):
        if pkt == b"vCont?":
            conn.send(b"vCont;c;C;s;S;t")
            return None
        return _vcont(stub, pkt)
    if pkt.startswith(b"vFile:"):
        conn.send(stub.hostio.handle(stub, pkt))
        return None
    if head == b"k":
        stub.kill()
        return None
    if pkt.startswith(b"vKill"):
        conn.send(b"OK")
        stub.kill()
        return None
    if head == b"D":
        conn.send(b"OK")
        stub._detach(None)
        return Resume()
    fn = _QUERIES.get(pkt.split(b":", 1)[0].split(b",", 1)[0]) or _SIMPLE.get(head)
    reply = fn(stub, pkt) if fn is not None else b""
    if reply is not None:
        conn.send(reply)
        if pkt == b"QStartNoAckMode":
            conn.ack = False
    return None


# ---- resuming
def _resume_packet(stub: GdbStub, pkt: bytes) -> Resume | None:
    head, rest = pkt[:1], pkt[1:]
    signo = 0
    if head in (b"C", b"S"):
        sig, _, rest = rest.partition(b";")
        signo = stub.resolve_signal(int(sig, 16))
    if rest:  # resume at another address
        _set_pc(stub, int(rest, 16))
    step = stub.c_tid if head in (b"s", b"S") else None
    return Resume(step_tid=step, signo=signo, signal_tid=stub.c_tid,
                  only_tid=stub.c_tid if step is not None else None)


def _vcont(stub: GdbStub, pkt: bytes) -> Resume | None:
    assert stub.proc is not None
    current = stub.proc.sched.current.tid
    resume = Resume()
    named: list[int] = []  # threads given an action of their own
    others_run = False  # an action without a thread: every other thread has it
    for action in pkt.split(b";")[1:]:
        what, _, tid_text = action.partition(b":")
        tid = _tid(tid_text) if tid_text else -1
        if tid in (-1, 0):
            others_run = others_run or what[:1] != b"t"
        else:
            named.append(tid)
        if tid not in (-1, 0, current) and stub.thread(tid) is None:
            continue
        kind = what[:1]
        if kind in (b"s", b"S") and resume.step_tid is None:
            resume.step_tid = current if tid in (-1, 0) else tid
        if kind in (b"C", b"S") and not resume.signo:
            resume.signo = stub.resolve_signal(int(what[1:], 16))
            resume.signal_tid = current if tid in (-1, 0) else tid
    if not others_run and len(named) == 1:
        resume.only_tid = named[0]  # e.g. stepping one thread off a breakpoint
    return resume


def _set_pc(stub: GdbStub, pc: int) -> None:
    assert stub.proc is not None and stub.target is not None
    t = stub.target
    size = t.pc.bits // 8
    stub.with_registers(stub.proc.sched.current,
                        lambda: t.write(stub.proc.engine, t.pc,
                                        pc.to_bytes(size, "little")), write=True)


# ---- queries
def _tid(text: bytes) -> int:
    if text.startswith(b"p"):  # pPID.TID (multiprocess form)
        text = text.partition(b".")[2] or b"-1"
    return -1 if text == b"-1" else int(text, 16)


def _supported(stub: GdbStub, pkt: bytes) -> bytes:
    features = set(pkt.partition(b":")[2].split(b";"))
    stub.gdb_features = features
    stub.multiprocess = b"multiprocess+" in features  # thread ids pPID.TID: gdb knows the pid
    extra = b";exec-events+" if b"exec-events+" in features else b""
    if stub.multiprocess:
        extra += b";multiprocess+"
    return SUPPORTED + extra


def _xfer(stub: GdbStub, pkt: bytes) -> bytes:
    # qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
    parts = pkt.split(b":")
    if len(parts) != 5 or parts[2] != b"read":
        return b""
    obj, annex, window = parts[1], parts[3], parts[4]
    off_text, _, len_text = window.partition(b",")
    off, length = int(off_text, 16), int(len_text, 16)
    assert stub.proc is not None and stub.target is not None
    if obj == b"features" and annex == b"target.xml":
        data = stub.target.xml
    elif obj == b"exec-file":
        import os

        data = os.fsencode(stub.proc.exe_path)
    elif obj == b"auxv":
        from usermode.kernel.procfs import auxv

        data = auxv(stub.proc)
    else:
        return b"E00"
    chunk = data[off:off + length]
    return (b"m" if off + length < len(data) else b"l") + chunk


def _thread_info(stub: GdbStub, _pkt: bytes) -> bytes:
    assert stub.proc is not None
    tids = [t.tid for t in stub.proc.sched.threads.values() if t.state != DEAD]
    return b"m" + b",".join(stub.thread_id(tid) for tid in tids)


def _thread_extra(stub: GdbStub, pkt: bytes) -> bytes:
    t = stub.thread(_tid(pkt.partition(b",")[2]))
    assert stub.proc is not None
    if t is None:
        return ERROR
    return (t.comm or b"").rstrip(b"\0").hex().encode()


def _current(stub: GdbStub, _pkt: bytes) -> bytes:
    assert stub.proc is not None
    return b"QC" + stub.thread_id(stub.proc.sched.current.tid)


def _select(stub: GdbStub, pkt: bytes) -> bytes:
    kind, tid = pkt[1:2], _tid(pkt[2:])
    if tid not in (-1, 0) and stub.thread(tid) is None:
        return ERROR
    if kind == b"g":
        stub.g_tid = tid
    else:
        stub.c_tid = tid
    return b"OK"


def _alive(stub: GdbStub, pkt: bytes) -> bytes:
    return b"OK" if stub.thread(_tid(pkt[1:])) is not None else ERROR


# ---- registers and memory
def _registers(stub: GdbStub, op: Callable[[Target, Engine], object],
               write: bool = False) -> tuple[bool, object]:
    """(whether the `Hg` thread exists, op(target, engine) run with its registers in the
    engine)."""
    t, target = stub.thread(stub.g_tid), stub.target
    if t is None or target is None or stub.proc is None:
        return False, None
    eng = stub.proc.engine
    return True, stub.with_registers(t, lambda: op(target, eng), write=write)


def _read_registers(stub: GdbStub, _pkt: bytes) -> bytes:
    _, data = _registers(stub, lambda target, eng: target.read_all(eng))
    return data.hex().encode() if isinstance(data, bytes) else ERROR


def _write_registers(stub: GdbStub, pkt: bytes) -> bytes:
    data = bytes.fromhex(pkt[1:].decode())
    done, _ = _registers(stub, lambda target, eng: target.write_all(eng, data), write=True)
    return b"OK" if done else ERROR


def _read_register(stub: GdbStub, pkt: bytes) -> bytes:
    num = int(pkt[1:], 16)
    if stub.target is None or num not in stub.target.by_num:
        return b"E00"
    _, data = _registers(stub, lambda target, eng: target.read(eng, target.by_num[num]))
    return data.hex().encode() if isinstance(data, bytes) else ERROR


def _write_register(stub: GdbStub, pkt: bytes) -> bytes:
    num_text, _, value = pkt[1:].partition(b"=")
    num, data = int(num_text, 16), bytes.fromhex(value.decode())
    if stub.target is None or num not in stub.target.by_num:
        return b"E00"
    done, _ = _registers(stub, lambda target, eng: target.write(eng, target.by_num[num], data),
                         write=True)
    return b"OK" if done else ERROR


def _read_memory(stub: GdbStub, pkt: bytes) -> bytes:
    addr_text, _, len_text = pkt[1:].partition(b",")
    data = stub.read_memory(int(addr_text, 16), int(len_text, 16))
    return data.hex().encode() if data or not int(len_text, 16) else BAD_ADDRESS


def _write_memory(stub: GdbStub, pkt: bytes) -> bytes:
    where, _, payload = pkt[1:].partition(b":")
    addr_text, _, len_text = where.partition(b",")
    length = int(len_text, 16)
    data = bytes.fromhex(payload.decode()) if pkt[:1] == b"M" else payload
    if not length:
        return b"OK"
    return b"OK" if stub.write_memory(int(addr_text, 16), data[:length]) else BAD_ADDRESS


# ---- breakpoints and watchpoints
def _point(stub: GdbStub, pkt: bytes) -> bytes:
    insert = pkt[:1] == b"Z"
    kind_text, addr_text, size_text = [*pkt[1:].split(b";", 1)[0].split(b","), b"0"][:3]
    kind, addr, size = int(kind_text), int(addr_text, 16), int(size_text, 16)
    ctl = stub.controls
    if ctl is None:
        return ERROR
    if kind in (0, 1):
        (ctl.add_breakpoint if insert else ctl.remove_breakpoint)(addr)
    elif kind in (WATCH_WRITE, WATCH_READ, WATCH_ACCESS):
        (ctl.add_watchpoint if insert else ctl.remove_watchpoint)(kind, addr, size)
    else:
        return b""
    return b"OK"


def _pass_signals(stub: GdbStub, pkt: bytes) -> bytes:
    listed = pkt.partition(b":")[2]
    gdb_signos = [int(x, 16) for x in listed.split(b";") if x]
    stub.pass_signals = {s for s in map(stub.resolve_signal, gdb_signos) if s}
    return b"OK"


def _stop_reason(stub: GdbStub, _pkt: bytes) -> bytes:
    return stub.last_stop


def _empty(_stub: GdbStub, _pkt: bytes) -> bytes:
    return b""


def _ok(_stub: GdbStub, _pkt: bytes) -> bytes:
    return b"OK"


_QUERIES: dict[bytes, Callable[[GdbStub, bytes], bytes]] = {
    b"qSupported": _supported,
    b"qXfer": _xfer,
    b"qfThreadInfo": _thread_info,
    b"qsThreadInfo": lambda _s, _p: b"l",
    b"qThreadExtraInfo": _thread_extra,
    b"qC": _current,
    b"qAttached": lambda _s, _p: b"0",  # (as qemu-user: gdb kills the program when it quits)
    b"qSymbol": _ok,
    b"QStartNoAckMode": _ok,
    b"QPassSignals": _pass_signals,
    b"vMustReplyEmpty": _empty,
}
_SIMPLE: dict[bytes, Callable[[GdbStub, bytes], bytes]] = {
    b"?": _stop_reason,
    b"H": _select,
    b"T": _alive,
    b"g": _read_registers,
    b"G": _write_registers,
    b"p": _read_register,
    b"P": _write_register,
    b"m": _read_memory,
    b"M": _write_memory,
    b"X": _write_memory,
    b"Z": _point,
    b"z": _point,
}
