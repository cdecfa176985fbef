"""The cleanup worker against a real RabbitMQ vhost and a real S3 bucket: events, poison
messages, idempotency and the orphan sweep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from devstack.ports import free_port
from services.cleanup.app import build
from services.cleanup.metrics import Metrics
from services.cleanup.settings import CleanupSettings
from services.cleanup.sweep import Sweeper
from shared.broker import EVENTS_EXCHANGE
from shared.events import ObjectEvent
from shared.keys import file_id_of, new_file_id, parse_original_key, variant_key, variant_prefix
from shared.s3 import ObjectStore
from shared.worker import WorkerProcess
from tests.support.waiting import eventually

StartWorker = Callable[..., Awaitable[tuple[WorkerProcess, str]]]


@pytest.fixture
async def start_worker(settings_for: Callable[..., Any]) -> AsyncIterator[StartWorker]:
    workers: list[WorkerProcess] = []

    async def start(**overrides: Any) -> tuple[WorkerProcess, str]:
        port = free_port()
        values: dict[str, Any] = {"port": port, "sweep_interval": 0}
        values.update(overrides)
        worker = build(settings_for(CleanupSettings, **values))
        await worker.start()
        workers.append(worker)
        return worker, f"http://127.0.0.1:{port}"

    yield start
    for worker in workers:
        await worker.stop()


async def publish_removed(connection: AbstractRobustConnection, body: bytes) -> None:
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(
        aio_pika.Message(body, content_type="application/json", message_id="m"), routing_key="object.removed"
    )
    await channel.close()


def removed_event(bucket: str, key: str) -> bytes:
    return ObjectEvent(
        type="object.removed",
        bucket=bucket,
        key=key,
        size=None,
        etag=None,
        sequencer="1",
        time="2026-11-24T20:00:00.000Z",
        source="test",
    ).to_json()


async def put_variants(store: ObjectStore, key: str) -> None:
    for width in (100, 300, 500):
        await store.put_bytes(str(variant_key(parse_original_key(key), width, "jpg")), b"v", content_type="image/jpeg")


async def test_removed_event_deletes_variants_and_is_idempotent(
    start_worker: StartWorker, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    _, url = await start_worker()
    file_id = new_file_id()
    key = f"{file_id}/photo.jpg"
    other = f"{new_file_id()}/keep.jpg"
    await put_variants(store, key)
    await put_variants(store, other)

    await publish_removed(connection, removed_event(store.bucket, key))
    await eventually(lambda: _empty(store, variant_prefix(file_id)))
    await publish_removed(connection, removed_event(store.bucket, key))  # a duplicate: nothing to do

    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        assert (await client.get("/readyz")).status_code == 200

        async def acked_twice() -> bool:
            text = (await client.get("/metrics")).text
            return 'cleanup_messages_total{outcome="ack"} 2.0' in text

        await eventually(acked_twice)
        metrics = (await client.get("/metrics")).text
    assert 'cleanup_variants_deleted_total{via="event"} 3.0' in metrics
    assert len(await store.list_keys(variant_prefix(file_id_of(other)))) == 3


async def test_removed_event_keeps_variants_of_an_original_that_still_exists(
    start_worker: StartWorker, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    _, url = await start_worker()
    key = f"{new_file_id()}/photo.jpg"
    await store.put_bytes(key, b"original", content_type="image/jpeg")
    await put_variants(store, key)
    await publish_removed(connection, removed_event(store.bucket, key))
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:

        async def acked() -> bool:
            return 'cleanup_messages_total{outcome="ack"} 1.0' in (await client.get("/metrics")).text

        await eventually(acked)
    assert len(await store.list_keys(variant_prefix(file_id_of(key)))) == 3


async def test_malformed_message_is_dead_lettered_and_the_worker_goes_on(
    start_worker: StartWorker, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    await start_worker()
    await publish_removed(connection, b"{this is not an event")
    channel = await connection.channel()
    dead = await channel.declare_queue("cleanup.dead", durable=True, passive=True)

    async def dead_lettered() -> bool:
        message = await dead.get(no_ack=True, fail=False)
        if message is None:
            return False
        assert message.body == b"{this is not an event"
        return True

    await eventually(dead_lettered)

    key = f"{new_file_id()}/after.jpg"
    await put_variants(store, key)
    await publish_removed(connection, removed_event(store.bucket, key))
    await eventually(lambda: _empty(store, variant_prefix(file_id_of(key))))


async def test_sweep_deletes_orphan_variants_only(start_worker: StartWorker, store: ObjectStore) -> None:
    orphan = f"{new_file_id()}/gone.jpg"
    kept = f"{new_file_id()}/here.jpg"
    await put_variants(store, orphan)
    await store.put_bytes(kept, b"original", content_type="image/jpeg")
    await put_variants(store, kept)
    await store.put_bytes("variants/not-an-id/x/w100.jpg", b"v", content_type="image/jpeg")

    # within the grace period nothing is touched
    young = await Sweeper(store, grace_seconds=3600, metrics=Metrics()).run_once()
    assert (young.orphans, young.too_young, young.deleted) == (1, 1, 0)
    assert len(await store.list_keys(variant_prefix(file_id_of(orphan)))) == 3

    # the worker's own periodic sweep, with no grace, takes the orphan and leaves the rest
    await start_worker(sweep_interval=0.5, sweep_grace=0)
    await eventually(lambda: _empty(store, variant_prefix(file_id_of(orphan))))
    assert len(await store.list_keys(variant_prefix(file_id_of(kept)))) == 3
    assert len(await store.list_keys("variants/not-an-id/")) == 1


async def _empty(store: ObjectStore, prefix: str) -> bool:
    return not await store.list_keys(prefix)


async def test_a_variant_written_after_the_clean_up_goes_at_the_second_look(
    start_worker: StartWorker, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    """A resize job that read the original just before its deletion writes its variant after the
    clean-up: the second look removes it; a file uploaded again in between keeps its variants."""
    _, url = await start_worker(second_look_after=5)
    gone, back = f"{new_file_id()}/gone.jpg", f"{new_file_id()}/back.jpg"
    for key in (gone, back):
        await store.put_bytes(key, b"original", content_type="image/jpeg")
        await put_variants(store, key)
        await store.delete(key)
        await publish_removed(connection, removed_event(store.bucket, key))

    async def cleaned(key: str) -> bool:
        return not await store.list_keys(variant_prefix(file_id_of(key)))

    await eventually(lambda: cleaned(gone), timeout=20)
    await eventually(lambda: cleaned(back), timeout=20)
    # the late variant of a running job, and the file that is uploaded again with a variant of its own
    late = str(variant_key(parse_original_key(gone), 300, "jpg"))
    await store.put_bytes(late, b"late", content_type="image/jpeg")
    await store.put_bytes(back, b"original again", content_type="image/jpeg")
    await put_variants(store, back)

    await eventually(lambda: cleaned(gone), timeout=20)
    assert await store.head(late) is None
    assert len(await store.list_keys(variant_prefix(file_id_of(back)))) == 3
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{url}/metrics")).text
    assert 'cleanup_variants_deleted_total{via="second_look"} 1.0' in metrics
