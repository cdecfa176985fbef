"""The periodic task of ``shared.worker``: runs on its interval, and a failing run is not the last."""

from __future__ import annotations

import asyncio
import contextlib

from shared.worker import Periodic


async def test_a_failing_run_does_not_stop_the_next_ones() -> None:
    runs: list[int] = []
    third = asyncio.Event()

    async def run() -> None:
        runs.append(len(runs))
        if len(runs) == 3:
            third.set()
        if len(runs) == 1:
            raise RuntimeError("the first run fails")

    task = asyncio.create_task(Periodic("test", 0.01, run).forever())
    try:
        await asyncio.wait_for(third.wait(), timeout=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert runs[:3] == [0, 1, 2]
