"""One job per original at a time, and no waiting behind a slow one.

Why: every original has a variant per width and format (7 x 4), and anyone may ask for all of
them at once. Were each request a job of its own, one hostile picture would take every kernel
process; here its requests queue behind each other. A request waits for its original's turn
only while the job in hand is young: once that job has run for ``slow_after`` seconds (a
picture far costlier than a photo), the request is answered RESIZE_BUSY (503, try again) at
once, so that it does not hold one of the worker's prefetched messages for the whole deadline.
Ordinary pictures take well under a second, so a page asking for several widths of one photo
only waits a little.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from shared.errors import ResizeBusy


@dataclass
class _Turn:
    started: float
    done: asyncio.Event = field(default_factory=asyncio.Event)


class OriginalGate:
    def __init__(self, *, slow_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._slow_after = slow_after
        self._clock = clock
        self._turns: dict[str, _Turn] = {}

    @property
    def holding(self) -> int:
        return len(self._turns)

    @contextlib.asynccontextmanager
    async def turn(self, original: str) -> AsyncIterator[None]:
        """Hold the original's turn for the block; raises ``ResizeBusy`` instead of waiting
        behind a job of the same original that has run ``slow_after`` seconds already."""
        while (current := self._turns.get(original)) is not None:
            left = current.started + self._slow_after - self._clock()
            if left <= 0:
                raise ResizeBusy("This image is being processed already; try again shortly.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(current.done.wait(), left)
        mine = _Turn(self._clock())
        self._turns[original] = mine
        try:
            yield
        finally:
            del self._turns[original]
            mine.done.set()
