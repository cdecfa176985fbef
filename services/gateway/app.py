"""The gateway's ASGI app: /graphql, /healthz, /readyz, /metrics; the lifespan owns the store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from services.gateway.auth import Principal, TokenVerifier
from services.gateway.context import RequestContext
from services.gateway.endpoint import GraphQLEndpoint
from services.gateway.files import FileService
from services.gateway.metrics import Metrics
from services.gateway.schema import build_schema
from services.gateway.settings import GatewaySettings
from services.gateway.uploads import UploadPolicy
from shared.errors import Unavailable
from shared.health import health_routes
from shared.http import CorrelationIdMiddleware
from shared.logging import get_logger
from shared.s3 import ObjectStore

StoreFactory = Callable[[], ObjectStore]


class Lifecycle:
    """Holds the object store (and the file service over it) between start and stop."""

    def __init__(self, settings: GatewaySettings, store_factory: StoreFactory) -> None:
        self._settings = settings
        self._store_factory = store_factory
        self._files: FileService | None = None

    @property
    def files(self) -> FileService:
        if self._files is None:
            raise Unavailable("The gateway is not started.")
        return self._files

    async def ping(self) -> None:
        await self.files.store.ping()

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        log = get_logger(__name__)
        store = self._store_factory()
        self._files = FileService(
            store,
            download_base_url=self._settings.download_base_url,
            presign_expires=self._settings.presign_expires,
        )
        try:
            await store.ping()
        except Exception as exc:  # noqa: BLE001 - start anyway; /readyz reports it
            log.warning("object store not reachable at start", error=f"{type(exc).__name__}: {exc}")
        log.info("gateway started", bucket=store.bucket)
        try:
            yield
        finally:
            self._files = None
            store.close()
            log.info("gateway stopped")


def build_app(
    settings: GatewaySettings,
    *,
    store_factory: StoreFactory | None = None,
    verifier: TokenVerifier | None = None,
) -> Starlette:
    metrics = Metrics()
    lifecycle = Lifecycle(settings, store_factory or (lambda: ObjectStore.from_settings(settings)))
    policy = UploadPolicy(
        min_size=settings.upload_min_size,
        max_size=settings.upload_max_size,
        allowed_types=tuple(settings.allowed_types),
    )

    def context(principal: Principal, correlation_id: str) -> RequestContext:
        return RequestContext(
            principal=principal,
            files=lifecycle.files,
            policy=policy,
            metrics=metrics,
            correlation_id=correlation_id,
        )

    endpoint = GraphQLEndpoint(
        build_schema(),
        verifier or TokenVerifier.from_settings(settings),
        metrics,
        context,
        max_body_bytes=settings.max_body_bytes,
        max_batch_size=settings.max_batch_size,
    )
    routes = [
        Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
        *health_routes({"s3": lifecycle.ping}, metrics.registry),
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
