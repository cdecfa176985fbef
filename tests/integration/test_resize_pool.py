"""The kernel pool with real processes: results, refusals, deadlines, crashes, memory, seats."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from PIL import Image

from devstack.bombs import many_scans_jpeg
from devstack.photos import jpeg_bytes
from services.resize.job import JobSpec
from services.resize.pool import CallerGone, JobTimedOut, KernelCrashed, KernelFailed, KernelPool
from shared.errors import NotAnImage, TooManyPixels, TooManyScans

MakePool = Callable[..., Awaitable[KernelPool]]


def job(width: int, fmt: str | None = "jpeg", *, max_scans: int = 100) -> JobSpec:
    return JobSpec(width=width, format=fmt, max_pixels=50_000_000, quality=82, max_scans=max_scans)


@pytest.fixture
async def make_pool() -> AsyncIterator[MakePool]:
    pools: list[KernelPool] = []

    async def make(**options: object) -> KernelPool:
        settings: dict[str, object] = {"processes": 1, "job_timeout": 30.0, **options}
        pool = KernelPool(**settings)  # type: ignore[arg-type]
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def test_resizes_in_a_process_and_reports_its_memory(make_pool: MakePool) -> None:
    pool = await make_pool()
    [pid] = pool.idle_pids

    result = await pool.run(job(300), jpeg_bytes(1200, 800))

    with Image.open(io.BytesIO(result.data)) as image:
        assert (image.format, image.size) == ("JPEG", (300, 200))
    assert (result.content_type, result.size) == ("image/jpeg", (300, 200))
    assert result.peak_rss is not None and 10 * 2**20 < result.peak_rss < 500 * 2**20
    assert pool.idle_pids == [pid]  # the same process takes the next job


async def test_refusals_come_back_as_their_errors_and_the_process_stays(make_pool: MakePool) -> None:
    pool = await make_pool()
    [pid] = pool.idle_pids

    with pytest.raises(NotAnImage):
        await pool.run(job(100), b"not a picture at all")
    with pytest.raises(TooManyScans):
        await pool.run(job(100, max_scans=20), many_scans_jpeg(640, 480, 21))

    assert pool.idle_pids == [pid]


async def test_a_job_past_the_deadline_is_killed_and_the_pool_goes_on(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:burn", job_timeout=1.0)
    [pid] = pool.idle_pids

    started = time.monotonic()
    with pytest.raises(JobTimedOut) as stopped:
        await pool.run(job(60_000), b"x")  # a minute of CPU
    elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 3.0
    assert stopped.value.cpu_seconds is not None and stopped.value.cpu_seconds > 0.1
    result = await pool.run(job(5), b"next")
    assert result.data == b"next"
    assert pid not in pool.idle_pids


async def test_a_crashed_process_is_replaced(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:die")

    with pytest.raises(KernelCrashed):
        await pool.run(job(1), b"x")
    with pytest.raises(KernelCrashed):  # a new process took the next job (and died the same way)
        await pool.run(job(1), b"x")


async def test_an_unexpected_exception_is_a_failure_not_a_refusal(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:fail")
    [pid] = pool.idle_pids

    with pytest.raises(KernelFailed, match="a bug in the kernel"):
        await pool.run(job(1), b"x")
    assert pool.idle_pids == [pid]


async def test_a_job_over_the_memory_limit_is_refused_and_the_process_lives(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:allocate", memory_limit=64 * 2**20)
    [pid] = pool.idle_pids

    with pytest.raises(TooManyPixels, match="more memory"):
        await pool.run(job(256), b"")
    small = await pool.run(job(16), b"")

    assert len(small.data) == 16
    assert pool.idle_pids == [pid]


async def test_a_slow_job_lends_its_seat_to_a_spare_process(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:sleep", spares=1, slow_after=0.3)
    slow = asyncio.create_task(pool.run(job(5_000), b"slow"))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    quick = await pool.run(job(10), b"quick")
    waited = time.monotonic() - started

    assert quick.data == b"quick"
    assert waited < 4.0 and not slow.done()  # it did not wait for the slow job
    assert pool.running == 1
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


async def test_without_spares_a_job_waits_for_a_seat(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:sleep", slow_after=0.1)
    first = asyncio.create_task(pool.run(job(800), b"first"))
    await asyncio.sleep(0.05)

    second = await pool.run(job(1), b"second")

    assert second.data == b"second" and first.done()


async def test_seats_bound_the_jobs_running_at_once(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:sleep", processes=2, spares=1, slow_after=0.1)
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(pool.running)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(pool.run(job(400), b"x") for _ in range(6)))
    watcher.cancel()

    assert max(seen) == 3  # two seats, and one more beside slow jobs
    assert pool.running == 0


async def test_a_job_nobody_waits_for_is_not_started(make_pool: MakePool) -> None:
    pool = await make_pool(kernel="tests.support.kernels:sleep")

    with pytest.raises(CallerGone):
        await pool.run(job(1), b"x", wanted=lambda: False)
    assert pool.running == 0
    assert (await pool.run(job(1), b"y")).data == b"y"


async def test_close_ends_the_processes(make_pool: MakePool) -> None:
    pool = await make_pool(processes=2)
    pids = pool.idle_pids

    await pool.close()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
