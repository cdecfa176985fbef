"""Builds the download service's ASGI app from its settings.

The lifespan owns the broker connection (and its RPC client); the S3 client needs no I/O to
build. Routes: ``/files/{key}`` (GET, HEAD), ``/healthz``, ``/readyz``, ``/metrics``; CORS
(``shared.cors``) answers preflights before them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.download.access_log import AccessLog
from services.download.broker_link import BrokerLink
from services.download.cache import ObjectCache
from services.download.endpoint import FilesEndpoint
from services.download.metrics import Metrics
from services.download.objects import CachedObjects
from services.download.resizer import ResizeCoordinator
from services.download.resolver import GRACE, VariantResolver
from services.download.responses import FileResponder
from services.download.settings import DownloadSettings
from shared.cors import CorsMiddleware, CorsPolicy
from shared.health import health_routes
from shared.http import CorrelationIdMiddleware
from shared.logging import get_logger
from shared.messages import MAX_INLINE
from shared.s3 import ObjectStore

SERVICE_NAME = "download"

log = get_logger(__name__)


def cors_policy(settings: DownloadSettings) -> CorsPolicy:
    """Scripts may read files (Webiny's image editor loads one with an XHR, without credentials);
    credentials are never allowed: nothing here depends on who asks."""
    return CorsPolicy(
        settings.download_cors_allow_origins,
        methods=["GET", "HEAD"],
        headers=["accept", "range", "if-range", "if-none-match", "if-modified-since", "x-correlation-id"],
        expose=["accept-ranges", "content-disposition", "content-range", "etag", "x-correlation-id"],
        credentials=False,
        max_age=3600,
    )


def build(settings: DownloadSettings, *, metrics: Metrics | None = None) -> Starlette:
    metrics = metrics or Metrics()
    store = ObjectStore.from_settings(settings)
    broker = BrokerLink(
        settings.amqp_url.get_secret_value(),
        name=SERVICE_NAME,
        resize_queue_max_length=settings.resize_queue_max_length,
    )
    resizer = ResizeCoordinator(broker, metrics, timeout=settings.resize_timeout)
    cache = ObjectCache(
        max_bytes=settings.cache_bytes, max_item_bytes=settings.cache_item_bytes, ttl=settings.cache_ttl
    )
    objects = CachedObjects(store, cache)
    endpoint = FilesEndpoint(
        VariantResolver(
            objects,
            resizer,
            settings.image_widths,
            negotiate=settings.negotiate_formats,
            # a new variant this small comes back in the resize reply (held as a fetched one was)
            inline_max=min(settings.cache_item_bytes, settings.redirect_threshold, MAX_INLINE),
            grace=min(GRACE, settings.resize_timeout / 4),
        ),
        FileResponder(
            objects,
            redirect_threshold=settings.redirect_threshold,
            presigned_expires=settings.presigned_get_expires,
            redirect_max_age=settings.redirect_max_age,
        ),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await broker.start()
        if settings.cache_bytes > 0:
            await broker.watch_files(objects.forget)
        log.info("download service ready", bucket=settings.s3_bucket)
        try:
            yield
        finally:
            await resizer.close()
            await broker.stop()
            store.close()

    routes = [
        Route("/files/{key:path}", endpoint.handle, methods=["GET", "HEAD"]),
        *health_routes({"broker": broker.check, "store": store.ping}, metrics.registry),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(CorrelationIdMiddleware, observer=AccessLog(metrics)),
            Middleware(CorsMiddleware, policy=cors_policy(settings)),
        ],
        lifespan=lifespan,
    )
