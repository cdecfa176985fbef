"""6. The resize kernel in threads (before) or in kernel processes (now): what isolation costs.

The same jobs (each picture -> its target, JPEG out) at the same concurrency (2, the worker's
default on 2 cores) through a ``ThreadPoolExecutor`` of 2 calling ``make_variant``, as the
worker did, and through ``KernelPool(processes=2)``, as it does now (bytes to the process
through a pipe, the variant back, a deadline per job). Kernel only: no S3, no broker.

    .venv/bin/python -m bench.pool [--cold-requests 48] [--smoke]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from bench.common import Options, parse_options, table
from bench.pictures import Picture, load
from services.resize.job import JobSpec, run_job
from services.resize.pool import KernelPool

CONCURRENCY = 2


def _spec(picture: Picture) -> JobSpec:
    return JobSpec(width=picture.target, format="jpeg", max_pixels=50_000_000, quality=82, max_scans=100)


async def _through(run_one: Callable[[], Awaitable[None]], jobs: int) -> tuple[float, list[float]]:
    """Jobs per second and each job's latency, ``CONCURRENCY`` at a time."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(jobs):
        queue.put_nowait(index)

    async def lane() -> None:
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            await run_one()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return jobs / (time.perf_counter() - started), latencies


async def _measure(picture: Picture, jobs: int) -> dict[str, tuple[float, list[float]]]:
    data, spec = load(picture), _spec(picture)
    results: dict[str, tuple[float, list[float]]] = {}
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as executor:

        async def in_thread() -> None:
            await loop.run_in_executor(executor, run_job, spec, data)

        await _through(in_thread, CONCURRENCY)  # warm-up
        results["threads (before)"] = await _through(in_thread, jobs)
    pool = KernelPool(processes=CONCURRENCY, job_timeout=60)
    await pool.start()
    try:

        async def in_process() -> None:
            await pool.run(spec, data)

        await _through(in_process, CONCURRENCY)
        results["kernel processes (now)"] = await _through(in_process, jobs)
    finally:
        await pool.close()
    return results


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    jobs = max(options.cold_requests // 2, 4)
    rows = []
    for picture in options.photos[:1] + tuple(p for p in options.pictures if p.fmt == "PNG")[:1]:
        measured = asyncio.run(_measure(picture, jobs))
        base = measured["threads (before)"][0]
        for name, (rate, latencies) in measured.items():
            rows.append(
                [
                    picture.label,
                    name,
                    f"{rate:.1f}",
                    f"{statistics.median(latencies) * 1000:.1f}",
                    f"{rate / base:.2f}x",
                ]
            )
    return (
        "## 6. The kernel in threads or in kernel processes\n\n"
        f"{jobs} jobs per picture, {CONCURRENCY} at a time, JPEG out, after a warm-up; kernel only "
        "(bytes in memory, no S3 or broker). Threads: `make_variant` in a pool of 2 threads, as the "
        "worker ran it before; processes: `KernelPool(processes=2)` as it runs now (the bytes through "
        "a pipe each way, a deadline per job).\n\n"
        + table(["picture", "kernel in", "jobs/s", "median ms per job", "vs threads"], rows)
    )


if __name__ == "__main__":
    print(run(parse_options(__doc__ or "")))
