"""The catalog's connection pool, opened inside the running event loop.

asyncpg binds a pool to the event loop that made it, and a service is built (``app.build``) before
its loop runs; so the gateway builds a ``CatalogPool`` and opens it at start. ``PgCatalog`` asks
anything with asyncpg's ``acquire``/``release`` for connections: this, or a plain ``asyncpg.Pool``.
"""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg

from services.gateway.catalog.config import CatalogConfig
from shared.errors import DatabaseUnavailable


class ConnectionSource(Protocol):
    async def acquire(self, *, timeout: float | None = None) -> Any: ...

    async def release(self, connection: Any) -> None: ...


class CatalogPool:
    def __init__(self, config: CatalogConfig) -> None:
        self._config = config
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        config = self._config
        self._pool = await asyncpg.create_pool(
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

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def acquire(self, *, timeout: float | None = None) -> Any:
        return await self._opened().acquire(timeout=timeout)

    async def release(self, connection: Any) -> None:
        await self._opened().release(connection)

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable("The file catalog's database is not connected yet; try again shortly.")
        return self._pool
