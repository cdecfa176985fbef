"""The bridge declares its consumers' queues: events published before any consumer ever ran wait."""

from __future__ import annotations

import aio_pika

from services.bridge.metrics import Metrics
from services.bridge.publisher import BrokerPublisher
from shared.broker import CATALOG_QUEUE, CLEANUP_QUEUE
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, ObjectEvent


def event(kind: str, key: str) -> ObjectEvent:
    return ObjectEvent(
        type=kind,
        bucket="files",
        key=key,
        size=None,
        etag=None,
        sequencer="1",
        time="2026-11-25T00:00:00Z",
        source="test",
    )


async def test_events_published_before_any_consumer_started_wait_in_the_cleanup_and_catalog_queues(
    amqp_url: str,
) -> None:
    publisher = BrokerPublisher(amqp_url, metrics=Metrics(), timeout=10)
    await publisher.start()
    try:
        await publisher.publish(
            [event(OBJECT_CREATED, "f1/a.jpg"), event(OBJECT_REMOVED, "f1/a.jpg")], correlation_id=None
        )
    finally:
        await publisher.close()

    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        catalog = await channel.declare_queue(CATALOG_QUEUE, passive=True)
        cleanup = await channel.declare_queue(CLEANUP_QUEUE, passive=True)
        catalog_types = [ObjectEvent.from_json((await catalog.get(timeout=5)).body).type for _ in range(2)]
        cleanup_types = [ObjectEvent.from_json((await cleanup.get(timeout=5)).body).type]
        assert await cleanup.get(fail=False) is None  # cleanup is bound to removals only
    finally:
        await connection.close()
    assert catalog_types == [OBJECT_CREATED, OBJECT_REMOVED]
    assert cleanup_types == [OBJECT_REMOVED]
