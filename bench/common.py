"""What every benchmark step shares: its options, the machine's description, markdown tables."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.pictures import FULL, TINY, Picture

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"  # git-ignored: pictures, thumbor's virtualenv, logs


@dataclass(frozen=True)
class Options:
    smoke: bool = False  # tiny pictures, one round, short loads: a check of the harness, not figures
    rounds: int = 11  # rounds per kernel measurement (medians)
    seconds: float = 10.0  # length of each throughput run
    concurrency: int = 4  # in-flight requests, the same for both sides of every comparison
    cold_requests: int = 96  # distinct cold requests per picture (a run of a few seconds: CPU ticks are 10 ms)
    # cold requests on sources that are not measured, before each measured run, the same for every
    # server: one per server process (the first request of a process imports and connects)
    warmups: int = 2
    cold_rounds: int = 3  # ours and thumbor's cold runs, measured in turn this many times (section 3)
    settle_seconds: float = 10.0  # at most this long a run waits for the machine to be idle first

    @property
    def pictures(self) -> tuple[Picture, ...]:
        return TINY if self.smoke else FULL

    @property
    def photos(self) -> tuple[Picture, ...]:
        """The JPEGs the comparisons are made on (12 MP -> 750 and 36 MP -> 500)."""
        return tuple(p for p in self.pictures if p.fmt == "JPEG")

    @classmethod
    def smoke_run(cls) -> Options:
        return cls(
            smoke=True,
            rounds=1,
            seconds=1.0,
            concurrency=2,
            cold_requests=3,
            warmups=1,
            cold_rounds=1,
            settle_seconds=1.0,
        )


def parse_options(description: str) -> Options:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny pictures, one round (checks the harness)")
    parser.add_argument("--rounds", type=int, default=Options.rounds)
    parser.add_argument("--seconds", type=float, default=Options.seconds)
    parser.add_argument("--concurrency", type=int, default=Options.concurrency)
    parser.add_argument("--cold-requests", type=int, default=Options.cold_requests)
    args = parser.parse_args()
    if args.smoke:
        return Options.smoke_run()
    return Options(
        rounds=args.rounds, seconds=args.seconds, concurrency=args.concurrency, cold_requests=args.cold_requests
    )


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return f"{model}, {cores} cores available{memory}, {platform.machine()}, Python {platform.python_version()}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(value: float, target: float, *, at_least: bool = True) -> str:
    ok = value >= target if at_least else value <= target
    return "met" if ok else "**missed**"
