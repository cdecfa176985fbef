"""The life of a queue worker, written once: connect, set QoS, declare, consume, run periodic tasks,
and stop in order.

The resize and cleanup workers and the gateway's catalog consumer differ only in their queue, their
handler and their periodic task; ``QueueWorker`` is everything else. ``WorkerProcess`` adds what a
worker service runs beside it (the side port with health and metrics) and what it closes after it.

Stopping goes in the order that loses nothing: stop taking messages, let the ones in hand finish and
be acked, cancel the periodic tasks, then close the connection and, last, the resources the handler
used (thread pools, S3 clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractQueue, AbstractRobustConnection
from prometheus_client import CollectorRegistry

from shared.broker import Consumer, Handler, check_connection, connect
from shared.health import BackgroundServer
from shared.logging import get_logger
from shared.probes import Check, Probes
from shared.queue_metrics import QueueMetrics
from shared.retry import RetryPolicy

log = get_logger(__name__)

# Seconds between reads of the dead-letter queue's depth (the queue_dead_letters gauge).
DEAD_LETTER_POLL = 30.0

Declare = Callable[[AbstractChannel], Awaitable[AbstractQueue]]
# Makes the handler once connected (a handler that publishes replies needs a channel of its own).
HandlerFactory = Callable[[AbstractRobustConnection], Awaitable[Handler]]
Closer = Callable[[], Awaitable[None] | None]


def fixed(handler: Handler) -> HandlerFactory:
    """A handler that needs nothing from the connection."""

    async def make(_: AbstractRobustConnection) -> Handler:
        return handler

    return make


@dataclass(frozen=True)
class Periodic:
    """A task run every ``interval`` seconds (0: never) until the worker stops. A run that raises
    is logged and the next one tries again."""

    name: str
    interval: float
    run: Callable[[], Awaitable[object]]

    async def forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run()
            except Exception:
                log.exception("periodic task failed", task=self.name)


class QueueWorker:
    """Consumes one queue with explicit acks, and runs its periodic tasks, between start and stop.

    ``dependencies`` are the checks of what the handler needs (``{"database": ..., "storage": ...}``):
    a failure of one of them holds the queue's messages instead of spending their attempts
    (``shared.broker.Consumer``). With a ``registry`` the worker reports its queue there
    (``shared.queue_metrics``), the depth of its dead-letter queue included.
    """

    def __init__(
        self,
        *,
        name: str,
        amqp_url: str,
        declare: Declare,
        handler: HandlerFactory,
        prefetch: int,
        retry: RetryPolicy,
        stop_timeout: float = 30.0,
        periodic: Sequence[Periodic] = (),
        dependencies: Mapping[str, Check] | None = None,
        registry: CollectorRegistry | None = None,
        dead_letter_poll: float = DEAD_LETTER_POLL,
    ) -> None:
        self._name = name
        self._amqp_url = amqp_url
        self._declare = declare
        self._make_handler = handler
        self._prefetch = prefetch
        self._retry = retry
        self._stop_timeout = stop_timeout
        self._probes = Probes(dependencies or {}, policy=RetryPolicy(retry.initial, max(retry.initial, retry.maximum)))
        self._metrics = QueueMetrics(registry) if registry is not None else None
        self._queue_name: str | None = None
        polls = [Periodic("dead-letter-depth", dead_letter_poll, self.read_dead_letters)] if registry else []
        self._periodic = [task for task in [*periodic, *polls] if task.interval > 0]
        self._connection: AbstractRobustConnection | None = None
        self._consumer: Consumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connection(self) -> AbstractRobustConnection | None:
        return self._connection

    async def start(self) -> None:
        self._connection = await connect(self._amqp_url, name=self._name)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        queue = await self._declare(channel)
        handler = await self._make_handler(self._connection)
        self._queue_name = queue.name
        self._consumer = Consumer(
            queue, handler, name=self._name, retry=self._retry, probes=self._probes, metrics=self._metrics
        )
        await self._consumer.start()
        self._tasks = [asyncio.create_task(task.forever(), name=task.name) for task in self._periodic]

    async def stop(self) -> None:
        """Stop consuming, finish (and ack) the messages in hand, cancel the periodic tasks, disconnect."""
        connection, self._connection = self._connection, None
        if self._consumer is not None and connection is not None and not connection.is_closed:
            await self._consumer.stop(timeout=self._stop_timeout)
        self._consumer = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def check(self) -> None:
        """Readiness: raises ``Unavailable`` unless connected to the broker."""
        await check_connection(self._connection)

    @property
    def waiting_for(self) -> frozenset[str]:
        """The dependencies the consumer waits for now (empty while it consumes)."""
        return self._consumer.waiting_for if self._consumer is not None else frozenset()

    async def read_dead_letters(self) -> int:
        """The depth of this queue's dead-letter queue, also set on the ``queue_dead_letters`` gauge."""
        if self._connection is None or self._queue_name is None:
            return 0
        dead = f"{self._queue_name}.dead"
        async with self._connection.channel() as channel:
            declared = await channel.declare_queue(dead, passive=True)
        count = int(declared.declaration_result.message_count or 0)
        if self._metrics is not None:
            self._metrics.dead_letters.labels(dead).set(count)
        return count


class WorkerProcess:
    """A worker service as its entry point runs it: the side port, the queue worker, and what to
    close once the worker has stopped."""

    def __init__(
        self,
        worker: QueueWorker,
        side_port: BackgroundServer,
        *,
        closers: Sequence[Closer] = (),
        start_timeout: float = 10.0,
    ) -> None:
        self.worker = worker
        self.side_port = side_port
        self._closers = list(closers)
        self._start_timeout = start_timeout

    async def start(self) -> None:
        await self.side_port.start(timeout=self._start_timeout)
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        await self.side_port.stop()
        for close in self._closers:
            result = close()
            if inspect.isawaitable(result):
                await result
