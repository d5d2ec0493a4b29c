#!/usr/bin/env python3
"""Fetch Debian packages for a guest arch and unpack them into a root directory.

Uses its own apt state (lists, status, cache) under the cache directory, so nothing is
installed or configured on the host: no `dpkg --add-architecture`, no packages installed.

    python tools/fetch_debs.py --arch arm64 busybox-static
    -> ~/.cache/usermode-debs/arm64/root/bin/busybox
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys

DEBIAN_ARCH = {"aarch64": "arm64", "x86_64": "amd64", "riscv64": "riscv64", "arm": "armhf",
               "mipsel": "mipsel", "i386": "i386", "arm64": "arm64", "amd64": "amd64",
               "armel": "armel"}


# Arches the host's Debian suite does not carry: fetched from a newer suite with its own
# sources list (the host's keyring holds that suite's signing keys).
SUITES = {"riscv64": ("http://deb.debian.org/debian", "trixie")}


def cache_dir() -> str:
    base = os.environ.get("USERMODE_DEB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "usermode-debs")
    return base


def root_for(arch: str) -> str:
    return os.path.join(cache_dir(), DEBIAN_ARCH[arch], "root")


def fetch(arch: str, packages: list[str], *, quiet: bool = True, deps: bool = False) -> str:
    """Download and unpack `packages` (with their dependency closure when `deps`); returns
    the root directory. Raises RuntimeError."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError("apt-get/dpkg-deb not available (not a Debian-based host)")
    deb_arch = DEBIAN_ARCH[arch]
    top = os.path.join(cache_dir(), deb_arch)
    state, debs, root = (os.path.join(top, x) for x in ("apt", "debs", "root"))
    for d in (f"{state}/lists/partial", f"{state}/cache/archives/partial", debs, root):
        os.makedirs(d, exist_ok=True)
    status = os.path.join(state, "status")
    if not os.path.exists(status):
        open(status, "w").close()
    opts = ["-o", f"APT::Architecture={deb_arch}", "-o", f"APT::Architectures::={deb_arch}",
            "-o", f"Dir::State::Lists={state}/lists", "-o", f"Dir::State::Status={status}",
            "-o", f"Dir::Cache={state}/cache", "-o", "Debug::NoLocking=1"]
    if arch in SUITES:
        mirror, suite = SUITES[arch]
        sources = os.path.join(state, "sources.list")
        with open(sources, "w") as f:
            f.write(f"deb [arch={deb_arch}] {mirror} {suite} main\n")
        parts = os.path.join(state, "sources.list.d")
        os.makedirs(parts, exist_ok=True)
        opts += ["-o", f"Dir::Etc::SourceList={sources}", "-o", f"Dir::Etc::SourceParts={parts}"]
    out = subprocess.DEVNULL if quiet else None
    missing = [p for p in packages if not glob.glob(os.path.join(debs, f"{p}_*.deb"))]
    if missing:
        # A failed index (a mirror mid-sync, often only the security suite) is not fatal
        # by itself: the download below says whether what we need was listed.
        updated = subprocess.run(["apt-get", *opts, "update", "-qq"], stdout=out,
                                 stderr=out).returncode == 0
        if deps:  # the whole dependency closure (our status file says nothing is installed)
            cmd = ["apt-get", *opts, "-o", f"Dir::Cache::archives={debs}", "install",
                   "--download-only", "--no-install-recommends", "-y", "-qq", *missing]
        else:
            cmd = ["apt-get", *opts, "download", *missing]
        r = subprocess.run(cmd, cwd=debs, stdout=out, stderr=out)
        if r.returncode:
            why = "" if updated else " (and apt-get update failed)"
            raise RuntimeError(f"apt-get could not fetch {' '.join(missing)}{why}")
    wanted = glob.glob(os.path.join(debs, "*.deb")) if deps else [
        d for p in packages for d in glob.glob(os.path.join(debs, f"{p}_*.deb"))]
    for deb in sorted(wanted):
        stamp = os.path.join(root, ".unpacked-" + os.path.basename(deb))
        if not os.path.exists(stamp):
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
            open(stamp, "w").close()
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", required=True, choices=sorted(DEBIAN_ARCH))
    ap.add_argument("--deps", action="store_true", help="also fetch the dependency closure")
    ap.add_argument("packages", nargs="+")
    a = ap.parse_args()
    try:
        print(fetch(a.arch, a.packages, quiet=False, deps=a.deps))
    except RuntimeError as e:
        print(f"fetch_debs: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
