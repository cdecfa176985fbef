"""Waiting for something that happens shortly after what a test can observe directly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll ``check`` until it is true; fail the test when ``timeout`` seconds pass first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
