#!/usr/bin/env python3
"""Draw a `--trace-timeline` file as a PNG: one row per guest thread, syscalls as bars,
parked time darker inside them, signals as markers. Needs matplotlib (the `docs` extra).

    python tools/timeline_png.py trace.json docs/timeline.png [--ms-from A --ms-to B]
"""

from __future__ import annotations

import argparse
import json
import sys


def load(path: str) -> list[dict]:
    with open(path) as f:
        text = f.read().strip()
    if not text.endswith("]"):  # an array a process left open
        text = text.rstrip(",") + "]"
    return json.loads(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("png")
    ap.add_argument("--ms-from", type=float, default=None)
    ap.add_argument("--ms-to", type=float, default=None)
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = load(a.trace)
    slices = [e for e in events if e.get("ph") == "X"]
    if not slices:
        print("timeline_png: no slices in the trace", file=sys.stderr)
        return 1
    t0 = min(e["ts"] for e in slices)
    tracks = sorted({(e["pid"], e["tid"]) for e in slices})
    row = {t: i for i, t in enumerate(tracks)}
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.6 * len(tracks)))
    lo = a.ms_from if a.ms_from is not None else 0.0
    hi = a.ms_to if a.ms_to is not None else max(
        (e["ts"] + e["dur"] - t0) / 1000 for e in slices)
    for e in slices:
        start = (e["ts"] - t0) / 1000
        if start > hi or start + e["dur"] / 1000 < lo:
            continue
        y = row[(e["pid"], e["tid"])]
        parked = e.get("cat") == "parked"
        ax.broken_barh([(start, max(e["dur"] / 1000, 0.002))], (y - 0.3, 0.6),
                       facecolors="#d62728" if parked else "#1f77b4",
                       alpha=0.9 if parked else 0.6)
    for e in events:
        if e.get("ph") == "i" and e.get("cat") == "signal":
            x = (e["ts"] - t0) / 1000
            if lo <= x <= hi:
                ax.plot([x], [row.get((e["pid"], e["tid"]), 0)], marker="v", color="black")
    ax.set_yticks(range(len(tracks)))
    ax.set_yticklabels([f"main (tid {tid})" if tid == pid else f"thread {tid}"
                        for pid, tid in tracks])
    ax.set_xlim(lo, hi)
    ax.set_xlabel("ms since the first syscall (blue: syscall, red: parked in the event loop)")
    ax.set_title("usermode --trace-timeline")
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
