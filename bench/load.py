"""A load generator: wrk when it is installed (it costs the machine far less CPU than a Python
client), else a small asyncio + httpx client. The same tool and concurrency for both sides of a
comparison."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    latencies_ms: tuple[float, ...]  # per request (Python client only; wrk reports none)
    errors: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def repeat(
    url: str, *, concurrency: int, seconds: float, headers: Mapping[str, str] | None = None, expect: int = 200
) -> Result:
    """The same URL over and over for ``seconds``: requests per second."""
    if have_wrk():
        return _wrk(url, concurrency=concurrency, seconds=seconds, headers=headers or {})
    return asyncio.run(_repeat_httpx(url, concurrency, seconds, dict(headers or {}), expect))


def each_once(urls: Sequence[str], *, concurrency: int, expect: int = 200, timeout: float = 120) -> Result:
    """Every URL exactly once, ``concurrency`` at a time (cold requests): rate and latencies."""
    return asyncio.run(_each_once(list(urls), concurrency, expect, timeout))


def _wrk(url: str, *, concurrency: int, seconds: float, headers: Mapping[str, str]) -> Result:
    command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    requests, span, unit = int(total.group(1)), float(total.group(2)), total.group(3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(requests, span / 1000 if unit == "ms" else span, (), int(errors.group(1)) if errors else 0, "wrk")


async def _repeat_httpx(url: str, concurrency: int, seconds: float, headers: dict[str, str], expect: int) -> Result:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        await client.get(url)
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                resp = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += resp.status_code != expect

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(len(latencies), elapsed, tuple(latencies), errors, "httpx")


async def _each_once(urls: list[str], concurrency: int, expect: int, timeout: float) -> Result:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def one_client() -> None:
            nonlocal errors
            while not queue.empty():
                url = queue.get_nowait()
                started = time.perf_counter()
                resp = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if resp.status_code != expect:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(len(latencies), elapsed, tuple(latencies), errors, "httpx")
