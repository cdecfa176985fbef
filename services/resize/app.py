"""The resize worker process: broker, object store, pool, consumer and side port, built from settings."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from aio_pika.abc import AbstractRobustConnection

from services.resize.metrics import Metrics
from services.resize.settings import Settings
from services.resize.worker import Limits, ResizeWorker
from shared.broker import RESIZE_QUEUE, Consumer, connect, declare_work_queue
from shared.errors import Unavailable
from shared.health import SidePortServer, side_port_server
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
        self._server: SidePortServer | None = None
        self._server_task: asyncio.Task[None] | None = None

    @property
    def side_port(self) -> int:
        return self._settings.port

    async def start(self) -> None:
        settings = self._settings
        self._executor = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="resize")
        self._connection = await connect(settings.amqp_url.get_secret_value(), name="resize")
        consume_channel = await self._connection.channel()
        # As many unacked requests as the pool has threads: one in hand per thread, no hoarding.
        await consume_channel.set_qos(prefetch_count=self.pool_size)
        queue = await declare_work_queue(consume_channel, RESIZE_QUEUE)
        reply_channel = await self._connection.channel(publisher_confirms=True)
        worker = ResizeWorker(
            self.store,
            reply_channel,
            self._executor,
            Limits(
                max_pixels=settings.max_pixels,
                max_source_bytes=settings.max_source_bytes,
                jpeg_quality=settings.jpeg_quality,
                webp_quality=settings.webp_quality,
                job_timeout=settings.job_timeout,
            ),
            self.metrics,
        )
        self._consumer = Consumer(queue, worker.handle, name="resize")
        await self._start_side_port()
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
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
        if self._connection is not None:
            await self._connection.close()

    async def _start_side_port(self) -> None:
        settings = self._settings
        self._server = side_port_server(
            {"broker": self._broker_ready, "s3": self.store.ping},
            self.metrics.registry,
            host=settings.host,
            port=settings.port,
        )
        self._server_task = asyncio.create_task(self._server.serve(), name="resize side port")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SERVER_START_TIMEOUT
        while not self._server.started:
            if self._server_task.done():
                self._server_task.result()  # raises what stopped it
                raise RuntimeError(f"the side port {settings.host}:{settings.port} did not start")
            if loop.time() > deadline:
                raise RuntimeError(f"the side port {settings.host}:{settings.port} did not start in time")
            await asyncio.sleep(0.02)

    async def _broker_ready(self) -> None:
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            raise Unavailable("The broker connection is not open.")
