"""The catalog's moving parts in one process, started and stopped together.

``start`` applies missing migrations (when asked), opens the connection pool and starts the consumer
of ``catalog.events`` with its periodic expiry; ``stop`` lets the events in hand finish, then closes
the broker connection and the pool. The parts are built by whoever owns the process (the gateway's
``build``) and come in through the constructor.
"""

from __future__ import annotations

from services.gateway.catalog.events import CatalogEvents
from services.gateway.catalog.expiry import Expiry
from services.gateway.catalog.migrate import migrate
from services.gateway.catalog.pool import CatalogPool
from services.gateway.catalog.store import PgCatalog
from shared.logging import get_logger
from shared.worker import QueueWorker

log = get_logger(__name__)


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
    ) -> None:
        self.catalog = catalog
        self.events = events
        self.expiry = expiry
        self.worker = worker
        self._pool = pool
        self._migrate_url = migrate_url

    async def start(self) -> None:
        if self._migrate_url is not None:
            await migrate(self._migrate_url, create_database=False)
        await self._pool.open()
        await self.worker.start()
        log.info("catalog started")

    async def stop(self) -> None:
        await self.worker.stop()
        await self._pool.close()
        log.info("catalog stopped")

    async def ping(self) -> None:
        """Readiness: the database answers and the event consumer is connected."""
        await self.catalog.ping()
        await self.worker.check()
