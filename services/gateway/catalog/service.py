"""The catalog's moving parts in one process, started and stopped together.

``start`` applies missing migrations (when asked), opens the connection pool and starts the consumer
of ``catalog.events`` with its periodic expiry; ``stop`` lets the events in hand finish, then closes
the broker connection and the pool. The parts are built by whoever owns the process (the gateway's
``build``) and come in through the constructor.
"""

from __future__ import annotations

import asyncpg

from services.gateway.catalog.config import CatalogConfig
from services.gateway.catalog.events import CatalogEvents
from services.gateway.catalog.expiry import Expiry
from services.gateway.catalog.migrate import migrate
from services.gateway.catalog.store import PgCatalog
from shared.logging import get_logger
from shared.worker import QueueWorker

log = get_logger(__name__)


def create_pool(config: CatalogConfig) -> asyncpg.Pool:
    """The pool, not yet connected: awaiting it (``CatalogService.start``) opens its connections."""
    return asyncpg.create_pool(
        config.database_url.get_secret_value(),
        min_size=config.database_pool_min,
        max_size=config.database_pool_max,
        timeout=config.database_timeout,
        command_timeout=config.database_timeout,
        # asyncpg prepares every statement; a generic plan cannot see how selective a search
        # pattern is and may sort thousands of matches where walking the newest-first index
        # finds a page at once. Planning each execution costs a fraction of a millisecond.
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )


class CatalogService:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        catalog: PgCatalog,
        events: CatalogEvents,
        expiry: Expiry,
        worker: QueueWorker,
        migrate_url: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.events = events
        self.expiry = expiry
        self.worker = worker
        self._pool = pool
        self._migrate_url = migrate_url
        self._pool_open = False

    async def start(self) -> None:
        if self._migrate_url is not None:
            await migrate(self._migrate_url, create_database=False)
        await self._pool  # connects min_size connections
        self._pool_open = True
        await self.worker.start()
        log.info("catalog started")

    async def stop(self) -> None:
        await self.worker.stop()
        if self._pool_open:
            await self._pool.close()
            self._pool_open = False
        log.info("catalog stopped")

    async def ping(self) -> None:
        """Readiness: the database answers and the event consumer is connected."""
        await self.catalog.ping()
        await self.worker.check()
