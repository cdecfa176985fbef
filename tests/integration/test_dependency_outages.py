"""Outages of the database and S3 delay work, never drop it: the catalog consumer holds its events
through a database outage longer than the old retry budget (which turned them into dead letters),
poison still dead-letters at once, and the gateway starts, answers DATABASE_UNAVAILABLE with 503
and Retry-After, and recovers without a restart. The database is made unavailable by cutting a
loopback relay in front of it (``devstack.relay``): the shared server keeps running."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from PIL import Image

from devstack.infra import Infra
from devstack.ports import free_port
from devstack.relay import TcpRelay
from services.download.app import build as build_download
from services.download.settings import DownloadSettings
from services.gateway.app import build_catalog
from services.gateway.catalog.model import NewFile
from services.gateway.catalog.service import CatalogService
from services.gateway.metrics import Metrics
from services.gateway.settings import GatewaySettings
from services.resize.app import build as build_resize
from services.resize.settings import ResizeSettings
from shared.broker import CATALOG_QUEUE, EVENTS_EXCHANGE, Consumer, EventPublisher, Outcome, connect, declare_work_queue
from shared.events import OBJECT_CREATED, ObjectEvent
from shared.keys import new_file_id
from shared.retry import RetryPolicy
from shared.s3 import ObjectStore
from shared.settlement import delivery_count_of
from tests.support.gateway import LIST, SETTINGS, Start, start_gateway
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually

__all__ = ["start_gateway"]  # the fixture

OUTAGE = 40.0  # seconds: longer than the old retry budget (5 attempts in about 25 s)


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(buf, "PNG")
    return buf.getvalue()


def through(url: str, relay: TcpRelay) -> str:
    """``url`` with its host and port replaced by the relay's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{relay.port}"))


@pytest.fixture
def db_relay(database_url: str) -> Iterator[TcpRelay]:
    with TcpRelay(urlsplit(database_url).port or 5432) as relay:
        yield relay


@pytest.fixture
async def catalog(
    settings_for: Callable[..., Any], database_url: str, db_relay: TcpRelay, store: ObjectStore
) -> AsyncIterator[tuple[CatalogService, Metrics]]:
    settings: GatewaySettings = settings_for(
        GatewaySettings,
        database_url=through(database_url, db_relay),
        database_timeout=2.0,
        expiry_interval=0,
        # the defaults: an outage longer than their budget used to dead-letter every event in hand
        retry_delay_initial=0.5,
        retry_delay_max=10.0,
    )
    metrics = Metrics()
    service = build_catalog(settings, store, registry=metrics.registry)
    await service.start()
    try:
        yield service, metrics
    finally:
        await service.stop()


async def publish_created(connection: AbstractRobustConnection, bucket: str, keys: list[str]) -> None:
    publisher = await EventPublisher.declare(connection)
    for number, key in enumerate(keys):
        await publisher.publish(
            ObjectEvent(
                type=OBJECT_CREATED,
                bucket=bucket,
                key=key,
                size=None,
                etag=None,
                sequencer=str(number),
                time=datetime.now(UTC).isoformat(),
                source="test",
            )
        )


async def drain_dead(connection: AbstractRobustConnection, queue: str) -> list[bytes]:
    channel = await connection.channel()
    try:
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        bodies = []
        while (message := await dead.get(no_ack=True, fail=False)) is not None:
            bodies.append(message.body)
        return bodies
    finally:
        await channel.close()


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_the_catalog_holds_its_events_through_a_database_outage_and_settles_them_all_after(
    catalog: tuple[CatalogService, Metrics],
    db_relay: TcpRelay,
    store: ObjectStore,
    connection: AbstractRobustConnection,
) -> None:
    service, metrics = catalog
    uploads = []
    for number in range(10):
        file_id = new_file_id()
        new = NewFile(id=file_id, key=f"{file_id}/p{number}.png", name=f"p{number}.png", type="image/png",
                      size=10_000, created_by="alice")  # fmt: skip
        await service.catalog.register_pending(new)
        await store.put_bytes(new.key, png_bytes(), content_type="image/png")
        uploads.append(new)

    db_relay.cut()
    started = time.monotonic()
    await publish_created(connection, store.bucket, [new.key for new in uploads])
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    await exchange.publish(aio_pika.Message(b"{poison", message_id="poison"), routing_key=OBJECT_CREATED)
    await channel.close()
    await eventually(
        lambda: asyncio.sleep(0, service.worker.waiting_for),
        10,
        until=lambda waiting: "database" in waiting,
        what="the consumer to wait for the database",
    )
    await asyncio.sleep(OUTAGE - (time.monotonic() - started))
    assert await drain_dead(connection, CATALOG_QUEUE) == []  # nothing dead-lettered during the outage
    assert "database" in service.worker.waiting_for
    db_relay.restore()

    for new in uploads:
        record = await eventually(
            lambda key=new.key: service.catalog.find_by_key(key),  # type: ignore[misc]
            60,
            until=lambda r: r is not None and r.status == "ready",
            what=f"{new.key} to be ready",
        )
        assert record is not None and record.size == len(png_bytes())
    # The poison, held like the rest while the consumer waited, is dead-lettered once it runs.
    dead = await eventually(lambda: drain_dead(connection, CATALOG_QUEUE), 10, until=bool, what="the poison")
    assert dead == [b"{poison"]
    assert service.worker.waiting_for == frozenset()
    assert sample(metrics, "queue_messages_held_total", queue=CATALOG_QUEUE, dependency="database") >= 1
    assert sample(metrics, "queue_waiting_for_dependency", queue=CATALOG_QUEUE, dependency="database") == 0
    assert sample(metrics, "queue_messages_dead_lettered_total", queue=CATALOG_QUEUE) == 1


async def test_a_poison_event_is_dead_lettered_at_once_while_the_database_is_up(
    catalog: tuple[CatalogService, Metrics], connection: AbstractRobustConnection
) -> None:
    service, metrics = catalog
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    started = time.monotonic()
    await exchange.publish(aio_pika.Message(b"not an event", message_id="poison"), routing_key=OBJECT_CREATED)
    await channel.close()
    dead = await eventually(lambda: drain_dead(connection, CATALOG_QUEUE), 10, until=bool, what="a dead letter")
    assert dead == [b"not an event"] and time.monotonic() - started < 5
    assert service.worker.waiting_for == frozenset()
    assert await service.worker.read_dead_letters() == 0  # drained above
    assert sample(metrics, "queue_dead_letters", queue=f"{CATALOG_QUEUE}.dead") == 0
    assert sample(metrics, "queue_messages_dead_lettered_total", queue=CATALOG_QUEUE) == 1


# --- the gateway ------------------------------------------------------------------------------------


async def test_the_gateway_starts_without_its_database_answers_503_and_recovers_without_a_restart(
    start_gateway: Start, database_url: str, db_relay: TcpRelay
) -> None:
    db_relay.cut()
    gateway = await start_gateway(database_url=through(database_url, db_relay), database_timeout=1.0)

    assert (await gateway.http.get("/healthz")).status_code == 200
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["catalog"] != "ok"

    listed = await gateway.post({"query": LIST, "variables": {"limit": 10}})
    assert listed.status_code == 503, listed.text
    assert listed.headers["retry-after"] == "5"
    error = listed.json()["data"]["fileManager"]["listFiles"]["error"]
    assert error["code"] == "DATABASE_UNAVAILABLE"
    assert error["data"] == {"retryable": True, "retryAfter": 5}
    # For Apollo's link, which passes a non-2xx body on only when it has data and errors.
    [listed_error] = listed.json()["errors"]
    assert listed_error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert listed_error["path"] == ["fileManager", "listFiles"]

    batch = await gateway.post([{"query": LIST, "variables": {}}, {"query": SETTINGS}])
    assert batch.status_code == 503 and batch.headers["retry-after"] == "5"
    listed_batch, settings_batch = batch.json()
    assert listed_batch["data"]["fileManager"]["listFiles"]["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert settings_batch["data"]["fileManager"]["getSettings"]["error"]["code"] == "DATABASE_UNAVAILABLE"
    version = await gateway.post({"query": "{ fileManager { version } }"})
    assert version.status_code == 503
    assert version.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"

    db_relay.restore()
    await eventually(
        lambda: gateway.http.get("/readyz"),
        60,
        until=lambda response: response.status_code == 200,
        interval=0.5,
        what="the gateway to be ready once its database answers",
    )
    recovered = await gateway.post({"query": LIST, "variables": {"limit": 10}})
    assert recovered.status_code == 200 and recovered.json()["data"]["fileManager"]["listFiles"]["error"] is None


async def test_a_database_lost_while_serving_is_a_503_then_service_resumes(
    start_gateway: Start, database_url: str, db_relay: TcpRelay
) -> None:
    gateway = await start_gateway(database_url=through(database_url, db_relay), database_timeout=1.0)
    fine = await gateway.post({"query": LIST, "variables": {}})
    assert fine.status_code == 200

    db_relay.cut()
    down = await gateway.post({"query": LIST, "variables": {}})
    assert down.status_code == 503 and int(down.headers["retry-after"]) > 0
    assert down.json()["data"]["fileManager"]["listFiles"]["error"]["code"] == "DATABASE_UNAVAILABLE"

    db_relay.restore()
    back = await eventually(
        lambda: gateway.post({"query": LIST, "variables": {}}),
        30,
        until=lambda response: response.status_code == 200,
        interval=0.5,
        what="listFiles to answer again",
    )
    assert back.json()["data"]["fileManager"]["listFiles"]["error"] is None


async def test_an_answer_with_one_operation_that_succeeded_keeps_status_200(
    start_gateway: Start, database_url: str, db_relay: TcpRelay
) -> None:
    """Only a response that failed as a whole is a 503: with an operation that needs no database
    (introspection) beside one that does, each reads its own outcome."""
    gateway = await start_gateway(database_url=through(database_url, db_relay), database_timeout=1.0)
    db_relay.cut()
    mixed = await gateway.post([{"query": LIST, "variables": {}}, {"query": "{ __typename }"}])
    assert mixed.status_code == 200
    first, second = mixed.json()
    assert first["data"]["fileManager"]["listFiles"]["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert second["data"] == {"__typename": "Query"}


# --- the broker ---------------------------------------------------------------------------------------


async def test_a_message_in_hand_through_many_broker_disconnections_is_never_dead_lettered(
    amqp_url: str, connection: AbstractRobustConnection
) -> None:
    """Each lost connection returns the message in hand and the quorum queue counts it (its
    x-delivery-limit is 5): seven cuts in a row would dead-letter it, but the consumer puts back a
    fresh copy at the third count (shared.settlement.refresh), so it is finally handled, not lost."""
    queue_name = "flapping"
    channel = await connection.channel()
    await declare_work_queue(channel, queue_name)
    await channel.default_exchange.publish(aio_pika.Message(b"job", message_id="job-1"), routing_key=queue_name)

    parts = urlsplit(amqp_url)
    cuts = 7
    taken = asyncio.Event()
    counts: list[int] = []
    with TcpRelay(parts.port or 5672) as relay:
        consumer_url = through(amqp_url, relay) + "?reconnect_interval=0.5"
        consumer_connection = await connect(consumer_url, name="flapping")
        consumer_channel = await consumer_connection.channel()
        await consumer_channel.set_qos(prefetch_count=1)
        queue = await declare_work_queue(consumer_channel, queue_name)
        finish = asyncio.Event()

        async def handler(message: AbstractIncomingMessage) -> Outcome:
            counts.append(delivery_count_of(message.headers))
            taken.set()
            await finish.wait()  # long work: the connection is cut while it runs
            return Outcome.ACK

        consumer = Consumer(queue, handler, name="flapping", retry=RetryPolicy(0.01, 0.02))
        await consumer.start()
        try:
            for _ in range(cuts):
                await asyncio.wait_for(taken.wait(), timeout=30)
                taken.clear()
                relay.cut()
                await asyncio.sleep(0.3)
                relay.restore()
            await asyncio.wait_for(taken.wait(), timeout=30)
            finish.set()
            await consumer.stop(timeout=10)  # the message in hand is finished and acked
        finally:
            finish.set()
            await consumer_connection.close()
    assert await waiting_in(connection, queue_name) == 0  # acked, not returned
    assert await drain_dead(connection, queue_name) == []
    assert len(counts) >= cuts + 1, counts
    assert max(counts) < 3, counts  # at 3 a fresh copy went back instead: the count never nears the limit
    assert counts.count(0) >= 2, counts  # the fresh copy (and the first delivery) counted from 0


async def waiting_in(connection: AbstractRobustConnection, queue: str) -> int:
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await channel.close()


# --- S3 behind the resize worker ----------------------------------------------------------------------


async def test_a_resize_while_s3_is_down_is_a_prompt_503_and_the_retry_after_it_gets_the_variant(
    settings_for: Callable[..., Any],
    infra: Infra,
    store: ObjectStore,
    serve_app: Callable[..., Awaitable[InProcessServer]],
) -> None:
    """The resize worker cannot reach S3 (a cut relay; the download service still can): the request
    for a new width is answered 503 STORAGE_UNAVAILABLE with Retry-After at once, not after the RPC
    timeout; once S3 answers, the held request makes the variant and a retry is a 200."""
    key = f"{new_file_id()}/photo.png"
    await store.put_bytes(key, png_bytes_of(640, 480), content_type="image/png")
    port = free_port()
    download = await serve_app(build_download(settings_for(DownloadSettings, host="127.0.0.1", port=port)), port)
    with TcpRelay(urlsplit(infra.s3_endpoint_url).port or 80) as relay:
        resize = build_resize(
            settings_for(ResizeSettings, port=free_port(), s3_endpoint_url=f"http://127.0.0.1:{relay.port}",
                         retry_delay_initial=0.1, retry_delay_max=0.5)
        )  # fmt: skip
        await resize.start()
        try:
            relay.cut()
            async with httpx.AsyncClient(base_url=download.url, timeout=60) as client:
                started = time.monotonic()
                down = await client.get(f"/files/{key}?width=300")
                assert down.status_code == 503, down.text
                assert down.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
                assert down.headers["retry-after"] == "5"
                assert time.monotonic() - started < 10  # the RPC timeout is 20 s
                relay.restore()
                back = await eventually(
                    lambda: client.get(f"/files/{key}?width=300"),
                    60,
                    until=lambda response: response.status_code == 200,
                    interval=0.5,
                    what="the variant once S3 answers",
                )
                assert back.headers["content-type"] == "image/png"
        finally:
            await resize.stop()


def png_bytes_of(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "navy").save(buf, "PNG")
    return buf.getvalue()
