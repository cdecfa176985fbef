"""CPU time of processes (user + system, from /proc): what a request costs whatever else the
shared machine is doing. Linux only; elsewhere every figure is NaN."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (thumbor's forked processes, for instance)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += tree(int(child))
    return found


def seconds(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return total


def pids_matching(*fragments: str) -> list[int]:
    """Processes whose command line holds every fragment (SeaweedFS on a given port, RabbitMQ's VM)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(fragment in command for fragment in fragments):
            found.append(int(entry.name))
    return found


def machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (from /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    total = sum(fields[:8])  # guest time is already counted in user
    idle = fields[3] + fields[4]  # idle, iowait
    return (total - idle) / _TICKS, total / _TICKS


def busy_since(snapshot: tuple[float, float]) -> tuple[float, float]:
    """(busy CPU seconds, busy share of all cores) of the whole machine since ``machine()`` gave
    ``snapshot``."""
    busy, total = machine()
    spent, elapsed = busy - snapshot[0], total - snapshot[1]
    return spent, (spent / elapsed if elapsed > 0 else 0.0)
