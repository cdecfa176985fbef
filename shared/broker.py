"""RabbitMQ plumbing: topology, confirmed publishing, explicit-ack consuming, and RPC.

Topology (durable, declared idempotently by whoever uses it):

- ``files.events`` (topic): ``object.created`` / ``object.removed`` normalized events.
- ``files.dlx`` (direct): the dead-letter exchange; each work queue ``q`` dead-letters with
  routing key ``q`` into ``q.dead``.
- work queues are quorum queues. The consumer counts a message's attempts itself and dead-letters
  it after the last (``shared.settlement``); the queue's delivery limit is the backstop for
  consumers that die while they hold a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.errors import Unavailable
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, MalformedEvent, ObjectEvent
from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context, get_logger
from shared.outage import dependency_of
from shared.probes import Probes
from shared.queue_metrics import QueueMetrics
from shared.retry import RetryPolicy
from shared.settlement import (
    ATTEMPT_LIMIT,
    Action,
    Settlement,
    attempt_of,
    decide,
    delivery_count_of,
    refresh,
    retry_copy,
)
from shared.settlement import Outcome as Outcome  # handlers import it from here, beside Handler

EVENTS_EXCHANGE = "files.events"
DEAD_LETTER_EXCHANGE = "files.dlx"
CLEANUP_QUEUE = "cleanup"
CATALOG_QUEUE = "catalog.events"
RESIZE_QUEUE = "resize.requests"
DELIVERY_LIMIT = 5
# resize.requests.dead keeps the newest this many dead letters (expired requests end there too).
RESIZE_DEAD_MAX_LENGTH = 10_000

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


Handler = Callable[[AbstractIncomingMessage], Awaitable[Outcome]]
EventHandler = Callable[[ObjectEvent], Awaitable[Outcome]]


def event_handler(handle: EventHandler, *, on_malformed: Callable[[], None] | None = None) -> Handler:
    """A ``Consumer`` handler for ``files.events`` messages: parse the body and ``handle`` the event.

    A body that is no event is dead-lettered at once (redelivering it cannot mend it), with a log
    line; ``on_malformed`` is told, say to count it.
    """

    async def on_message(message: AbstractIncomingMessage) -> Outcome:
        try:
            event = ObjectEvent.from_json(message.body)
        except MalformedEvent as exc:
            log.warning("malformed event", error=str(exc), message_id=message.message_id)
            if on_malformed is not None:
                on_malformed()
            return Outcome.DEAD_LETTER
        return await handle(event)

    return on_message


class Consumer:
    """Consumes one queue with explicit acks and tracks in-flight messages for a clean stop.

    The handler's outcome and the message's attempt are settled as ``shared.settlement.decide``
    says: ack; a retry, after the policy's wait, as a copy carrying the next attempt, published to
    the same queue and confirmed before the delivery in hand is acked; or a reject without requeue
    into the dead-letter route. The channel must have publisher confirms (aio-pika's default).

    A handler that raises a dependency's failure (``shared.outage``) whose probe confirms that the
    dependency is down does not spend an attempt: the consumer stops taking messages (basic.cancel),
    puts the message back as it was, probes with a doubling back-off, and consumes again once every
    dependency found down answers. Without ``probes`` every failure is counted, as before.
    """

    def __init__(
        self,
        queue: AbstractQueue,
        handler: Handler,
        *,
        name: str,
        retry: RetryPolicy | None = None,
        attempts: int = ATTEMPT_LIMIT,
        probes: Probes | None = None,
        metrics: QueueMetrics | None = None,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._name = name
        self._retry = retry or RetryPolicy()
        self._attempts = attempts
        self._probes = probes
        self._metrics = metrics
        self._tag: str | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._down: set[str] = set()
        self._resuming: asyncio.Task[None] | None = None
        self._pauses = 0
        self._stopping = asyncio.Event()

    @property
    def waiting_for(self) -> frozenset[str]:
        """The dependencies the consumer is waiting for (empty while it consumes)."""
        return frozenset(self._down)

    async def start(self) -> None:
        if not self._queue.channel.publisher_confirms:
            raise ValueError("a Consumer retries by publishing: its channel needs publisher confirms")
        self._stopping.clear()
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
        attempt = attempt_of(headers)
        try:
            try:
                refreshed = refresh(delivery_count_of(headers), attempt, self._attempts)
                if refreshed is not None:
                    log.info("putting back a fresh copy", queue=self._queue.name, reason=refreshed.reason)
                    await self._settle(message, attempt, refreshed, back_off=False)
                else:
                    outcome = await self._outcome(message, attempt)
                    await self._settle(message, attempt, decide(outcome, attempt, self._attempts))
            except (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError) as exc:
                # Its channel is gone: the broker has requeued the delivery (and counted it).
                log.warning("could not settle the message; the broker redelivers it", error=repr(exc))
        finally:
            clear_context()

    async def _outcome(self, message: AbstractIncomingMessage, attempt: int) -> Outcome:
        """The handler's outcome; a failure is ``WAIT`` when a dependency is down, else ``RETRY``."""
        try:
            return await self._handler(message)
        except Exception as exc:
            dependency = dependency_of(exc)
            down = await self._probes.down(dependency) if dependency is not None and self._probes else set()
            if down:
                log.warning(
                    "dependency down; holding the message",
                    queue=self._queue.name,
                    dependencies=sorted(down),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                await self._pause(down)
                if self._metrics is not None:
                    for name in down:
                        self._metrics.held.labels(self._queue.name, name).inc()
                return Outcome.WAIT
            log.exception("handler failed; will retry", queue=self._queue.name, attempt=attempt)
            return Outcome.RETRY

    async def _pause(self, down: set[str]) -> None:
        """Stop taking messages until every dependency in ``down`` answers (idempotent)."""
        self._pauses += 1  # a resume under way consumes only if no pause came meanwhile
        self._down |= down
        if self._metrics is not None:
            for name in down:
                self._metrics.waiting.labels(self._queue.name, name).set(1)
        tag, self._tag = self._tag, None
        if self._resuming is None or self._resuming.done():
            self._resuming = asyncio.create_task(self._resume_when_up(), name=f"resume {self._queue.name}")
        if tag is not None:
            log.warning("stopped taking messages", queue=self._queue.name, waiting_for=sorted(self._down))
            await self._cancel(tag)

    async def _cancel(self, tag: str) -> None:
        try:
            await self._queue.cancel(tag)
        except Exception as exc:  # noqa: BLE001 - a closed channel delivers nothing anyway
            log.info("could not cancel the consumer", error=repr(exc))

    async def _resume_when_up(self) -> None:
        assert self._probes is not None
        while not self._stopping.is_set():
            pauses = self._pauses
            if not await self._probes.wait_until_up(set(self._down), self._stopping):
                return
            if pauses != self._pauses:
                continue  # another failure meanwhile: probe again
            try:
                tag = await self._queue.consume(self._on_message, no_ack=False)
            except Exception as exc:  # noqa: BLE001 - the broker is away too: try again
                log.warning("could not consume again; retrying", queue=self._queue.name, error=repr(exc))
                continue
            if pauses != self._pauses or self._stopping.is_set():
                await self._cancel(tag)  # a message failed again while this one started
                continue
            self._tag = tag
            if self._metrics is not None:
                for name in self._down:
                    self._metrics.waiting.labels(self._queue.name, name).set(0)
            log.info("dependencies answer again; consuming", queue=self._queue.name, waited_for=sorted(self._down))
            self._down.clear()
            return

    async def _settle(
        self, message: AbstractIncomingMessage, attempt: int, settlement: Settlement, *, back_off: bool = True
    ) -> None:
        if settlement.action is Action.ACK:
            await message.ack()
        elif settlement.action is Action.DEAD_LETTER:
            log.warning(
                "dead-lettering message",
                queue=self._queue.name,
                message_id=message.message_id,
                attempt=attempt,
                reason=settlement.reason,
            )
            await message.reject(requeue=False)
            if self._metrics is not None:
                self._metrics.dead_lettered.labels(self._queue.name).inc()
        elif settlement.action is Action.REQUEUE:
            await self._retry_later(message, settlement.attempt)
        else:
            if back_off:
                await asyncio.sleep(self._retry.delay(attempt - 1))
            await self._retry_later(message, settlement.attempt)

    async def _retry_later(self, message: AbstractIncomingMessage, attempt: int) -> None:
        """Publish the copy for ``attempt`` on the delivery's own channel, then ack the delivery.

        Publish first, ack once confirmed: a crash in between leaves both (a duplicate, which the
        handlers tolerate) rather than neither. If the copy is not confirmed, the delivery is
        rejected with requeue, which every broker version counts towards the queue's delivery
        limit, so even a broker that keeps refusing copies cannot make a message loop for ever.
        """
        copy = retry_copy(message, attempt)
        try:
            confirmation = await message.channel.basic_publish(
                copy.body, routing_key=self._queue.name, properties=copy.properties, mandatory=True
            )
        except Exception as exc:  # noqa: BLE001 - any failure to publish falls back to the broker's count
            log.warning("could not publish the retry; requeueing", queue=self._queue.name, error=repr(exc))
            confirmation = None
        if isinstance(confirmation, aiormq.spec.Basic.Ack):
            log.info("retrying message", queue=self._queue.name, message_id=message.message_id, attempt=attempt)
            await message.ack()
        else:
            await message.reject(requeue=True)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, then wait for the ones in flight to finish and be acked."""
        self._stopping.set()
        if self._resuming is not None:
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming
            self._resuming = None
        if self._tag is not None:
            await self._queue.cancel(self._tag)
            self._tag = None
        if self._in_flight:
            log.info("waiting for in-flight messages", count=len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=timeout)


class RpcCall(Protocol):
    """The one signature of a request/reply call (``RpcClient.call`` implements it): publish ``body``
    to ``routing_key`` and return the reply's body; ``TimeoutError`` after ``timeout`` seconds."""

    async def __call__(
        self,
        routing_key: str,
        body: bytes,
        *,
        timeout: float,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> bytes: ...


class RpcCaller(Protocol):
    """What a component that sends requests needs: an ``RpcClient``, or whatever hands one's ``call`` on."""

    @property
    def call(self) -> RpcCall: ...


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
