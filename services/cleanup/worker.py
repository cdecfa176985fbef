"""The cleanup worker: the ``cleanup`` queue consumer, the periodic sweep and the side port."""

from __future__ import annotations

import asyncio
import contextlib

from aio_pika.abc import AbstractRobustConnection

from shared.broker import (
    Consumer,
    RetryPolicy,
    check_connection,
    connect,
    declare_cleanup_queue,
)
from shared.health import Check, side_port
from shared.logging import get_logger
from shared.s3 import ObjectStore

from .handler import CleanupHandler
from .metrics import Metrics
from .sweep import Sweeper

log = get_logger(__name__)


class CleanupWorker:
    def __init__(
        self,
        *,
        amqp_url: str,
        store: ObjectStore,
        metrics: Metrics,
        prefetch: int,
        sweep_interval: float,
        sweep_grace: float,
        host: str,
        port: int,
        stop_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._amqp_url = amqp_url
        self._store = store
        self._metrics = metrics
        self._prefetch = prefetch
        self._sweep_interval = sweep_interval
        self._stop_timeout = stop_timeout
        self._retry = retry
        self._handler = CleanupHandler(store, metrics=metrics)
        self.sweeper = Sweeper(store, grace_seconds=sweep_grace, metrics=metrics)
        checks: dict[str, Check] = {"broker": self._check_broker, "s3": store.ping}
        self._side_port = side_port(checks, metrics.registry, host=host, port=port)
        self._connection: AbstractRobustConnection | None = None
        self._consumer: Consumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._side_port.start()
        self._connection = await connect(self._amqp_url, name="cleanup")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        queue = await declare_cleanup_queue(channel)
        self._consumer = Consumer(queue, self._handler, name="cleanup", retry=self._retry)
        await self._consumer.start()
        if self._sweep_interval > 0:
            self._tasks.append(asyncio.create_task(self._sweep_forever(), name="cleanup-sweep"))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop(timeout=self._stop_timeout)  # in-flight messages finish and ack
        await self._side_port.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self._store.close()

    async def _check_broker(self) -> None:
        await check_connection(self._connection)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweeper.run_once()
                self._metrics.sweeps.labels(result="ok").inc()
            except Exception:
                self._metrics.sweeps.labels(result="failed").inc()
                log.exception("sweep failed")
