"""The bridge as an ASGI app: health routes, the webhook routes (webhook source) and a lifespan
that connects to the broker and runs the chosen source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.routing import Route

from shared.health import Check, health_routes

from .checkpoint import CheckpointFile
from .meta_source import MetaTailSource, TailConfig
from .metrics import Metrics
from .publisher import BrokerPublisher
from .settings import SOURCE_WEBHOOK, BridgeSettings
from .webhook import WebhookReceiver


class Source(Protocol):
    async def check(self) -> None: ...


class _NoLifecycle:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def create_app(settings: BridgeSettings, metrics: Metrics | None = None) -> Starlette:
    metrics = metrics or Metrics()
    publisher = BrokerPublisher(
        settings.amqp_url.get_secret_value(), metrics=metrics, timeout=settings.bridge_publish_timeout
    )
    routes: list[Route] = []
    source: Source
    lifecycle: MetaTailSource | _NoLifecycle
    if settings.bridge_source == SOURCE_WEBHOOK:
        receiver = WebhookReceiver(
            publisher=publisher,
            bucket=settings.s3_bucket,
            metrics=metrics,
            token=settings.bridge_webhook_token.get_secret_value(),
        )
        routes += receiver.routes()
        source, lifecycle = receiver, _NoLifecycle()
    else:
        tail = MetaTailSource(
            TailConfig(
                weed_binary=settings.weed_path(),
                filer=settings.seaweedfs_filer,
                bucket=settings.s3_bucket,
                lookback_seconds=settings.bridge_start_lookback,
                margin_seconds=settings.bridge_resume_margin,
                backoff_max=settings.bridge_restart_backoff_max,
            ),
            publisher=publisher,
            checkpoint=CheckpointFile(settings.checkpoint_path()),
            metrics=metrics,
        )
        source, lifecycle = tail, tail

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await publisher.start()
        try:
            await lifecycle.start()
            try:
                yield
            finally:
                await lifecycle.stop()
        finally:
            await publisher.close()

    checks: dict[str, Check] = {"broker": publisher.check, "source": source.check}
    return Starlette(routes=[*health_routes(checks, metrics.registry), *routes], lifespan=lifespan)
