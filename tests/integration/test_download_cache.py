"""The download service's cache against real S3 and RabbitMQ: hits cost no S3 request, and an
``object.removed`` event on ``files.events`` makes the deletion visible at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest

from devstack.ports import free_port
from services.download.app import build
from services.download.settings import DownloadSettings
from shared.broker import EventPublisher, declare_events_exchange
from shared.events import OBJECT_REMOVED, ObjectEvent
from shared.keys import new_file_id, parse_original_key, variant_key
from shared.s3 import ObjectStore
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually


@pytest.fixture
async def download(
    settings_for: Callable[..., Any], serve_app: Callable[..., Awaitable[InProcessServer]]
) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = settings_for(DownloadSettings, host="127.0.0.1", port=port, resize_timeout=1.0)
    server = await serve_app(build(settings), port)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def _publish_removed(amqp_url: str, bucket: str, key: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await declare_events_exchange(channel)
        event = ObjectEvent(OBJECT_REMOVED, bucket, key, None, None, "1", "", "test")
        await EventPublisher(exchange).publish(event)
    finally:
        await connection.close()


async def test_a_removal_event_evicts_the_file_and_its_variants(
    download: httpx.AsyncClient, store: ObjectStore, amqp_url: str, bucket: str
) -> None:
    file_id = new_file_id()
    key = f"{file_id}/photo.jpg"
    variant = str(variant_key(parse_original_key(key), 300, "jpg"))
    await store.put_bytes(key, b"original", content_type="image/jpeg")
    await store.put_bytes(variant, b"variant-300", content_type="image/jpeg")
    first = await download.get(f"/files/{key}")
    small = await download.get(f"/files/{key}?width=300")
    assert (first.content, small.content) == (b"original", b"variant-300")

    # Deleted behind the service's back: the cache still answers (the events are how it learns).
    await store.delete(key)
    await store.delete(variant)
    assert (await download.get(f"/files/{key}")).content == b"original"
    ranged = await download.get(f"/files/{key}", headers={"range": "bytes=2-4"})
    assert ranged.status_code == 206 and ranged.content == b"igi"
    assert ranged.headers["content-range"] == "bytes 2-4/8"

    await _publish_removed(amqp_url, bucket, key)

    async def gone() -> bool:
        return (await download.get(f"/files/{key}")).status_code == 404

    await eventually(gone, timeout=5.0, what="the removal event to evict the original")
    assert (await download.get(f"/files/{key}?width=300")).status_code == 404
