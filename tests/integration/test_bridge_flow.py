"""Flow D against a real SeaweedFS and a real RabbitMQ: the bridge (metadata-log and webhook
sources) publishes normalized events; the cleanup worker deletes the variants of a removed original.

Every test has its own vhost and bucket; the bridge runs in-process under uvicorn on a free port,
with its checkpoint file in the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from devstack.infra import Infra
from devstack.ports import free_port
from services.bridge.app import build
from services.bridge.checkpoint import CheckpointFile
from services.bridge.settings import BridgeSettings
from services.cleanup.app import build as build_cleanup
from services.cleanup.settings import CleanupSettings
from shared.broker import declare_dead_letter_queue, declare_events_exchange
from shared.events import ObjectEvent
from shared.keys import new_file_id, original_key, parse_original_key, variant_key, variant_prefix
from shared.s3 import ObjectStore
from shared.worker import WorkerProcess
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually

StartBridge = Callable[..., Awaitable[InProcessServer]]


@pytest.fixture
async def start_bridge(settings_for: Callable[..., Any], infra: Infra, tmp_path: Path) -> AsyncIterator[StartBridge]:
    running: list[InProcessServer] = []

    async def start(**overrides: Any) -> InProcessServer:
        port = free_port()
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "seaweedfs_filer": infra.filer_address,
            "weed_binary": infra.weed_binary,
            "bridge_checkpoint_path": str(tmp_path / "bridge-checkpoint"),
            "bridge_resume_margin": 2.0,
        }
        values.update(overrides)
        settings: BridgeSettings = settings_for(BridgeSettings, **values)
        bridge = InProcessServer(build(settings), port)
        await bridge.start()
        running.append(bridge)
        await wait_ready(bridge.url)
        return bridge

    yield start
    for bridge in running:
        await bridge.stop()


async def wait_ready(url: str, timeout: float = 20.0) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:

        async def readyz() -> tuple[int, str]:
            response = await client.get("/readyz")
            return response.status_code, response.text

        await eventually(
            readyz, timeout, until=lambda answer: answer[0] == 200, interval=0.1, what=f"{url}/readyz to answer 200"
        )


@pytest.fixture
async def cleanup_worker(settings_for: Callable[..., Any]) -> AsyncIterator[WorkerProcess]:
    settings: CleanupSettings = settings_for(CleanupSettings, port=free_port(), sweep_interval=0)
    worker = build_cleanup(settings)
    await worker.start()
    yield worker
    await worker.stop()


@pytest.fixture
async def events_queue(connection: AbstractRobustConnection) -> AbstractQueue:
    """A test queue bound to every ``object.*`` event, like any other interested party's."""
    channel = await connection.channel()
    exchange = await declare_events_exchange(channel)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="object.*")
    return queue


@pytest.fixture
async def bridge_dead_queue(connection: AbstractRobustConnection) -> AbstractQueue:
    """Where the bridge parks input it could not turn into events."""
    channel = await connection.channel()
    await declare_dead_letter_queue(channel, "bridge")
    return await channel.get_queue("bridge.dead")


async def next_message(queue: AbstractQueue, timeout: float = 20.0) -> AbstractIncomingMessage:
    return await eventually(lambda: queue.get(no_ack=True, fail=False), timeout, what=f"an event in {queue.name}")


async def assert_no_more(queue: AbstractQueue, wait: float = 2.0) -> None:
    await asyncio.sleep(wait)
    message = await queue.get(no_ack=True, fail=False)
    assert message is None, f"unexpected event: {message.body if message else b''!r}"


async def wait_until_empty(store: ObjectStore, prefix: str, timeout: float = 20.0) -> None:
    await eventually(
        lambda: store.list_keys(prefix),
        timeout,
        until=lambda keys: not keys,
        interval=0.1,
        what=f"{prefix} to be empty",
    )


async def put_original_with_variants(store: ObjectStore, name: str) -> tuple[str, str]:
    file_id = new_file_id()
    key = f"{file_id}/{name}"
    await store.put_bytes(key, b"original bytes", content_type="image/jpeg")
    for width in (100, 300):
        await store.put_bytes(
            str(variant_key(parse_original_key(key), width, "jpg")), b"variant", content_type="image/jpeg"
        )
    return file_id, key


async def test_delete_original_removes_its_variants(
    start_bridge: StartBridge,
    cleanup_worker: WorkerProcess,
    events_queue: AbstractQueue,
    store: ObjectStore,
) -> None:
    await start_bridge()
    file_id, key = await put_original_with_variants(store, "photo one+x.jpg")

    created = await next_message(events_queue)
    assert created.routing_key == "object.created"
    event = ObjectEvent.from_json(created.body)
    assert (event.key, event.bucket, event.size, event.source) == (key, store.bucket, 14, "seaweedfs")

    await store.delete(key)
    removed = await next_message(events_queue)
    assert removed.routing_key == "object.removed"
    assert removed.content_type == "application/json"
    assert removed.message_id
    event = ObjectEvent.from_json(removed.body)
    assert (event.type, event.key) == ("object.removed", key)
    assert removed.message_id == event.message_id

    await wait_until_empty(store, variant_prefix(file_id))
    # neither the variant uploads nor their deletion by the cleanup worker produced events
    await assert_no_more(events_queue)


async def test_bridge_resumes_from_its_checkpoint(
    start_bridge: StartBridge, events_queue: AbstractQueue, store: ObjectStore, tmp_path: Path
) -> None:
    bridge = await start_bridge()
    key = f"{new_file_id()}/report.pdf"
    await store.put_bytes(key, b"%PDF-1.4", content_type="application/pdf")
    created = await next_message(events_queue)
    assert ObjectEvent.from_json(created.body).key == key
    await bridge.stop()
    saved = CheckpointFile(tmp_path / "bridge-checkpoint")
    assert (saved.load() or 0) > 0 and saved.load_recent() is not None  # the position and what it handled

    await store.delete(key)  # while the bridge is down
    await asyncio.sleep(0.5)

    await start_bridge()
    removed = await next_message(events_queue)
    assert removed.routing_key == "object.removed"
    assert ObjectEvent.from_json(removed.body).key == key
    await assert_no_more(events_queue)  # the creation was not published a second time


async def test_webhook_source(
    start_bridge: StartBridge, events_queue: AbstractQueue, bridge_dead_queue: AbstractQueue, store: ObjectStore
) -> None:
    bridge = await start_bridge(bridge_source="webhook", bridge_webhook_token="s3cret")
    file_id = new_file_id()
    auth = {"Authorization": "Bearer s3cret", "x-correlation-id": "corr-123"}
    seaweed = {
        "event_type": "delete",
        "key": f"/buckets/{store.bucket}/{file_id}/photo one+x.jpg",
        "message": {
            "old_entry": {"name": "photo one+x.jpg", "attributes": {"file_size": 10, "mime": "image/jpeg"}},
            "delete_chunks": True,
            "signatures": [-346853235],
        },
    }
    s3 = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"{store.bucket}/{file_id}/photo+one%2Bx.jpg",
        "Records": [
            {
                "eventName": "s3:ObjectCreated:Put",
                "eventTime": "2026-11-24T20:00:00.000Z",
                "s3": {
                    "bucket": {"name": store.bucket},
                    "object": {"key": f"{file_id}/photo+one%2Bx.jpg", "size": 10, "eTag": "abc"},
                },
            }
        ],
    }
    async with httpx.AsyncClient(base_url=bridge.url, timeout=10) as client:
        response = await client.post("/events/seaweedfs", json=seaweed, headers=auth)
        assert response.status_code == 204, response.text
        removed = await next_message(events_queue)
        assert removed.routing_key == "object.removed"
        assert removed.headers.get("x-correlation-id") == "corr-123"
        assert ObjectEvent.from_json(removed.body).key == f"{file_id}/photo one+x.jpg"

        response = await client.post("/events/s3", content=json.dumps(s3), headers=auth)
        assert response.status_code == 204, response.text
        created = ObjectEvent.from_json((await next_message(events_queue)).body)
        assert (created.type, created.key, created.size) == (
            "object.created",
            f"{file_id}/photo one+x.jpg",
            10,
        )

        malformed = await client.post("/events/s3", content=b"{not json", headers=auth)
        assert malformed.status_code == 400
        assert malformed.json()["code"] == "BAD_REQUEST"
        parked = await next_message(bridge_dead_queue)
        assert parked.body == b"{not json" and parked.headers["x-source"] == "s3-webhook"
        unauthorized = await client.post("/events/seaweedfs", json=seaweed)
        assert unauthorized.status_code == 401

        variant = {
            **seaweed,
            "key": f"/buckets/{store.bucket}/{variant_key(original_key(file_id, 'p.jpg'), 100, 'jpg')}",
        }
        assert (await client.post("/events/seaweedfs", json=variant, headers=auth)).status_code == 204
        metrics = (await client.get("/metrics")).text
        assert 'bridge_events_published_total{type="object.removed"} 1.0' in metrics
    await assert_no_more(events_queue, wait=1.0)


async def test_a_removal_waits_for_a_cleanup_worker_that_has_never_run(
    start_bridge: StartBridge, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    """On a fresh broker the bridge may publish before any cleanup worker declared its queue."""
    await start_bridge()
    file_id, key = await put_original_with_variants(store, "early.jpg")
    await store.delete(key)
    channel = await connection.channel()
    cleanup = await channel.get_queue("cleanup")
    removed = await next_message(cleanup)
    assert removed.routing_key == "object.removed"
    assert ObjectEvent.from_json(removed.body).key == key
    assert await store.list_keys(variant_prefix(file_id))  # nothing consumed it yet
