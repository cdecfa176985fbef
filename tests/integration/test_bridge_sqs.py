"""The bridge with BRIDGE_SOURCE=sqs, end to end against a real RabbitMQ: S3 notifications from an
in-memory SQS queue (no SQS server is reachable here) become confirmed events on files.events, a
body that is no notification is parked in bridge.dead, and every handled message leaves SQS."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractQueue

from devstack.ports import free_port
from services.bridge.app import build
from services.bridge.settings import BridgeSettings
from shared.broker import declare_dead_letter_queue, declare_events_exchange
from shared.events import ObjectEvent
from shared.keys import new_file_id
from tests.integration.test_bridge_flow import next_message, wait_ready
from tests.support.servers import InProcessServer
from tests.support.sqs import QUEUE_URL, MemorySqs
from tests.support.waiting import eventually


@pytest.fixture
async def queues(amqp_url: str) -> AsyncIterator[tuple[AbstractQueue, AbstractQueue]]:
    """A queue bound to every object.* event, and bridge.dead."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    events = await channel.declare_queue(exclusive=True)
    await events.bind(await declare_events_exchange(channel), routing_key="object.*")
    await declare_dead_letter_queue(channel, "bridge")
    yield events, await channel.get_queue("bridge.dead")
    await connection.close()


def notification(name: str, bucket: str, key: str) -> str:
    record = {
        "eventName": name,
        "eventTime": "2026-11-24T20:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "0B"}},
    }
    return json.dumps({"Type": "Notification", "Message": json.dumps({"Records": [record]})})


async def test_sqs_source(
    settings_for: Callable[..., Any], bucket: str, queues: tuple[AbstractQueue, AbstractQueue]
) -> None:
    events_queue, bridge_dead_queue = queues
    sqs = MemorySqs()
    port = free_port()
    settings: BridgeSettings = settings_for(
        BridgeSettings,
        host="127.0.0.1",
        port=port,
        bridge_source="sqs",
        bridge_sqs_queue_url=QUEUE_URL,
        bridge_sqs_wait_seconds=1,
    )
    bridge = InProcessServer(build(settings, sqs=sqs), port)
    await bridge.start()
    try:
        await wait_ready(bridge.url)
        file_id = new_file_id()
        sqs.send(notification("ObjectCreated:Put", bucket, f"{file_id}/photo+one.jpg"))
        created = await next_message(events_queue)
        assert created.routing_key == "object.created"
        event = ObjectEvent.from_json(created.body)
        assert (event.key, event.size, event.source) == (f"{file_id}/photo one.jpg", 10, "s3")

        sqs.send("{not json")
        parked = await next_message(bridge_dead_queue)
        assert parked.body == b"{not json" and parked.headers["x-source"] == "sqs"

        sqs.send(notification("ObjectRemoved:Delete", bucket, f"{file_id}/photo+one.jpg"))
        removed = await next_message(events_queue)
        assert removed.routing_key == "object.removed"
        # each message is deleted once confirmed (or parked): just after the publish, so wait for it

        async def sqs_is_empty() -> bool:
            return sqs.messages == []

        await eventually(sqs_is_empty, timeout=5)
        async with httpx.AsyncClient(base_url=bridge.url) as client:
            metrics = (await client.get("/metrics")).text
        assert 'bridge_records_total{outcome="published",source="sqs"} 2.0' in metrics
    finally:
        await bridge.stop()
