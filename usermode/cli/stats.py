"""`--stats`: the scheduler's and the event loop's counters, printed when the guest exits."""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


def _bucket_label(b: int) -> str:
    """Bucket b holds values in [2**(b-1), 2**b) ns."""
    if b == 0:
        return "0"
    lo = 1 << (b - 1)
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if lo >= scale:
            return f">={lo / scale:g}{unit}"
    return f">={lo}ns"


def _histogram(name: str, counts: list[int]) -> list[str]:
    total = sum(counts)
    if not total:
        return [f"  {name}: (none)"]
    lines = [f"  {name}: {total} samples"]
    peak = max(counts)
    for b, n in enumerate(counts):
        if n:
            bar = "#" * max(1, round(30 * n / peak))
            lines.append(f"    {_bucket_label(b):>10} {n:>9} {bar}")
    return lines


def report(proc: Process) -> str:
    sched = proc.sched
    lines = ["usermode stats",
             "  threads: " + " ".join(f"{k}={v}" for k, v in sched.stats.items()) +
             f" preemptions={sched.watchdog.preemptions}"]
    if not sched.has_loop:
        lines.append("  loop: never needed (no thread ever waited)")
        return "\n".join(lines) + "\n"
    loop = sched.loop
    st = loop.stats
    waits = st["blocking_waits"]
    lines.append("  loop: " + " ".join(f"{k}={v}" for k, v in st.items()))
    lines.append(f"  loop: poll_max_ns={loop.poll_max_ns} grow={loop.poll_grow} "
                 f"shrink={loop.poll_shrink} accounting={loop.accounting}; "
                 f"blocking waits per park: {waits / max(1, sched.stats['parks']):.3f}")
    if loop.histograms is not None:
        for name, counts in loop.histograms.items():
            lines.extend(_histogram(name, counts))
    return "\n".join(lines) + "\n"
