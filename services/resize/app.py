"""Builds the resize worker from its settings: object store, thread pool, queue worker, side port."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aio_pika.abc import AbstractRobustConnection

from services.resize.metrics import Metrics
from services.resize.settings import ResizeSettings
from services.resize.worker import Limits, ResizeWorker
from shared.broker import RESIZE_QUEUE, Handler, declare_work_queue
from shared.health import side_port
from shared.retry import RetryPolicy
from shared.s3 import ObjectStore
from shared.worker import QueueWorker, WorkerProcess

# A job may outlive JOB_TIMEOUT (it is finished and stored anyway): stopping waits this much longer.
STOP_MARGIN = 5.0


def build(settings: ResizeSettings, *, metrics: Metrics | None = None) -> WorkerProcess:
    metrics = metrics or Metrics()
    store = ObjectStore.from_settings(settings)
    pool_size = settings.pool_size()
    executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="resize")
    limits = Limits(
        max_pixels=settings.max_pixels,
        max_source_bytes=settings.max_source_bytes,
        jpeg_quality=settings.jpeg_quality,
        webp_quality=settings.webp_quality,
        avif_quality=settings.avif_quality,
        job_timeout=settings.job_timeout,
    )

    async def handler(connection: AbstractRobustConnection) -> Handler:
        replies = await connection.channel(publisher_confirms=False)  # replies are transient
        return ResizeWorker(store, replies, executor, limits, metrics).handle

    worker = QueueWorker(
        name="resize",
        amqp_url=settings.amqp_url.get_secret_value(),
        declare=lambda channel: declare_work_queue(channel, RESIZE_QUEUE),
        handler=handler,
        # Two requests in hand per pool thread: while one is in the kernel, the next is read from S3
        # (and the previous one written), so the threads never wait on S3; the pool still bounds the CPU.
        prefetch=2 * pool_size,
        retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
        stop_timeout=settings.job_timeout + STOP_MARGIN,
    )

    async def shut_pool() -> None:
        await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    health = side_port(
        {"broker": worker.check, "s3": store.ping}, metrics.registry, host=settings.host, port=settings.port
    )
    return WorkerProcess(worker, health, closers=[shut_pool, store.close])
