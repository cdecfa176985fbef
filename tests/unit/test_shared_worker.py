"""The periodic task of ``shared.worker``: runs on its interval, and a failing run is not the last."""

from __future__ import annotations

import asyncio
import contextlib

from shared.worker import Periodic


async def test_a_failing_run_does_not_stop_the_next_ones() -> None:
    runs: list[int] = []

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the first run fails")

    task = asyncio.create_task(Periodic("test", 0.01, run).forever())
    try:
        async with asyncio.timeout(5):
            while len(runs) < 3:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert runs[:3] == [0, 1, 2]
