"""Builds the resize worker from its settings: object store, kernel processes, queue worker, side port."""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from services.resize.gate import OriginalGate
from services.resize.metrics import Metrics
from services.resize.pool import KernelPool
from services.resize.remembered import RememberedOriginals
from services.resize.settings import ResizeSettings
from services.resize.worker import Limits, ResizeWorker
from shared.broker import Handler
from shared.health import side_port
from shared.resize_queue import declare_requests_queue
from shared.retry import RetryPolicy
from shared.s3 import ObjectStore
from shared.worker import QueueWorker, WorkerProcess

# Stopping waits for the messages in hand: one job running to the deadline, then one that was
# waiting for its process (the prefetch holds two per process), and this margin for S3.
STOP_MARGIN = 5.0


def stop_timeout(job_timeout: float) -> float:
    return 2 * job_timeout + STOP_MARGIN


def build(settings: ResizeSettings, *, metrics: Metrics | None = None) -> WorkerProcess:
    metrics = metrics or Metrics()
    store = ObjectStore.from_settings(settings)
    processes = settings.pool_size()
    pool = KernelPool(
        processes=processes,
        spares=settings.spare_processes,
        slow_after=settings.slow_job_seconds,
        job_timeout=settings.job_timeout,
        memory_limit=settings.job_memory_limit,
    )
    limits = Limits(
        max_pixels=settings.max_pixels,
        max_source_bytes=settings.max_source_bytes,
        jpeg_quality=settings.jpeg_quality,
        webp_quality=settings.webp_quality,
        avif_quality=settings.avif_quality,
        max_scans=settings.max_jpeg_scans,
    )
    gate = OriginalGate(slow_after=settings.slow_job_seconds)
    remembered = RememberedOriginals(ttl=settings.too_complex_memory_seconds)

    async def handler(connection: AbstractRobustConnection) -> Handler:
        await pool.start()
        replies = await connection.channel(publisher_confirms=False)  # replies are transient
        return ResizeWorker(store, replies, pool, limits, metrics, gate=gate, remembered=remembered).handle

    worker = QueueWorker(
        name="resize",
        amqp_url=settings.amqp_url.get_secret_value(),
        declare=lambda channel: declare_requests_queue(channel, settings.resize_queue_max_length),
        handler=handler,
        # Two requests in hand per kernel process: while one is in the kernel, the next is read
        # from S3 (and the previous one written), so the processes never wait on S3.
        prefetch=2 * processes,
        retry=RetryPolicy(settings.retry_delay_initial, settings.retry_delay_max),
        stop_timeout=stop_timeout(settings.job_timeout),
        dependencies={"storage": store.ping},  # a request that fails while S3 is down waits for it
        registry=metrics.registry,
    )
    health = side_port(
        {"broker": worker.check, "s3": store.ping}, metrics.registry, host=settings.host, port=settings.port
    )
    return WorkerProcess(worker, health, closers=[pool.close, store.close])
