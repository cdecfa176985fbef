"""Builds the gateway's ASGI app from its settings: /graphql, /healthz, /readyz, /metrics.

Every part is made here and handed to what uses it: the object store, the catalog (its pool, its
consumer of ``catalog.events`` and the periodic expiry, in ``CatalogService``), and the services the
resolvers call. The lifespan starts the catalog and, on the way out, stops it and closes the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.gateway.auth import Principal, TokenVerifier
from services.gateway.budget import BudgetLimits, RequestBudget
from services.gateway.catalog.events import CatalogEvents
from services.gateway.catalog.expiry import Expiry
from services.gateway.catalog.model import Preferences
from services.gateway.catalog.pool import CatalogPool
from services.gateway.catalog.service import CatalogService
from services.gateway.catalog.store import PgCatalog
from services.gateway.context import RequestContext
from services.gateway.endpoint import GraphQLEndpoint
from services.gateway.files import FileService, src_prefix
from services.gateway.metrics import Metrics
from services.gateway.preferences import PreferencesCache
from services.gateway.query_limits import QueryLimits, limits_rule
from services.gateway.schema import build_schema
from services.gateway.settings import GatewaySettings
from services.gateway.upload_service import UploadService
from shared.broker import declare_catalog_queue
from shared.cors import CorsMiddleware, CorsPolicy
from shared.health import health_routes
from shared.http import CorrelationIdMiddleware
from shared.logging import get_logger
from shared.retry import RetryPolicy
from shared.s3 import ObjectStore
from shared.worker import Periodic, QueueWorker, fixed

log = get_logger(__name__)


def default_preferences(settings: GatewaySettings) -> Preferences:
    """What ``getSettings`` answers until ``updateSettings`` changes it."""
    return Preferences(
        upload_min_file_size=settings.upload_min_size,
        upload_max_file_size=settings.upload_max_size,
        src_prefix=src_prefix(settings.download_base_url),
        allowed_types=tuple(settings.allowed_types),
    )


def build_catalog(
    settings: GatewaySettings, store: ObjectStore, *, registry: CollectorRegistry | None = None
) -> CatalogService:
    pool = CatalogPool(settings)
    catalog = PgCatalog(
        pool,
        default_preferences(settings),
        timeout=settings.database_timeout,
        count_limit=settings.list_count_limit,
    )
    events = CatalogEvents(catalog, store, sniff_bytes=settings.sniff_bytes)
    expiry = Expiry(
        catalog,
        events,
        store=store,
        pending_max_age=settings.presign_expires + settings.pending_expiry_margin,
        multipart_max_age=settings.multipart_expires + settings.pending_expiry_margin,
        rejected_retention=settings.rejected_retention,
        deleted_key_retention=settings.deleted_key_retention,
    )
    worker = QueueWorker(
        name="gateway-catalog",
        amqp_url=settings.amqp_url.get_secret_value(),
        declare=declare_catalog_queue,
        handler=fixed(events),
        prefetch=settings.amqp_prefetch,
        retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
        periodic=[Periodic("catalog-expiry", settings.expiry_interval, expiry.run_scheduled)],
        # An event that fails because one of these is down waits for it, unspent (shared.outage).
        dependencies={"database": catalog.ping, "storage": store.ping},
        registry=registry,
    )
    migrate_url = settings.database_url.get_secret_value() if settings.database_migrate_on_start else None
    return CatalogService(
        pool=pool, catalog=catalog, events=events, expiry=expiry, worker=worker, migrate_url=migrate_url
    )


def cors_policy(settings: GatewaySettings) -> CorsPolicy:
    """Webiny's admin app sends credentials (``credentials: "include"``, since 5.39): listed origins
    get them; with ``*`` nobody does (and such a browser request is refused by the browser)."""
    return CorsPolicy(
        settings.cors_allow_origins,
        methods=["GET", "POST"],
        headers=settings.cors_allow_headers,
        expose=["x-correlation-id"],
        credentials=True,
        max_age=600,
    )


def build(settings: GatewaySettings) -> Starlette:
    metrics = Metrics()
    store = ObjectStore.from_settings(settings)
    catalog = build_catalog(settings, store, registry=metrics.registry)
    files = FileService(catalog.catalog, store)
    preferences = PreferencesCache(catalog.catalog, ttl=settings.settings_cache_ttl)
    uploads = UploadService(
        catalog.catalog,
        store,
        files,
        preferences,
        presign_expires=settings.presign_expires,
        multipart_expires=settings.multipart_expires,
        max_pending=settings.max_pending_uploads_per_user,
    )
    budget_limits = BudgetLimits(
        operations=settings.max_operations_per_request,
        uploads=settings.max_uploads_per_request,
        lists=settings.max_lists_per_request,
    )

    def context(principal: Principal, correlation_id: str) -> RequestContext:
        return RequestContext(
            principal=principal,
            catalog=catalog.catalog,
            files=files,
            uploads=uploads,
            preferences=preferences,
            metrics=metrics,
            correlation_id=correlation_id,
            budget=RequestBudget(budget_limits),  # one per HTTP request: every operation of it spends from it
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            try:
                await store.ping()
            except Exception as exc:  # noqa: BLE001 - start anyway; /readyz reports it
                log.warning("object store not reachable at start", error=f"{type(exc).__name__}: {exc}")
            try:
                await catalog.start()
                log.info("gateway started", bucket=store.bucket)
                yield
            finally:
                await catalog.stop()
        finally:
            store.close()
            log.info("gateway stopped")

    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_fields=settings.max_query_fields,
        max_aliases=settings.max_query_aliases,
    )
    endpoint = GraphQLEndpoint(
        build_schema(),
        TokenVerifier.from_settings(settings),
        metrics,
        context,
        max_body_bytes=settings.max_body_bytes,
        max_batch_size=settings.max_batch_size,
        validation_rules=[limits_rule(limits)],
    )
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        *health_routes({"s3": store.ping, "catalog": catalog.ping}, metrics.registry),
    ]
    middleware = [
        Middleware(CorrelationIdMiddleware),
        Middleware(CorsMiddleware, policy=cors_policy(settings)),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
