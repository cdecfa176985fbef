"""The resize worker against a real RabbitMQ vhost and a real SeaweedFS bucket, in process."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from PIL import Image

from devstack.infra import Infra
from devstack.photos import jpeg_bytes, photo
from devstack.ports import free_port
from devstack.relay import TcpRelay
from services.resize.app import build
from services.resize.metrics import Metrics
from services.resize.settings import ResizeSettings
from shared.broker import RESIZE_QUEUE, RpcClient
from shared.errors import Unavailable
from shared.keys import file_id_of, new_file_id, parse_original_key, variant_key, variant_prefix
from shared.messages import ResizeReply, ResizeRequest
from shared.s3 import ObjectInfo, ObjectStore, make_client
from shared.worker import WorkerProcess
from tests.support.waiting import eventually

RPC_TIMEOUT = 30.0
DEAD_QUEUE = f"{RESIZE_QUEUE}.dead"


@dataclass
class RunningWorker:
    """A started resize worker process, with the metrics and side port it was built with."""

    process: WorkerProcess
    metrics: Metrics
    side_port: int

    async def stop(self) -> None:
        await self.process.stop()


async def start_worker(settings: ResizeSettings) -> RunningWorker:
    metrics = Metrics()
    process = build(settings, metrics=metrics)
    await process.start()
    return RunningWorker(process, metrics, settings.port)


@pytest.fixture
async def worker(settings_for: Callable[..., Any]) -> AsyncIterator[RunningWorker]:
    service = await start_worker(settings_for(ResizeSettings, port=free_port(), worker_threads=2))
    try:
        yield service
    finally:
        await service.stop()


async def ask(rpc: RpcClient, key: str, width: int, fmt: str = "jpeg") -> ResizeReply:
    body = await rpc.call(RESIZE_QUEUE, ResizeRequest(key, width, fmt).to_json(), timeout=RPC_TIMEOUT)
    return ResizeReply.from_json(body)


async def put_jpeg(store: ObjectStore, width: int = 1200, height: int = 800, name: str = "photo.jpg") -> str:
    key = f"{new_file_id()}/{name}"
    await store.put_bytes(key, jpeg_bytes(width, height), content_type="image/jpeg")
    return key


async def dead_letters(connection: AbstractRobustConnection, timeout: float = 15.0) -> list[bytes]:
    """Drain ``resize.requests.dead``, waiting up to ``timeout`` for the first message."""
    channel = await connection.channel()
    try:
        queue = await channel.get_queue(DEAD_QUEUE, ensure=True)
        first = await eventually(
            lambda: queue.get(no_ack=True, fail=False), timeout, interval=0.2, what=f"a message in {DEAD_QUEUE}"
        )
        bodies = [first.body]
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            bodies.append(message.body)
        return bodies
    finally:
        await channel.close()


async def no_dead_letters(connection: AbstractRobustConnection, wait: float) -> None:
    """Nothing reaches ``resize.requests.dead`` within ``wait`` seconds."""
    await asyncio.sleep(wait)
    channel = await connection.channel()
    try:
        queue = await channel.get_queue(DEAD_QUEUE, ensure=True)
        message = await queue.get(no_ack=True, fail=False)
        assert message is None, f"dead-lettered: {message.body!r}"
    finally:
        await channel.close()


async def test_resizes_a_jpeg_and_stores_the_variant(
    worker: RunningWorker, rpc: RpcClient, store: ObjectStore, settings_for: Callable[..., Any]
) -> None:
    key = await put_jpeg(store, 1200, 800)

    reply = await ask(rpc, key, 300)

    assert reply.status == "ok", reply
    assert reply.variant_key == str(variant_key(parse_original_key(key), 300, "jpg"))
    assert reply.content_type == "image/jpeg"
    info, data = await store.get_bytes(reply.variant_key)
    assert info.size == reply.size == len(data)
    assert info.content_type == "image/jpeg"
    with Image.open(io.BytesIO(data)) as variant:
        assert (variant.format, variant.size) == ("JPEG", (300, 200))
    head = make_client(settings_for(ResizeSettings)).head_object(Bucket=store.bucket, Key=reply.variant_key)
    assert head["CacheControl"] == "public, max-age=31536000, immutable"


async def test_a_second_request_reuses_the_stored_variant(
    worker: RunningWorker, rpc: RpcClient, store: ObjectStore
) -> None:
    key = await put_jpeg(store)
    first = await ask(rpc, key, 500)
    assert first.status == "ok" and first.variant_key
    stored = await store.head(first.variant_key)

    second = await ask(rpc, key, 500)

    assert second == first
    again = await store.head(first.variant_key)
    assert stored is not None and again is not None
    assert (again.etag, again.last_modified) == (stored.etag, stored.last_modified)
    assert worker.metrics.count("resized") == 1
    assert worker.metrics.count("cached") == 1


async def test_png_keeps_alpha_and_webp_is_made(worker: RunningWorker, rpc: RpcClient, store: ObjectStore) -> None:
    key = f"{new_file_id()}/logo.png"
    buffer = io.BytesIO()
    photo(640, 480, mode="RGBA").save(buffer, "PNG")
    await store.put_bytes(key, buffer.getvalue(), content_type="image/png")

    png, webp = await asyncio.gather(ask(rpc, key, 100, "png"), ask(rpc, key, 100, "webp"))

    assert png.status == webp.status == "ok"
    original = parse_original_key(key)
    assert png.variant_key == str(variant_key(original, 100, "png"))
    assert webp.variant_key == str(variant_key(original, 100, "webp"))
    assert png.variant_key and webp.variant_key
    for stored, fmt in ((png.variant_key, "PNG"), (webp.variant_key, "WEBP")):
        _, data = await store.get_bytes(stored)
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.mode, image.size) == (fmt, "RGBA", (100, 75))


async def test_refusals_are_answered_and_the_worker_keeps_serving(
    worker: RunningWorker, rpc: RpcClient, store: ObjectStore
) -> None:
    text_key = f"{new_file_id()}/notes.jpg"
    await store.put_bytes(text_key, b"these are not pixels" * 100, content_type="image/jpeg")
    missing_key = f"{new_file_id()}/gone.jpg"

    not_an_image = await ask(rpc, text_key, 300)
    missing = await ask(rpc, missing_key, 300)
    not_ours = await ask(rpc, "some/deep/key.jpg", 300)
    good = await ask(rpc, await put_jpeg(store), 100)

    assert (not_an_image.status, not_an_image.code) == ("error", "NOT_AN_IMAGE")
    assert (missing.status, missing.code) == ("error", "NOT_FOUND")
    assert (not_ours.status, not_ours.code) == ("error", "BAD_REQUEST")
    assert good.status == "ok"
    assert await store.list_keys(variant_prefix(file_id_of(text_key))) == []


async def test_limits_are_refusals(settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore) -> None:
    service = await start_worker(
        settings_for(ResizeSettings, port=free_port(), max_pixels=500 * 500, max_source_bytes=200_000)
    )
    try:
        many_pixels = await put_jpeg(store, 600, 600)
        big_file = f"{new_file_id()}/big.jpg"
        await store.put_bytes(big_file, jpeg_bytes(400, 400, quality=100) + b"\0" * 250_000, content_type="image/jpeg")

        pixels, size = await ask(rpc, many_pixels, 100), await ask(rpc, big_file, 100)

        assert (pixels.status, pixels.code) == ("error", "TOO_MANY_PIXELS")
        assert (size.status, size.code) == ("error", "SOURCE_TOO_LARGE")
    finally:
        await service.stop()


async def test_malformed_request_is_answered_and_dead_lettered(
    worker: RunningWorker, rpc: RpcClient, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    body = await rpc.call(RESIZE_QUEUE, b'{"key": 42, "width": "wide"}', timeout=RPC_TIMEOUT)
    channel = await connection.channel()
    await channel.default_exchange.publish(aio_pika.Message(b"\xff not json"), routing_key=RESIZE_QUEUE)
    await channel.close()

    reply = ResizeReply.from_json(body)
    assert (reply.status, reply.code) == ("error", "BAD_REQUEST")
    dead = await dead_letters(connection)
    while len(dead) < 2:
        more = await dead_letters(connection)
        assert more, f"only {dead} reached {DEAD_QUEUE}"
        dead += more
    assert sorted(dead) == sorted([b'{"key": 42, "width": "wide"}', b"\xff not json"])
    # still alive and serving
    assert (await ask(rpc, await put_jpeg(store), 100)).status == "ok"
    assert worker.metrics.count("malformed") == 2


async def test_slow_resize_is_stopped_at_the_job_timeout_and_answered(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    """The kernel process is killed at JOB_TIMEOUT: the caller is answered, nothing is stored
    later, and the request is not run again (tests/integration/test_hostile_resize.py has more)."""
    service = await start_worker(settings_for(ResizeSettings, port=free_port(), job_timeout=0.001))
    try:
        key = f"{new_file_id()}/large.png"
        buffer = io.BytesIO()
        photo(2400, 1600, mode="RGBA").save(buffer, "PNG", compress_level=1)
        await store.put_bytes(key, buffer.getvalue(), content_type="image/png")

        reply = await ask(rpc, key, 300, "png")

        assert reply.status == "error"
        assert reply.code in {"RESIZE_TIMEOUT", "IMAGE_TOO_COMPLEX"}  # by the CPU it had had
        await asyncio.sleep(1.0)
        assert await store.head(str(variant_key(parse_original_key(key), 300, "png"))) is None
        assert service.metrics.count(reply.code.lower()) == 1
        assert service.metrics.count("retry") == 0
    finally:
        await service.stop()


async def test_an_unreachable_store_is_answered_retryable_at_once_and_nothing_is_dead_lettered(
    settings_for: Callable[..., Any], rpc: RpcClient, connection: AbstractRobustConnection
) -> None:
    """S3 down is no fault of the request: the caller hears STORAGE_UNAVAILABLE (retryable) at once,
    and the request is held, not retried into the dead-letter queue."""
    port = free_port()
    settings = settings_for(
        ResizeSettings,
        port=port,
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        retry_delay_initial=0.05,  # the old retry budget (5 attempts) would be spent in under a second
        retry_delay_max=0.2,
    )
    service = await start_worker(settings)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] == "ok"

        started = asyncio.get_running_loop().time()
        reply = await asyncio.wait_for(ask(rpc, f"{new_file_id()}/photo.jpg", 300), timeout=RPC_TIMEOUT)

        assert (reply.status, reply.code) == ("error", "STORAGE_UNAVAILABLE")
        assert asyncio.get_running_loop().time() - started < 15  # answered, not left to time out
        await no_dead_letters(connection, wait=3.0)
        assert service.metrics.count("retry") == 0
        assert service.metrics.count("dependency_down") >= 1
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            metrics = (await http.get("/metrics")).text
        assert 'queue_waiting_for_dependency{dependency="storage",queue="resize.requests"} 1.0' in metrics
    finally:
        await service.stop()


async def test_a_request_held_through_an_s3_outage_is_resized_once_s3_is_back(
    settings_for: Callable[..., Any],
    infra: Infra,
    rpc: RpcClient,
    store: ObjectStore,
    connection: AbstractRobustConnection,
) -> None:
    """S3 cut (a relay in between) for longer than the old retry budget: the caller is answered
    STORAGE_UNAVAILABLE, the request waits unspent, and once S3 answers it is resized: the variant
    is there for the caller's retry, and nothing was dead-lettered."""
    key = await put_jpeg(store, 600, 400)
    with TcpRelay(urlsplit(infra.s3_endpoint_url).port or 80) as relay:
        settings = settings_for(
            ResizeSettings,
            port=free_port(),
            s3_endpoint_url=f"http://127.0.0.1:{relay.port}",
            retry_delay_initial=0.05,
            retry_delay_max=0.2,
        )
        service = await start_worker(settings)
        try:
            relay.cut()
            body = await rpc.call(RESIZE_QUEUE, ResizeRequest(key, 300, "jpeg").to_json(), timeout=60)
            reply = ResizeReply.from_json(body)
            assert (reply.status, reply.code) == ("error", "STORAGE_UNAVAILABLE")
            await asyncio.sleep(5)  # ten times the old retry budget
            assert service.process.worker.waiting_for == {"storage"}
            relay.restore()

            variant = str(variant_key(parse_original_key(key), 300, "jpg"))
            await eventually(lambda: store.head(variant), 30, what="the held request's variant")
            assert service.process.worker.waiting_for == frozenset()
            # the variant is stored before the job is counted: wait for the count too
            await eventually(lambda: asyncio.sleep(0, service.metrics.count("resized")), 10, until=lambda n: n == 1)
            await no_dead_letters(connection, wait=0.5)
        finally:
            await service.stop()


async def test_a_transient_failure_is_retried_and_the_reply_still_reaches_the_caller(
    settings_for: Callable[..., Any],
    rpc: RpcClient,
    store: ObjectStore,
    connection: AbstractRobustConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry is a copy of the request: its reply_to and correlation_id still lead to the caller."""
    read = ObjectStore.get_bytes
    failures = 0

    async def fails_once(self: ObjectStore, key: str, *, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes]:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise Unavailable("S3 hiccup")
        return await read(self, key, max_bytes=max_bytes)

    monkeypatch.setattr(ObjectStore, "get_bytes", fails_once)
    service = await start_worker(
        settings_for(ResizeSettings, port=free_port(), retry_delay_initial=0.05, retry_delay_max=0.2)
    )
    try:
        key = await put_jpeg(store, 600, 400)

        reply = await ask(rpc, key, 300)

        assert (reply.status, reply.variant_key) == ("ok", f"variants/{key}/w300.jpg"), reply
        assert failures == 1
        assert (service.metrics.count("retry"), service.metrics.count("resized")) == (1, 1)
        await no_dead_letters(connection, wait=0.5)
    finally:
        await service.stop()


async def test_side_port_health_and_metrics(worker: RunningWorker, rpc: RpcClient, store: ObjectStore) -> None:
    assert (await ask(rpc, await put_jpeg(store), 100)).status == "ok"
    port = worker.side_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        health, ready, metrics = await asyncio.gather(http.get("/healthz"), http.get("/readyz"), http.get("/metrics"))

    assert health.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"broker": "ok", "s3": "ok"}
    assert 'resize_jobs_total{outcome="resized"} 1.0' in metrics.text
    assert "resize_job_duration_seconds_bucket" in metrics.text
    for stage in ("read", "kernel", "write"):  # where the time went (the bench's breakdown)
        assert f'resize_stage_seconds_count{{stage="{stage}"}} 1.0' in metrics.text
