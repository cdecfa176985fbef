"""The bridge's one way onto the broker: confirmed publication of normalized events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aio_pika.abc import AbstractRobustConnection

from services.bridge.metrics import Metrics
from shared.broker import (
    DeadLetterPublisher,
    EventPublisher,
    check_connection,
    connect,
    declare_catalog_queue,
    declare_cleanup_queue,
)
from shared.errors import Unavailable
from shared.events import ObjectEvent
from shared.logging import get_logger
from shared.retry import RetryPolicy, retry

log = get_logger(__name__)


DEAD_LETTER_NAME = "bridge"


class Publisher(Protocol):
    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None: ...

    async def dead_letter(self, body: bytes, *, reason: str, source: str) -> bool: ...


async def publish_until_confirmed(
    publisher: Publisher,
    events: Sequence[ObjectEvent],
    *,
    correlation_id: str,
    backoff: RetryPolicy,
    stop: asyncio.Event,
    **context: object,
) -> None:
    """Publish, retrying (with backoff) until the broker confirms; ``Stopped`` when ``stop`` is set
    first. ``context`` goes into the log line of each failure."""

    def failed(exc: Exception, in_seconds: float) -> None:
        log.warning("publish failed; retrying", error=str(exc), in_seconds=in_seconds, **context)

    await retry(
        lambda: publisher.publish(events, correlation_id=correlation_id),
        policy=backoff,
        stop=stop,
        retry_on=Unavailable,
        on_failure=failed,
    )


class BrokerPublisher:
    """Owns the AMQP connection; ``publish`` returns once the broker confirmed every event."""

    def __init__(self, amqp_url: str, *, metrics: Metrics, timeout: float, name: str = "bridge") -> None:
        self._url = amqp_url
        self._metrics = metrics
        self._timeout = timeout
        self._name = name
        self._connection: AbstractRobustConnection | None = None
        self._publisher: EventPublisher | None = None
        self._dead_letters: DeadLetterPublisher | None = None

    async def start(self) -> None:
        self._connection = await connect(self._url, name=self._name)
        self._publisher = await EventPublisher.declare(self._connection)
        async with self._connection.channel() as channel:  # the consumers' queues, before any consumer runs
            await declare_cleanup_queue(channel)
            await declare_catalog_queue(channel)
        self._dead_letters = await DeadLetterPublisher.declare(self._connection, DEAD_LETTER_NAME)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._publisher = None
        self._dead_letters = None

    async def check(self) -> None:
        """Readiness: raise unless the broker connection is up."""
        await check_connection(self._connection)

    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None:
        """Publish in order; raises ``Unavailable`` when the broker does not confirm in time."""
        if self._publisher is None:
            raise Unavailable("the bridge is not connected to the broker")
        for event in events:
            try:
                await asyncio.wait_for(
                    self._publisher.publish(event, correlation_id=correlation_id), timeout=self._timeout
                )
            except Exception as exc:
                self._metrics.publish_failures.inc()
                raise Unavailable(f"the broker did not confirm {event.type} {event.key}: {exc!r}") from exc
            self._metrics.events_published.labels(type=event.type).inc()
            log.info("published", type=event.type, key=event.key, message_id=event.message_id)

    async def dead_letter(self, body: bytes, *, reason: str, source: str) -> bool:
        """Park malformed input in ``bridge.dead``; False (logged, never raised) when that failed."""
        try:
            if self._dead_letters is None:
                raise Unavailable("the bridge is not connected to the broker")
            await asyncio.wait_for(self._dead_letters.publish(body, reason=reason, source=source), self._timeout)
            self._metrics.dead_lettered.labels(source=source).inc()
            log.warning("dead-lettered malformed input", source=source, reason=reason, queue="bridge.dead")
        except Exception as exc:  # noqa: BLE001 - the input is already logged by the caller
            log.error("could not dead-letter malformed input", source=source, error=repr(exc))
            return False
        return True
