"""The catalog's event side against a real PostgreSQL, RabbitMQ vhost and S3 bucket: uploads
confirmed by object.created, content checked and rejected, removals, duplicated and reordered
events, poison messages, and the expiry of pending records."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from PIL import Image

from devstack.infra import Infra
from devstack.ports import free_port
from services.bridge.app import build as build_bridge
from services.bridge.settings import BridgeSettings
from services.gateway.app import build_catalog
from services.gateway.catalog.events import Handled
from services.gateway.catalog.expiry import ExpiryResult
from services.gateway.catalog.model import FileRecord, NewFile
from services.gateway.catalog.service import CatalogService
from services.gateway.settings import GatewaySettings
from shared.broker import CATALOG_QUEUE, EVENTS_EXCHANGE, EventPublisher
from shared.errors import Unavailable
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, ObjectEvent
from shared.keys import new_file_id, parse_original_key, variant_key
from shared.s3 import ObjectStore
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually

HTML = b"<!doctype html><html><body><script>steal()</script></body></html>"


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def gateway_settings(settings_for: Callable[..., Any], database_url: str) -> GatewaySettings:
    settings: GatewaySettings = settings_for(
        GatewaySettings,
        database_url=database_url,
        expiry_interval=0,  # the tests run the expiry themselves
        amqp_prefetch=1,  # one event at a time, in order: "processed" is observable
        retry_delay_initial=0.05,
        retry_delay_max=0.2,
    )
    return settings


@pytest.fixture
async def runtime(gateway_settings: GatewaySettings, store: ObjectStore) -> AsyncIterator[CatalogService]:
    service = build_catalog(gateway_settings, store)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def publish(connection: AbstractRobustConnection, store: ObjectStore) -> Callable[..., Awaitable[None]]:
    publisher = await EventPublisher.declare(connection)
    sequence = iter(range(1, 1_000_000))

    async def send(kind: str, key: str, *, bucket: str | None = None) -> None:
        event = ObjectEvent(
            type=kind,
            bucket=bucket or store.bucket,
            key=key,
            size=None,
            etag=None,
            sequencer=str(next(sequence)),
            time=datetime.now(UTC).isoformat(),
            source="test",
        )
        await publisher.publish(event)

    return send


def pending_file(name: str = "pic.png", type: str = "image/png", owner: str = "alice") -> NewFile:
    file_id = new_file_id()
    return NewFile(id=file_id, key=f"{file_id}/{name}", name=name, type=type, size=10_000, created_by=owner)


async def settled(
    runtime: CatalogService, key: str, done: Callable[[FileRecord | None], bool], timeout: float = 10.0
) -> FileRecord | None:
    """Wait until the record of ``key`` (as the event side sees it) satisfies ``done``."""
    record: FileRecord | None = await eventually(
        lambda: runtime.catalog.find_by_key(key), timeout, until=done, what=f"{key} to settle"
    )
    return record


async def processed_in_order(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    """A marker upload published last: once it is confirmed, every earlier event was handled
    (one consumer, prefetch 1, a FIFO queue)."""
    marker = pending_file("marker.png")
    await runtime.catalog.register_pending(marker)
    await store.put_bytes(marker.key, png_bytes(), content_type="image/png")
    await publish(OBJECT_CREATED, marker.key)
    await settled(runtime, marker.key, lambda r: r is not None and r.status == "ready")


async def test_an_upload_through_the_presigned_post_becomes_ready_with_what_s3_reports(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    new = pending_file()
    await runtime.catalog.register_pending(new)
    body = png_bytes()
    form = store.presigned_post(new.key, content_type="image/png", max_size=new.size, expires_in=60)
    async with httpx.AsyncClient() as client:
        response = await client.post(form["url"], data=form["fields"], files={"file": ("pic.png", body, "image/png")})
    assert response.status_code == 204
    assert await runtime.catalog.get(new.id) is None  # pending until the event says otherwise

    await publish(OBJECT_CREATED, new.key)
    record = await settled(runtime, new.key, lambda r: r is not None and r.status == "ready")
    info = await store.head(new.key)
    assert record is not None and info is not None
    assert (record.size, record.etag) == (len(body), info.etag)
    visible = await runtime.catalog.get(new.id, owner="alice")
    assert visible is not None and visible.size == len(body)


async def test_html_declared_as_an_image_is_deleted_and_rejected_with_a_reason(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    new = pending_file("cat.png", "image/png")
    await runtime.catalog.register_pending(new)
    await store.put_bytes(new.key, HTML, content_type="image/png")
    await publish(OBJECT_CREATED, new.key)
    record = await settled(runtime, new.key, lambda r: r is not None and r.status == "rejected")
    assert record is not None and record.reason is not None
    assert "text/html" in record.reason and "image/png" in record.reason
    assert await store.head(new.key) is None  # the object is gone from S3
    assert await runtime.catalog.get(new.id) is None

    # The removal that the deletion causes, and a duplicated creation, change nothing.
    await publish(OBJECT_REMOVED, new.key)
    await publish(OBJECT_CREATED, new.key)
    await processed_in_order(runtime, store, publish)
    still = await runtime.catalog.find_by_key(new.key)
    assert still is not None and still.status == "rejected"  # never ready again; the reason stays
    assert await runtime.catalog.get(new.id) is None
    readable = await runtime.catalog.rejection(new.id, owner="alice")
    assert readable is not None and readable.reason == record.reason
    assert await runtime.catalog.rejection(new.id, owner="mallory") is None


async def test_a_removal_makes_the_record_go_away_and_a_late_creation_does_not_bring_it_back(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    new = pending_file()
    await runtime.catalog.register_pending(new)
    await store.put_bytes(new.key, png_bytes(), content_type="image/png")
    await publish(OBJECT_CREATED, new.key)
    await publish(OBJECT_CREATED, new.key)  # a duplicate
    await settled(runtime, new.key, lambda r: r is not None and r.status == "ready")

    await store.delete(new.key)
    await publish(OBJECT_REMOVED, new.key)
    await settled(runtime, new.key, lambda r: r is None)
    await store.put_bytes(new.key, png_bytes(), content_type="image/png")  # even if the bytes were back
    await publish(OBJECT_CREATED, new.key)  # late / replayed
    await publish(OBJECT_REMOVED, new.key)  # duplicated
    await processed_in_order(runtime, store, publish)
    assert await runtime.catalog.get(new.id) is None
    assert await runtime.catalog.find_by_key(new.key) is None


async def test_a_removal_that_overtakes_the_creation_still_wins(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    new = pending_file()
    await runtime.catalog.register_pending(new)
    await store.put_bytes(new.key, png_bytes(), content_type="image/png")
    await store.delete(new.key)
    await publish(OBJECT_REMOVED, new.key)
    await publish(OBJECT_CREATED, new.key)
    await processed_in_order(runtime, store, publish)
    assert await runtime.catalog.find_by_key(new.key) is None
    assert await runtime.catalog.get(new.id) is None


async def test_events_of_other_buckets_variants_and_unknown_keys_are_acknowledged_and_ignored(
    runtime: CatalogService, store: ObjectStore, publish: Callable[..., Awaitable[None]]
) -> None:
    new = pending_file()
    await runtime.catalog.register_pending(new)
    await store.put_bytes(new.key, png_bytes(), content_type="image/png")
    await publish(OBJECT_CREATED, new.key, bucket="another-bucket")
    await publish(OBJECT_REMOVED, new.key, bucket="another-bucket")
    await publish(OBJECT_REMOVED, str(variant_key(parse_original_key(new.key), 100, "png")))
    await publish(OBJECT_CREATED, f"{new_file_id()}/stranger.png")
    await processed_in_order(runtime, store, publish)
    record = await runtime.catalog.find_by_key(new.key)
    assert record is not None and record.status == "pending"


async def test_a_message_that_is_not_an_event_is_dead_lettered(
    runtime: CatalogService,
    connection: AbstractRobustConnection,
    store: ObjectStore,
    publish: Callable[..., Awaitable[None]],
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(b"{not json", message_id="poison"), routing_key=OBJECT_CREATED)
    await processed_in_order(runtime, store, publish)  # the consumer is still alive
    dead = await channel.declare_queue(f"{CATALOG_QUEUE}.dead", passive=True)
    message = await dead.get(timeout=5, fail=False)
    assert message is not None and message.body == b"{not json"
    await message.ack()
    await channel.close()


async def test_the_expiry_drops_abandoned_uploads_and_settles_those_whose_event_was_lost(
    runtime: CatalogService, store: ObjectStore, gateway_settings: GatewaySettings
) -> None:
    abandoned = pending_file("never.png")
    lost_event = pending_file("uploaded.png")
    lost_fake = pending_file("fake.png")
    for new in (abandoned, lost_event, lost_fake):
        await runtime.catalog.register_pending(new)
    body = png_bytes()
    await store.put_bytes(lost_event.key, body, content_type="image/png")
    await store.put_bytes(lost_fake.key, HTML, content_type="image/png")

    assert await runtime.expiry.run_once() == ExpiryResult()  # nothing is overdue yet

    max_age = gateway_settings.presign_expires + gateway_settings.pending_expiry_margin
    later = datetime.now(UTC) + timedelta(seconds=max_age + 1)
    result = await runtime.expiry.run_once(now=later)
    assert (result.expired, result.confirmed, result.rejected) == (1, 1, 1)
    assert await runtime.catalog.find_by_key(abandoned.key) is None
    confirmed = await runtime.catalog.get(lost_event.id)
    assert confirmed is not None and confirmed.size == len(body)
    rejected = await runtime.catalog.find_by_key(lost_fake.key)
    assert rejected is not None and rejected.status == "rejected"
    assert await store.head(lost_fake.key) is None

    # An upload that arrives after its record expired is not catalogued by its event, but a
    # createFile (say a long multipart upload completing) registers it.
    await store.put_bytes(abandoned.key, body, content_type="image/png")
    assert await runtime.events.created(abandoned.key) is Handled.IGNORED
    assert await runtime.catalog.get(abandoned.id) is None
    registered = await runtime.catalog.register_uploaded(abandoned, size=len(body), etag=None)
    assert registered.status == "ready" and registered.size == len(body)

    # Rejected records are kept for the retention, then forgotten.
    much_later = later + timedelta(seconds=gateway_settings.rejected_retention + 1)
    assert (await runtime.expiry.run_once(now=much_later)).purged_rejected == 1
    assert await runtime.catalog.find_by_key(lost_fake.key) is None


async def test_readiness_follows_the_database_and_the_broker(runtime: CatalogService) -> None:
    await runtime.ping()
    connection = runtime.worker.connection
    assert connection is not None
    await connection.close()
    with pytest.raises(Unavailable):
        await runtime.ping()


@pytest.fixture
async def bridge(settings_for: Callable[..., Any], infra: Infra, tmp_path: Path) -> AsyncIterator[InProcessServer]:
    """The real bridge (SeaweedFS metadata log -> files.events), in-process on a free port."""
    port = free_port()
    settings: BridgeSettings = settings_for(
        BridgeSettings,
        host="127.0.0.1",
        port=port,
        seaweedfs_filer=infra.filer_address,
        weed_binary=infra.weed_binary,
        bridge_checkpoint_path=str(tmp_path / "bridge-checkpoint"),
    )
    server = InProcessServer(build_bridge(settings), port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            await eventually(
                lambda: client.get("/readyz"),
                timeout=20,
                until=lambda response: response.status_code == 200,
                interval=0.1,
                what="the bridge to be ready",
            )
        yield server
    finally:
        await server.stop()


async def test_through_the_real_bridge_uploads_are_confirmed_rejected_and_removed(
    bridge: InProcessServer, runtime: CatalogService, store: ObjectStore
) -> None:
    good = pending_file("real.png")
    fake = pending_file("fake.png")
    for new in (good, fake):
        await runtime.catalog.register_pending(new)
    async with httpx.AsyncClient() as client:
        for new, body in ((good, png_bytes()), (fake, HTML)):
            form = store.presigned_post(new.key, content_type="image/png", max_size=new.size, expires_in=60)
            response = await client.post(form["url"], data=form["fields"], files={"file": ("f", body, "image/png")})
            assert response.status_code == 204

    ready = await settled(runtime, good.key, lambda r: r is not None and r.status == "ready", timeout=30)
    assert ready is not None and ready.size == len(png_bytes())
    rejected = await settled(runtime, fake.key, lambda r: r is not None and r.status == "rejected", timeout=30)
    assert rejected is not None and "text/html" in (rejected.reason or "")
    # The record is marked first, the object deleted right after (a retry then only repeats the delete).
    await eventually(
        lambda: store.head(fake.key), 10, until=lambda info: info is None, what="the rejected object gone from S3"
    )
    readable = await runtime.catalog.rejection(fake.id)
    assert readable is not None and readable.reason == rejected.reason

    await store.delete(good.key)  # as deleteFile's S3 step (or anyone with bucket access) would
    await settled(runtime, good.key, lambda r: r is None, timeout=30)
    assert await runtime.catalog.get(good.id) is None
