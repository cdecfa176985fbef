"""CPU time of processes (user + system, from /proc): what a request costs whatever else the
shared machine is doing. Linux only; elsewhere every figure is NaN."""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (thumbor's forked processes, for instance)."""
    found = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # it ended meanwhile
        return found
    for task in tasks:
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


def lifetime(pid: int) -> float:
    """CPU seconds of ``pid`` and of its children that ended and were waited for (utime, stime,
    cutime, cstime): nothing a process tree spends is lost when a child exits."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICKS


class TreeMeter:
    """CPU spent by process trees between ``__init__`` and ``spent``: each root with every
    descendant, those started in between too (kernel processes, thumbor's forks)."""

    def __init__(self, roots: Iterable[int]) -> None:
        self._roots = list(roots)
        self._start = self._read()

    def _read(self) -> dict[int, float]:
        return {pid: lifetime(pid) for root in self._roots for pid in tree(root)}

    def spent(self) -> dict[int, float]:
        """CPU seconds per process: the roots' own (with any child that ended meanwhile) and each
        live descendant's, so ``sum`` is the trees' total."""
        end = self._read()
        spent = {pid: end.get(pid, 0.0) - self._start.get(pid, 0.0) for pid in {*end, *self._start}}
        return {pid: value for pid, value in spent.items() if pid in end or value}


def load_average() -> float:
    """The 1-minute load average (NaN where unknown)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


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


def busy_share(seconds: float) -> float:
    """The share of all cores that was busy over the next ``seconds``."""
    snapshot = machine()
    time.sleep(seconds)
    return busy_since(snapshot)[1]


def settle(*, below: float = 0.15, window: float = 0.5, timeout: float = 10.0) -> float:
    """Wait until the whole machine is at most ``below`` busy over ``window`` seconds (what the last
    step set going has finished: events of freshly stored originals, a server's start), at most
    ``timeout`` seconds; returns the last window's busy share."""
    deadline = time.monotonic() + timeout
    while True:
        share = busy_share(window)
        if share <= below or time.monotonic() >= deadline:
            return share


# The machine's PostgreSQL and RabbitMQ: a section drives them (the catalog, the broker), and so may
# anyone else on the machine; their CPU is reported apart, neither ours nor others'.
SHARED_SERVERS: tuple[tuple[str, ...], ...] = (("postgres",), ("beam.smp", "rabbit"))
_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Become the parent of our descendants' orphans (Linux ``PR_SET_CHILD_SUBREAPER``), so the CPU
    of a forked worker whose parent did not wait for it (thumbor's, on SIGTERM) still lands in ours
    once ``reap_orphans`` has waited for it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def reap_orphans() -> None:
    """Wait for every child that has ended (adopted orphans; anything its owner has not waited for)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class SectionLoad:
    """How busy others kept the machine around one benchmark section: the share of all cores busy
    in the second before it starts (this run is idle then, so that is others'), and the share that
    processes other than this run's and the shared servers took during it; the shared servers'
    share; the 1-minute load averages before and after (for reference: they include this run's
    previous section). Started at ``__init__``, read by ``finish``."""

    LOADED = 0.15  # others took more than 15% of all cores just before the section or during it

    def __init__(self, *, probe: float = 1.0, wind_down: float = 5.0) -> None:
        adopt_orphans()
        reap_orphans()
        self.average_before = load_average()
        settle(timeout=wind_down)  # the previous section's processes wind down first: they are not others'
        self.before = busy_share(probe)
        self._ours = TreeMeter([os.getpid()])
        self._shared = TreeMeter(pid for fragments in SHARED_SERVERS for pid in pids_matching(*fragments))
        self._machine = machine()
        self.after = float("nan")
        self.others = float("nan")
        self.shared = float("nan")

    def finish(self) -> SectionLoad:
        reap_orphans()
        ours = sum(self._ours.spent().values())
        shared = sum(self._shared.spent().values())
        busy, total = machine()
        elapsed = total - self._machine[1]
        if elapsed > 0:
            self.others = max(0.0, (busy - self._machine[0] - ours - shared) / elapsed)
            self.shared = shared / elapsed
        self.after = load_average()
        return self

    @property
    def loaded(self) -> bool:
        return self.before >= self.LOADED or self.others >= self.LOADED

    def note(self) -> str:
        flag = (
            "**taken on a loaded machine**: rates and latencies are low, CPU-time figures hold"
            if self.loaded
            else "quiet"
        )
        return (
            f"Machine load: other processes kept {self.before:.0%} of all cores busy in the second before this "
            f"section and took {self.others:.0%} during it ({flag}); the shared PostgreSQL and RabbitMQ took "
            f"{self.shared:.0%} (this section's traffic, and anyone else's); 1-min load average "
            f"{self.average_before:.2f} before, {self.after:.2f} after."
        )
