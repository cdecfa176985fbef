"""7. Hostile pictures: how long a CPU bomb holds a kernel process, an ordinary resize beside two
bombs, and the peak memory of a 49 MP PNG job.

The bomb: a 49 MP grey progressive JPEG whose all-zero AC scan is repeated until the file is
1 MB (``devstack.bombs``; about 8 ms of decoding per scan, some 80 s in all).
With the default ``MAX_JPEG_SCANS`` it is refused from its markers; with the limit lifted, the
kernel decodes it and ``JOB_TIMEOUT`` stops it. Measured on ``KernelPool`` as the worker builds
it (2 processes, 1 spare, slow after 2 s), kernel only: no S3, no broker
(``tests/integration/test_hostile_resize.py`` checks the same through the real worker).

    .venv/bin/python -m bench.hostile [--smoke] [--job-timeout 30]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from collections.abc import Awaitable

from PIL import Image

from bench.common import WORK, Options, table
from bench.pictures import load
from devstack.bombs import many_scans_jpeg
from devstack.photos import photo
from services.resize.job import JobSpec
from services.resize.pool import JobTimedOut, KernelPool
from services.resize.settings import ResizeSettings
from shared.errors import TooManyScans

BOMB_BYTES = 1_000_000
HUGE_PNG = WORK / "pictures" / "huge49.png"  # 7000 x 7000 RGBA, made once


def _bomb(side: int, size: int) -> bytes:
    per_scan = len(many_scans_jpeg(side, side, 3)) - len(many_scans_jpeg(side, side, 2))
    return many_scans_jpeg(side, side, max(2, (size - len(many_scans_jpeg(side, side, 1))) // per_scan))


def _huge_png(side: int) -> bytes:
    if side < 7000:
        buffer = io.BytesIO()
        photo(side, side, mode="RGBA").save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()
    if not HUGE_PNG.exists():
        HUGE_PNG.parent.mkdir(parents=True, exist_ok=True)
        small = photo(side // 4, side // 4, mode="RGBA").resize((side, side), Image.Resampling.BICUBIC)
        noise = Image.effect_noise((side, side), 12).convert("L")
        red, green, blue, alpha = small.split()
        Image.merge("RGBA", (Image.blend(red, noise, 0.1), green, blue, alpha)).save(HUGE_PNG, compress_level=1)
    return HUGE_PNG.read_bytes()


def _spec(width: int, fmt: str, max_scans: int) -> JobSpec:
    return JobSpec(width=width, format=fmt, max_pixels=50_000_000, quality=82, max_scans=max_scans)


async def _measure(options: Options, job_timeout: float) -> list[list[str]]:
    side = 700 if options.smoke else 7000
    bomb = _bomb(side, BOMB_BYTES // (100 if options.smoke else 1))
    defaults = ResizeSettings()
    photo_picture = options.photos[0]
    photo_bytes = load(photo_picture)
    ordinary = _spec(photo_picture.target, "jpeg", defaults.max_jpeg_scans)
    lifted = _spec(500, "jpeg", 1_000_000)
    pool = KernelPool(
        processes=2,
        spares=defaults.spare_processes,
        slow_after=defaults.slow_job_seconds,
        job_timeout=job_timeout,
        memory_limit=defaults.job_memory_limit,
    )
    await pool.start()
    rows: list[list[str]] = []
    try:
        started = time.perf_counter()
        try:
            await pool.run(_spec(500, "jpeg", defaults.max_jpeg_scans), bomb)
            refused = "decoded (not refused)"
        except TooManyScans:
            refused = "TOO_MANY_SCANS"
        rows.append(
            [
                f"{len(bomb) / 1e6:.1f} MB bomb, default MAX_JPEG_SCANS ({defaults.max_jpeg_scans})",
                refused,
                f"{(time.perf_counter() - started) * 1000:.0f} ms",
            ]
        )

        alone = [await _timed(pool.run(ordinary, photo_bytes)) for _ in range(5)]
        bombs = [asyncio.create_task(_held(pool, lifted, bomb)) for _ in range(2)]
        await asyncio.sleep(defaults.slow_job_seconds + 0.5)
        beside: list[float] = []
        while not all(b.done() for b in bombs) and len(beside) < 20:
            beside.append(await _timed(pool.run(ordinary, photo_bytes)))
        held = [await task for task in bombs]
        rows.append(
            [
                f"the same bomb, scan limit lifted, JOB_TIMEOUT {job_timeout:.0f} s (2 at once)",
                "killed at the deadline" if all(stopped for stopped, _ in held) else "finished before the deadline",
                " / ".join(f"{seconds:.2f} s" for _, seconds in held),
            ]
        )
        rows.append([f"{photo_picture.label}, alone (5 runs)", "ok", _spread(alone)])
        rows.append([f"{photo_picture.label}, beside the two bombs ({len(beside)} runs)", "ok", _spread(beside)])

        huge = _huge_png(side)
        result = await pool.run(_spec(500, "png", defaults.max_jpeg_scans), huge)
        peak = f"{result.peak_rss / 2**20:.0f} MiB peak RSS" if result.peak_rss else "peak not reported"
        rows.append([f"{side * side / 1e6:.0f} MP RGBA PNG ({len(huge) / 1e6:.0f} MB) -> 500 PNG", "ok", peak])
    finally:
        await pool.close()
    return rows


async def _timed(job: Awaitable[object]) -> float:
    started = time.perf_counter()
    await job
    return time.perf_counter() - started


async def _held(pool: KernelPool, spec: JobSpec, bomb: bytes) -> tuple[bool, float]:
    """Whether the bomb was stopped at the deadline, and how long it held its process."""
    started = time.perf_counter()
    try:
        await pool.run(spec, bomb)
    except JobTimedOut:
        return True, time.perf_counter() - started
    return False, time.perf_counter() - started


def _spread(seconds: list[float]) -> str:
    if not seconds:
        return "none ran"
    return f"median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"


def run(options: Options, shared: dict[str, object] | None = None, *, job_timeout: float | None = None) -> str:
    timeout = job_timeout or (2.0 if options.smoke else ResizeSettings().job_timeout)
    rows = asyncio.run(_measure(options, timeout))
    return (
        "## 7. Hostile pictures in the kernel pool\n\n"
        "`KernelPool` as the worker builds it (2 processes, 1 spare, the default settings), kernel "
        "only. The bomb is a 49 MP grey progressive JPEG of repeated scans; the photo is resized "
        "while two bombs run; the PNG's peak is the kernel process's peak resident memory.\n\n"
        + table(["job", "outcome", "time or memory"], rows)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--job-timeout", type=float, default=None)
    args = parser.parse_args()
    print(run(Options.smoke_run() if args.smoke else Options(), job_timeout=args.job_timeout))
