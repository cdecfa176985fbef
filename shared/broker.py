"""RabbitMQ plumbing: topology, confirmed publishing, explicit-ack consuming, and RPC.

Topology (durable, declared idempotently by whoever uses it):

- ``files.events`` (topic): ``object.created`` / ``object.removed`` normalized events.
- ``files.dlx`` (direct): the dead-letter exchange; each work queue ``q`` dead-letters with
  routing key ``q`` into ``q.dead``.
- work queues are quorum queues with a delivery limit, so a message that keeps failing is
  dead-lettered instead of looping forever.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.errors import Unavailable
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, ObjectEvent
from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context, get_logger

EVENTS_EXCHANGE = "files.events"
DEAD_LETTER_EXCHANGE = "files.dlx"
CLEANUP_QUEUE = "cleanup"
CATALOG_QUEUE = "catalog.events"
RESIZE_QUEUE = "resize.requests"
DELIVERY_LIMIT = 5
# resize.requests.dead keeps the newest this many dead letters (expired requests end there too).
RESIZE_DEAD_MAX_LENGTH = 10_000
DELIVERY_COUNT_HEADER = "x-delivery-count"

log = get_logger(__name__)


async def connect(url: str, *, name: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(url, client_properties={"connection_name": name})


async def check_connection(connection: AbstractRobustConnection | None) -> None:
    """Readiness: raise ``Unavailable`` unless the connection is open."""
    if connection is None or connection.is_closed or not connection.connected.is_set():
        raise Unavailable("Not connected to the broker.")


async def declare_events_exchange(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)


def dead_letter_queue_arguments(*, max_length: int | None = None) -> dict[str, Any]:
    """A dead-letter queue's arguments; with ``max_length`` the oldest dead letters are dropped."""
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    if max_length is not None:
        arguments["x-max-length"] = max_length
    return arguments


def work_queue_arguments(name: str, *, max_length: int | None = None) -> dict[str, Any]:
    """A work queue's arguments; with ``max_length`` a full queue refuses new messages
    (``reject-publish``: the publisher's confirm is a nack) rather than dropping old ones."""
    arguments: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": name,
    }
    if max_length is not None:
        arguments.update({"x-max-length": max_length, "x-overflow": "reject-publish"})
    return arguments


async def declare_dead_letter_queue(
    channel: AbstractChannel, name: str, *, max_length: int | None = None
) -> AbstractExchange:
    """``files.dlx`` and the quorum queue ``name.dead`` bound to it with routing key ``name``."""
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    dead = await channel.declare_queue(
        f"{name}.dead", durable=True, arguments=dead_letter_queue_arguments(max_length=max_length)
    )
    await dead.bind(dlx, routing_key=name)
    return dlx


async def declare_work_queue(
    channel: AbstractChannel,
    name: str,
    *,
    bind_to: AbstractExchange | None = None,
    routing_keys: Iterable[str] = (),
    max_length: int | None = None,
    dead_max_length: int | None = None,
) -> AbstractQueue:
    """A quorum queue with a delivery limit and its dead-letter route ``files.dlx`` -> ``name.dead``."""
    await declare_dead_letter_queue(channel, name, max_length=dead_max_length)
    queue = await channel.declare_queue(name, durable=True, arguments=work_queue_arguments(name, max_length=max_length))
    if bind_to is not None:
        for key in routing_keys:
            await queue.bind(bind_to, routing_key=key)
    return queue


async def declare_resize_queue(channel: AbstractChannel, max_length: int) -> AbstractQueue:
    """``resize.requests``, bounded: a full queue nacks the download service's publish, which
    answers 503 RESIZE_BUSY at once instead of letting requests pile up past their callers."""
    return await declare_work_queue(
        channel, RESIZE_QUEUE, max_length=max_length, dead_max_length=RESIZE_DEAD_MAX_LENGTH
    )


async def declare_cleanup_queue(channel: AbstractChannel) -> AbstractQueue:
    """The ``cleanup`` queue bound to ``object.removed``. The bridge declares it too, so that no
    removal published before the first cleanup worker ever started is dropped unrouted."""
    exchange = await declare_events_exchange(channel)
    return await declare_work_queue(channel, CLEANUP_QUEUE, bind_to=exchange, routing_keys=[OBJECT_REMOVED])


async def declare_catalog_queue(channel: AbstractChannel) -> AbstractQueue:
    """The gateway's ``catalog.events`` queue bound to both event types. The bridge declares it too,
    so that no upload confirmation published before the first gateway ever started is dropped."""
    exchange = await declare_events_exchange(channel)
    return await declare_work_queue(
        channel, CATALOG_QUEUE, bind_to=exchange, routing_keys=[OBJECT_CREATED, OBJECT_REMOVED]
    )


class DeadLetterPublisher:
    """Parks input that could not become a message (say a malformed notification) in ``name.dead``,
    with the reason in its headers, so that nothing is dropped without a trace."""

    def __init__(self, exchange: AbstractExchange, name: str) -> None:
        self._exchange = exchange
        self._name = name

    @classmethod
    async def declare(cls, connection: AbstractRobustConnection, name: str) -> DeadLetterPublisher:
        channel = await connection.channel(publisher_confirms=True)
        return cls(await declare_dead_letter_queue(channel, name), name)

    async def publish(self, body: bytes, *, reason: str, source: str, correlation_id: str | None = None) -> None:
        message = aio_pika.Message(
            body=body,
            content_type="application/octet-stream",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=uuid.uuid4().hex,
            headers={
                CORRELATION_HEADER: correlation_id or uuid.uuid4().hex,
                "x-dead-letter-reason": reason[:500],
                "x-source": source,
            },
        )
        await self._exchange.publish(message, routing_key=self._name)


class EventPublisher:
    """Publishes normalized events on ``files.events`` with publisher confirms."""

    def __init__(self, exchange: AbstractExchange) -> None:
        self._exchange = exchange

    @classmethod
    async def declare(cls, connection: AbstractRobustConnection) -> EventPublisher:
        channel = await connection.channel(publisher_confirms=True)
        return cls(await declare_events_exchange(channel))

    async def publish(self, event: ObjectEvent, *, correlation_id: str | None = None) -> None:
        message = aio_pika.Message(
            body=event.to_json(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=event.message_id,
            type=event.type,
            headers={CORRELATION_HEADER: correlation_id or uuid.uuid4().hex},
        )
        # With confirms on, this returns once the broker has taken the message (or raises).
        await self._exchange.publish(message, routing_key=event.routing_key, mandatory=False)


class Outcome(enum.Enum):
    """What a handler decided: the consumer turns it into ack, reject or nack."""

    ACK = "ack"  # done (or nothing to do)
    DEAD_LETTER = "dead_letter"  # permanent failure: reject without requeue -> q.dead
    RETRY = "retry"  # transient failure: requeue; the delivery limit bounds the retries


Handler = Callable[[AbstractIncomingMessage], Awaitable[Outcome]]


def delivery_count(message: AbstractIncomingMessage) -> int:
    """Earlier deliveries of this message (quorum queues count them in ``x-delivery-count``)."""
    count = (message.headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return 1 if message.redelivered else 0


@dataclass(frozen=True)
class RetryPolicy:
    """How long a transient failure waits before its message is requeued: doubling per delivery,
    so that the delivery limit spans a short outage instead of being spent in milliseconds."""

    initial: float = 0.5
    maximum: float = 10.0

    def delay(self, deliveries: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** min(deliveries, 30)))


class Consumer:
    """Consumes one queue with explicit acks and tracks in-flight messages for a clean stop."""

    def __init__(self, queue: AbstractQueue, handler: Handler, *, name: str, retry: RetryPolicy | None = None) -> None:
        self._queue = queue
        self._handler = handler
        self._name = name
        self._retry = retry or RetryPolicy()
        self._tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)
        log.info("consuming", queue=self._queue.name)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        headers = message.headers or {}
        raw_id = headers.get(CORRELATION_HEADER) or message.correlation_id
        bind_correlation_id(str(raw_id) if raw_id else None)
        try:
            try:
                outcome = await self._handler(message)
            except Exception:
                log.exception("handler failed; will retry", queue=self._queue.name)
                outcome = Outcome.RETRY
            if outcome is Outcome.ACK:
                await message.ack()
            elif outcome is Outcome.DEAD_LETTER:
                log.warning("dead-lettering message", queue=self._queue.name, message_id=message.message_id)
                await message.reject(requeue=False)
            else:
                await asyncio.sleep(self._retry.delay(delivery_count(message)))
                await message.nack(requeue=True)
        finally:
            clear_context()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, then wait for the ones in flight to finish and be acked."""
        if self._tag is not None:
            await self._queue.cancel(self._tag)
            self._tag = None
        if self._in_flight:
            log.info("waiting for in-flight messages", count=len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=timeout)


class QueueFull(Exception):
    """The broker refused a published message (a bounded queue is full: its confirm is a nack)."""


class RpcClient:
    """Request/reply over the default exchange: ``reply_to`` an exclusive queue + ``correlation_id``.

    Each request expires (AMQP ``expiration``) when its caller stops waiting, so the broker
    drops what nobody will read; a request refused by a full queue raises ``QueueFull``.
    """

    def __init__(self, channel: AbstractChannel, reply_queue: AbstractQueue) -> None:
        self._channel = channel
        self._reply_queue = reply_queue
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._tag: str | None = None

    @classmethod
    async def create(cls, connection: AbstractRobustConnection) -> RpcClient:
        channel = await connection.channel(publisher_confirms=True)
        reply_queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        client = cls(channel, reply_queue)
        client._tag = await reply_queue.consume(client._on_reply, no_ack=True)
        return client

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def call(
        self,
        routing_key: str,
        body: bytes,
        *,
        timeout: float,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> bytes:
        """Publish a request and wait for its reply; ``TimeoutError`` after ``timeout`` seconds,
        ``QueueFull`` when the broker refuses the request."""
        call_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            try:
                await self._channel.default_exchange.publish(
                    aio_pika.Message(
                        body=body,
                        content_type="application/json",
                        correlation_id=call_id,
                        reply_to=self._reply_queue.name,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        expiration=timeout,
                        headers={CORRELATION_HEADER: correlation_id or call_id, **(headers or {})},
                    ),
                    routing_key=routing_key,
                )
            except aio_pika.exceptions.DeliveryError as exc:
                raise QueueFull(f"{routing_key} refused the request") from exc
            return await asyncio.wait_for(future, timeout=timeout)
        finally:
            self._pending.pop(call_id, None)


async def reply(channel: AbstractChannel, request: AbstractIncomingMessage, body: bytes) -> None:
    """Answer an RPC request on its ``reply_to`` queue (no-op when nobody asked for a reply)."""
    if not request.reply_to:
        return
    await channel.default_exchange.publish(
        aio_pika.Message(
            body=body,
            content_type="application/json",
            correlation_id=request.correlation_id,
            headers={k: v for k, v in (request.headers or {}).items() if k == CORRELATION_HEADER},
        ),
        routing_key=request.reply_to,
    )
