"""`usermode syscalls`: the support table printed from the registry and the number tables."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from support import run_cmd

from syscalls import tables
from usermode.arch import SUPPORTED, load


def usermode(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cmd([sys.executable, "-m", "usermode", "syscalls", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("arch", SUPPORTED)
def test_csv_lists_every_number_of_the_arch(arch: str) -> None:
    p = usermode("--arch", arch, "--format", "csv")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert {int(r["number"]): r["name"] for r in rows} == tables.load(load(arch).FAMILY or arch)
    status = {r["name"]: r["status"] for r in rows}
    assert status["read"] == "full"
    assert status["ioctl"] == "partial"
    assert status["kexec_load"] == "enosys"
    assert {r["arch"] for r in rows} == {arch}


def test_json_and_table_agree() -> None:
    p = usermode("--arch", "mipsel", "--format", "json")
    assert p.returncode == 0, p.stderr
    items = json.loads(p.stdout)
    by_name = {i["name"]: i for i in items}
    assert by_name["exit"]["number"] == 4001 and by_name["exit"]["status"] == "full"
    t = usermode("--arch", "mipsel")
    head = t.stdout.splitlines()[0]
    full = sum(i["status"] == "full" for i in items)
    assert head.startswith(f"mipsel: {len(items)} syscalls, {full} full, ")
    assert any(line.split()[:3] == ["4001", "exit", "full"] for line in t.stdout.splitlines())


def test_all_arches_by_default() -> None:
    p = usermode("--format", "csv")
    arches = {r["arch"] for r in csv.DictReader(io.StringIO(p.stdout))}
    assert arches == set(SUPPORTED)


@pytest.mark.parametrize("args", [("--arch", "sparc"), ("--format", "xml"), ("--bogus",)])
def test_bad_options_are_one_line_errors(args: tuple[str, ...]) -> None:
    p = usermode(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("usermode: syscalls: ")
