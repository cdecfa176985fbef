"""``python -m services.cleanup``: deletes the variants of removed originals."""

from __future__ import annotations

import asyncio

from shared.broker import RetryPolicy
from shared.logging import configure_logging, get_logger
from shared.runtime import run_until_signalled
from shared.s3 import ObjectStore

from .metrics import Metrics
from .settings import CleanupSettings
from .worker import CleanupWorker


def build(settings: CleanupSettings) -> CleanupWorker:
    return CleanupWorker(
        amqp_url=settings.amqp_url.get_secret_value(),
        store=ObjectStore.from_settings(settings),
        metrics=Metrics(),
        prefetch=settings.amqp_prefetch,
        sweep_interval=settings.sweep_interval,
        sweep_grace=settings.sweep_grace,
        host=settings.host,
        port=settings.port,
        stop_timeout=settings.stop_timeout,
        retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
    )


def main() -> None:
    settings = CleanupSettings()
    configure_logging("cleanup", settings.log_level, settings.log_format)
    get_logger(__name__).info("cleanup starting", bucket=settings.s3_bucket, port=settings.port)
    worker = build(settings)
    asyncio.run(run_until_signalled(worker.start, worker.stop))


if __name__ == "__main__":
    main()
