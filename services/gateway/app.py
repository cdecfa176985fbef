"""The gateway's ASGI app: /graphql, /healthz, /readyz, /metrics.

The lifespan owns the object store and the catalog (its connection pool and event consumer, opened
by ``catalog.runtime.open_catalog``); requests get them through ``RequestContext``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from services.gateway.auth import Principal, TokenVerifier
from services.gateway.catalog import runtime
from services.gateway.catalog.model import Catalog
from services.gateway.context import RequestContext
from services.gateway.endpoint import GraphQLEndpoint
from services.gateway.file_settings import SettingsCache
from services.gateway.files import FileService
from services.gateway.metrics import Metrics
from services.gateway.query_limits import QueryLimits, limits_rule
from services.gateway.schema import build_schema
from services.gateway.settings import GatewaySettings
from services.gateway.upload_service import UploadService
from shared.errors import Unavailable
from shared.health import health_routes
from shared.http import CorrelationIdMiddleware
from shared.logging import get_logger
from shared.s3 import ObjectStore

StoreFactory = Callable[[], ObjectStore]


class OpenedCatalog(Protocol):
    """What ``catalog.runtime.open_catalog`` yields: the store, and a readiness check (database
    and event consumer)."""

    @property
    def catalog(self) -> Catalog: ...

    async def ping(self) -> None: ...


CatalogOpener = Callable[[GatewaySettings, ObjectStore], AbstractAsyncContextManager[OpenedCatalog]]


@dataclass(frozen=True)
class Components:
    store: ObjectStore
    opened: OpenedCatalog
    catalog: Catalog
    files: FileService
    uploads: UploadService
    settings: SettingsCache


class Lifecycle:
    """Holds the store, the catalog and the services over them between start and stop."""

    def __init__(self, settings: GatewaySettings, store_factory: StoreFactory, open_catalog: CatalogOpener) -> None:
        self._settings = settings
        self._store_factory = store_factory
        self._open_catalog = open_catalog
        self._components: Components | None = None

    @property
    def components(self) -> Components:
        if self._components is None:
            raise Unavailable("The gateway is not started.")
        return self._components

    async def ping_store(self) -> None:
        await self.components.store.ping()

    async def ping_catalog(self) -> None:
        await self.components.opened.ping()

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        log = get_logger(__name__)
        settings = self._settings
        store = self._store_factory()
        try:
            try:
                await store.ping()
            except Exception as exc:  # noqa: BLE001 - start anyway; /readyz reports it
                log.warning("object store not reachable at start", error=f"{type(exc).__name__}: {exc}")
            async with self._open_catalog(settings, store) as opened:
                catalog = opened.catalog
                files = FileService(catalog, store)
                cache = SettingsCache(catalog, ttl=settings.settings_cache_ttl)
                uploads = UploadService(
                    catalog,
                    store,
                    files,
                    cache,
                    presign_expires=settings.presign_expires,
                    multipart_expires=settings.multipart_expires,
                )
                self._components = Components(store, opened, catalog, files, uploads, cache)
                log.info("gateway started", bucket=store.bucket)
                try:
                    yield
                finally:
                    self._components = None
        finally:
            store.close()
            log.info("gateway stopped")


def build_app(
    settings: GatewaySettings,
    *,
    store_factory: StoreFactory | None = None,
    verifier: TokenVerifier | None = None,
    open_catalog: CatalogOpener | None = None,
) -> Starlette:
    metrics = Metrics()
    lifecycle = Lifecycle(
        settings,
        store_factory or (lambda: ObjectStore.from_settings(settings)),
        open_catalog or runtime.open_catalog,
    )

    def context(principal: Principal, correlation_id: str) -> RequestContext:
        parts = lifecycle.components
        return RequestContext(
            principal=principal,
            catalog=parts.catalog,
            files=parts.files,
            uploads=parts.uploads,
            settings=parts.settings,
            metrics=metrics,
            correlation_id=correlation_id,
        )

    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_fields=settings.max_query_fields,
        max_aliases=settings.max_query_aliases,
    )
    endpoint = GraphQLEndpoint(
        build_schema(),
        verifier or TokenVerifier.from_settings(settings),
        metrics,
        context,
        max_body_bytes=settings.max_body_bytes,
        max_batch_size=settings.max_batch_size,
        validation_rules=[limits_rule(limits)],
    )
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        *health_routes({"s3": lifecycle.ping_store, "catalog": lifecycle.ping_catalog}, metrics.registry),
    ]
    middleware = [
        Middleware(CorrelationIdMiddleware),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["x-correlation-id"],
            max_age=600,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifecycle.lifespan)
