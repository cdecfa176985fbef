"""The catalog's moving parts in one process, started and stopped together.

``start`` applies missing migrations (when asked), opens the connection pool and starts the consumer
of ``catalog.events`` with its periodic expiry; ``stop`` lets the events in hand finish, then closes
the broker connection and the pool. The parts are built by whoever owns the process (the gateway's
``build``) and come in through the constructor.

A database (or broker) that does not answer at start does not stop the gateway: ``start`` returns,
the same steps are tried again in the background with a doubling back-off, and meanwhile the API
answers DATABASE_UNAVAILABLE (503, retryable) and ``/readyz`` is not ready. Once they succeed the
gateway is whole, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.gateway.catalog.events import CatalogEvents
from services.gateway.catalog.expiry import Expiry
from services.gateway.catalog.migrate import migrate
from services.gateway.catalog.pool import CatalogPool
from services.gateway.catalog.store import PgCatalog
from shared.logging import get_logger
from shared.outage import dependency_of
from shared.retry import RetryPolicy, Stopped, retry
from shared.worker import QueueWorker

log = get_logger(__name__)

# Waits between attempts to start while the database or broker does not answer.
START_BACKOFF = RetryPolicy(0.5, 10.0)


class CatalogService:
    def __init__(
        self,
        *,
        pool: CatalogPool,
        catalog: PgCatalog,
        events: CatalogEvents,
        expiry: Expiry,
        worker: QueueWorker,
        migrate_url: str | None = None,
        start_backoff: RetryPolicy = START_BACKOFF,
    ) -> None:
        self.catalog = catalog
        self.events = events
        self.expiry = expiry
        self.worker = worker
        self._pool = pool
        self._migrate_url = migrate_url
        self._start_backoff = start_backoff
        self._stopping = asyncio.Event()
        self._starting: asyncio.Task[None] | None = None
        self._migrated = migrate_url is None
        self._opened = False
        self.started = asyncio.Event()

    async def start(self) -> None:
        """Start, or (the database or broker not answering) go on starting in the background."""
        self._stopping.clear()
        try:
            await self._start_once()
        except Exception as exc:
            if dependency_of(exc) is None:
                raise
            log.warning("catalog not started: a dependency does not answer; retrying", error=repr(exc)[:300])
            self._starting = asyncio.create_task(self._start_until_done(), name="catalog start")

    async def _start_once(self) -> None:
        if not self._migrated and self._migrate_url is not None:
            await migrate(self._migrate_url, create_database=False)
            self._migrated = True
        if not self._opened:
            await self._pool.open()
            self._opened = True
        try:
            await self.worker.start()
        except Exception:
            await self.worker.stop()  # what it had opened before it failed
            raise
        self.started.set()
        log.info("catalog started")

    async def _start_until_done(self) -> None:
        def failed(exc: Exception, in_seconds: float) -> None:
            log.warning("catalog still not started", error=repr(exc)[:300], in_seconds=in_seconds)

        with contextlib.suppress(Stopped):
            await retry(self._start_once, policy=self._start_backoff, stop=self._stopping, retry_on=Exception,
                        on_failure=failed)  # fmt: skip

    async def stop(self) -> None:
        self._stopping.set()
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
            self._starting = None
        await self.worker.stop()
        await self._pool.close()
        self._opened = False
        log.info("catalog stopped")

    async def ping(self) -> None:
        """Readiness: the database answers and the event consumer is connected."""
        await self.catalog.ping()
        await self.worker.check()
