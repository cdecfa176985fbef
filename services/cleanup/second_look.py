"""A second clean-up of a removed original's variants, a while after the first.

A resize job that read the original just before it was deleted writes its variant after the job,
which may be after the clean-up of ``variants/{id}/`` (the job runs for up to the resize worker's
``JOB_TIMEOUT``). Nothing serves such a variant, but it would stay until the orphan sweep. So each
clean-up is done once more, ``delay`` seconds later, unless the original is back by then.

The looks wait in this process: a worker that stops before one is due leaves that variant to the
sweep, as before. At most ``limit`` looks wait at a time; beyond that, the sweep again.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.cleanup.metrics import Metrics
from shared.errors import Unavailable
from shared.logging import get_logger
from shared.s3 import ObjectStore

log = get_logger(__name__)


class SecondLook:
    def __init__(self, store: ObjectStore, *, delay: float, metrics: Metrics, limit: int = 10_000) -> None:
        self._store = store
        self._delay = delay
        self._metrics = metrics
        self._limit = limit
        self._waiting: dict[str, asyncio.Task[None]] = {}

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def schedule(self, key: str, prefix: str) -> None:
        """Clean ``prefix`` again after the delay, unless ``key`` (the original) exists by then."""
        if self._delay <= 0 or prefix in self._waiting or len(self._waiting) >= self._limit:
            return
        self._waiting[prefix] = asyncio.create_task(self._later(key, prefix), name=f"second-look {prefix}")

    async def _later(self, key: str, prefix: str) -> None:
        try:
            await asyncio.sleep(self._delay)
            if await self._store.head(key) is not None:
                return  # uploaded again: its variants are its own
            deleted = await self._store.delete_prefix(prefix)
        except Unavailable as exc:
            log.warning("second clean-up not done; the sweep will", prefix=prefix, error=exc.message)
            return
        finally:
            self._waiting.pop(prefix, None)
        if deleted:
            self._metrics.variants_deleted.labels(via="second_look").inc(deleted)
            log.info("variants written after the clean-up deleted", key=key, prefix=prefix, deleted=deleted)

    async def close(self) -> None:
        tasks = list(self._waiting.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._waiting.clear()
