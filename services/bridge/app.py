"""The bridge as an ASGI app: health routes, the webhook routes (webhook source) and a lifespan
that connects to the broker and runs the chosen source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import boto3
from starlette.applications import Starlette
from starlette.routing import Route

from services.bridge.checkpoint import CheckpointFile
from services.bridge.meta_source import MetaTailSource, TailConfig
from services.bridge.metrics import Metrics
from services.bridge.publisher import BrokerPublisher
from services.bridge.settings import SOURCE_SQS, SOURCE_WEBHOOK, BridgeSettings
from services.bridge.sqs_source import SqsClient, SqsConfig, SqsSource
from services.bridge.webhook import WebhookReceiver
from shared.health import Check, health_routes


class Source(Protocol):
    async def check(self) -> None: ...


class _NoLifecycle:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def build(settings: BridgeSettings, *, metrics: Metrics | None = None, sqs: SqsClient | None = None) -> Starlette:
    """The bridge; ``sqs`` replaces the boto3 SQS client made from the settings (tests)."""
    metrics = metrics or Metrics()
    publisher = BrokerPublisher(
        settings.amqp_url.get_secret_value(), metrics=metrics, timeout=settings.bridge_publish_timeout
    )
    routes: list[Route] = []
    source: Source
    lifecycle: MetaTailSource | SqsSource | _NoLifecycle
    if settings.bridge_source == SOURCE_WEBHOOK:
        receiver = WebhookReceiver(
            publisher=publisher,
            bucket=settings.s3_bucket,
            metrics=metrics,
            token=settings.bridge_webhook_token.get_secret_value(),
        )
        routes += receiver.routes()
        source, lifecycle = receiver, _NoLifecycle()
    elif settings.bridge_source == SOURCE_SQS:
        sqs_source = SqsSource(
            sqs or sqs_client(settings),
            SqsConfig(
                queue_url=settings.bridge_sqs_queue_url,
                bucket=settings.s3_bucket,
                wait_seconds=settings.bridge_sqs_wait_seconds,
                max_messages=settings.bridge_sqs_max_messages,
                backoff_max=settings.bridge_restart_backoff_max,
            ),
            publisher=publisher,
            metrics=metrics,
        )
        source, lifecycle = sqs_source, sqs_source
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


def sqs_client(settings: BridgeSettings) -> Any:
    """boto3's SQS client: the S3 credentials and region (an IAM identity for both), or the
    default AWS credential chain when no access key is set."""
    access_key = settings.s3_access_key.get_secret_value()
    secret_key = settings.s3_secret_key.get_secret_value() if access_key else None
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=settings.bridge_sqs_endpoint_url or None,
        region_name=settings.s3_region,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key,
    )
