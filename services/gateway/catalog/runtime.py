"""The catalog's life in the gateway: what the app's lifespan opens and closes.

``open_catalog`` migrates (when configured), opens the asyncpg pool, starts the consumer of
``catalog.events`` and the periodic expiry, and on exit stops the consumer (in-flight events are
finished), cancels the expiry and closes the broker connection and the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from aio_pika.abc import AbstractRobustConnection

from services.gateway.catalog.events import CatalogEvents
from services.gateway.catalog.expiry import Expiry
from services.gateway.catalog.model import CatalogSettings
from services.gateway.catalog.store import PgCatalog
from services.gateway.files import src_prefix
from services.gateway.migrate import migrate
from services.gateway.settings import GatewaySettings
from shared.broker import Consumer, RetryPolicy, check_connection, connect, declare_catalog_queue
from shared.logging import get_logger
from shared.s3 import ObjectStore

log = get_logger(__name__)


def default_settings(settings: GatewaySettings) -> CatalogSettings:
    """What ``getSettings`` answers until ``updateSettings`` changes it."""
    return CatalogSettings(
        upload_min_file_size=settings.upload_min_size,
        upload_max_file_size=settings.upload_max_size,
        src_prefix=src_prefix(settings.download_base_url),
        allowed_types=tuple(settings.allowed_types),
    )


@dataclass
class CatalogRuntime:
    catalog: PgCatalog
    events: CatalogEvents
    expiry: Expiry
    connection: AbstractRobustConnection

    async def ping(self) -> None:
        """Readiness: the database answers and the event consumer is connected."""
        await self.catalog.ping()
        await check_connection(self.connection)


async def create_pool(settings: GatewaySettings) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        timeout=settings.database_timeout,
        command_timeout=settings.database_timeout,
        # asyncpg prepares every statement; a generic plan cannot see how selective a search
        # pattern is and may sort thousands of matches where walking the newest-first index
        # finds a page at once. Planning each execution costs a fraction of a millisecond.
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )
    return pool


@asynccontextmanager
async def open_catalog(settings: GatewaySettings, store: ObjectStore) -> AsyncIterator[CatalogRuntime]:
    url = settings.database_url.get_secret_value()
    if settings.database_migrate_on_start:
        await migrate(url, create_database=False)
    pool = await create_pool(settings)
    connection: AbstractRobustConnection | None = None
    consumer: Consumer | None = None
    expiry_task: asyncio.Task[None] | None = None
    try:
        catalog = PgCatalog(
            pool,
            default_settings(settings),
            timeout=settings.database_timeout,
            count_limit=settings.list_count_limit,
        )
        events = CatalogEvents(catalog, store, sniff_bytes=settings.sniff_bytes)
        expiry = Expiry(
            catalog,
            events,
            pending_max_age=settings.presign_expires + settings.pending_expiry_margin,
            rejected_retention=settings.rejected_retention,
            deleted_key_retention=settings.deleted_key_retention,
            interval=settings.expiry_interval,
        )
        connection = await connect(settings.amqp_url.get_secret_value(), name="gateway-catalog")
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=settings.amqp_prefetch)
        queue = await declare_catalog_queue(channel)
        consumer = Consumer(
            queue,
            events,
            name="catalog",
            retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
        )
        await consumer.start()
        if settings.expiry_interval > 0:
            expiry_task = asyncio.create_task(expiry.run_forever(), name="catalog-expiry")
        log.info("catalog started", pool_max=settings.database_pool_max)
        yield CatalogRuntime(catalog=catalog, events=events, expiry=expiry, connection=connection)
    finally:
        if expiry_task is not None:
            expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expiry_task
        if consumer is not None and connection is not None and not connection.is_closed:
            await consumer.stop()
        if connection is not None and not connection.is_closed:
            await connection.close()
        await pool.close()
        log.info("catalog stopped")
