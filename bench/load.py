"""A load generator: wrk when it is installed (it costs the machine far less CPU than a Python
client), else a small asyncio + httpx client. The same tool and concurrency for both sides of a
comparison."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

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


WRK_THREADS = 2  # the same for every run (one per core here); connections are split among them


def repeat(
    urls: str | Sequence[str],
    *,
    concurrency: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    expect: int = 200,
) -> Result:
    """The same request over and over for ``seconds``: requests per second. Several URLs are the
    same object at several replicas: the connections are spread evenly over them, as a load
    balancer in front of the replicas would."""
    targets = [urls] if isinstance(urls, str) else list(urls)
    if have_wrk():
        return _wrk(targets, concurrency=concurrency, seconds=seconds, headers=headers or {})
    return asyncio.run(_repeat_httpx(targets, concurrency, seconds, dict(headers or {}), expect))


def each_once(urls: Sequence[str], *, concurrency: int, expect: int = 200, timeout: float = 120) -> Result:
    """Every URL exactly once, ``concurrency`` at a time (cold requests): rate and latencies.

    A new connection per request: a server of several processes sharing one listening socket
    (thumbor's ``--processes 2``) would otherwise keep whatever split of the few kept-alive
    connections it got at the start (4/0 halves its rate); connecting costs nothing next to a
    resize."""
    return asyncio.run(_each_once(list(urls), concurrency, expect, timeout))


def _spread_script(urls: Sequence[str]) -> str:
    """wrk Lua: thread i connects to the host and port of ``urls[i % len(urls)]``."""
    addresses = ", ".join(f'{{"{u.hostname}", "{u.port}"}}' for u in map(urlsplit, urls))
    return (
        f"local targets = {{{addresses}}}\n"
        "local started = 0\n"
        "function setup(thread)\n"
        "  local target = targets[(started % #targets) + 1]\n"
        "  started = started + 1\n"
        "  thread.addr = wrk.lookup(target[1], target[2])[1]\n"
        "end\n"
    )


def _wrk(urls: Sequence[str], *, concurrency: int, seconds: float, headers: Mapping[str, str]) -> Result:
    threads = min(concurrency, max(WRK_THREADS, len(urls)))
    command = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if len(urls) > 1:
            script.write(_spread_script(urls))
            script.flush()
            command += ["-s", script.name]
        out = subprocess.run([*command, urls[0]], capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    requests, span, unit = int(total.group(1)), float(total.group(2)), total.group(3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(requests, span / 1000 if unit == "ms" else span, (), int(errors.group(1)) if errors else 0, "wrk")


async def _repeat_httpx(
    urls: list[str], concurrency: int, seconds: float, headers: dict[str, str], expect: int
) -> Result:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        for url in urls:
            await client.get(url)
        deadline = time.perf_counter() + seconds

        async def one_client(url: str) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                resp = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += resp.status_code != expect

        started = time.perf_counter()
        await asyncio.gather(*(one_client(urls[i % len(urls)]) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(len(latencies), elapsed, tuple(latencies), errors, "httpx")


async def _each_once(urls: list[str], concurrency: int, expect: int, timeout: float) -> Result:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
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
