"""The resize worker process: broker, object store, pool, consumer and side port, built from settings."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aio_pika.abc import AbstractRobustConnection

from services.resize.metrics import Metrics
from services.resize.settings import Settings
from services.resize.worker import Limits, ResizeWorker
from shared.broker import RESIZE_QUEUE, Consumer, RetryPolicy, check_connection, connect, declare_work_queue
from shared.health import side_port
from shared.logging import get_logger
from shared.s3 import ObjectStore

SERVER_START_TIMEOUT = 10.0

log = get_logger(__name__)


class ResizeService:
    """Owns every resource of the worker; ``start`` and ``stop`` are the entry point's lifecycle."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.pool_size = settings.pool_size()
        self.metrics = Metrics()
        self.store = ObjectStore.from_settings(settings)
        self._executor: ThreadPoolExecutor | None = None
        self._connection: AbstractRobustConnection | None = None
        self._consumer: Consumer | None = None
        self._side_port = side_port(
            {"broker": self._broker_ready, "s3": self.store.ping},
            self.metrics.registry,
            host=settings.host,
            port=settings.port,
        )

    @property
    def side_port(self) -> int:
        return self._settings.port

    async def start(self) -> None:
        settings = self._settings
        self._executor = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="resize")
        self._connection = await connect(settings.amqp_url.get_secret_value(), name="resize")
        consume_channel = await self._connection.channel()
        # Two requests in hand per pool thread: while one is in the kernel, the next is read from S3
        # (and the previous one written), so the threads never wait on S3; the pool still bounds the CPU.
        await consume_channel.set_qos(prefetch_count=2 * self.pool_size)
        queue = await declare_work_queue(consume_channel, RESIZE_QUEUE)
        reply_channel = await self._connection.channel(publisher_confirms=False)  # replies are transient
        worker = ResizeWorker(
            self.store,
            reply_channel,
            self._executor,
            Limits(
                max_pixels=settings.max_pixels,
                max_source_bytes=settings.max_source_bytes,
                jpeg_quality=settings.jpeg_quality,
                webp_quality=settings.webp_quality,
                avif_quality=settings.avif_quality,
                job_timeout=settings.job_timeout,
            ),
            self.metrics,
        )
        retry = RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max)
        self._consumer = Consumer(queue, worker.handle, name="resize", retry=retry)
        await self._side_port.start(timeout=SERVER_START_TIMEOUT)
        await self._consumer.start()
        log.info(
            "resize worker started",
            pool_size=self.pool_size,
            bucket=self.store.bucket,
            side_port=settings.port,
        )

    async def stop(self) -> None:
        """Stop consuming, finish (and ack) the requests in hand, then let go of everything."""
        if self._consumer is not None:
            # A job may outlive JOB_TIMEOUT (it is finished and stored anyway): wait a bit longer.
            await self._consumer.stop(timeout=self._settings.job_timeout + 5)
        if self._executor is not None:
            await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        await self._side_port.stop()
        if self._connection is not None:
            await self._connection.close()
        self.store.close()

    async def _broker_ready(self) -> None:
        await check_connection(self._connection)
