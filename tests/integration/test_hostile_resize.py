"""Resize work that cannot be stopped, against the real stack: pictures made to cost a decoder
minutes or gigabytes, requests nobody waits for any more, and a full queue.

The CPU bombs are real JPEGs (``devstack.bombs``): 49 MP, grey, progressive, one
all-zero AC scan repeated; each scan costs the decoder a walk over 765,000 blocks (about 8 ms
here), so 1,500 of them take some 12 s of CPU. The scan limit is raised for those tests, so
that the kernel does decode them and the job limit is what stops them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from devstack.bombs import many_scans_jpeg
from devstack.photos import photo
from devstack.ports import free_port
from services.download.app import build as build_download
from services.download.settings import DownloadSettings
from services.resize.settings import ResizeSettings
from shared.broker import RESIZE_QUEUE, RpcClient, declare_work_queue
from shared.keys import new_file_id
from shared.messages import SENT_AT_HEADER, ResizeReply, ResizeRequest
from shared.s3 import ObjectStore
from tests.integration.test_resize_worker import RunningWorker, ask, put_jpeg, start_worker
from tests.support.servers import InProcessServer

STOPPED = {"IMAGE_TOO_COMPLEX", "RESIZE_TIMEOUT"}  # which one depends on the CPU the bomb had
BOMB_SCANS = 5000  # about 17 s of decoding on an idle core: over twice the longest job limit below


async def put_bomb(store: ObjectStore, scans: int = BOMB_SCANS) -> str:
    key = f"{new_file_id()}/bomb.jpg"
    await store.put_bytes(key, many_scans_jpeg(7000, 7000, scans), content_type="image/jpeg")
    return key


async def timed(call: Awaitable[ResizeReply]) -> tuple[ResizeReply, float]:
    started = time.monotonic()
    reply = await call
    return reply, time.monotonic() - started


async def worker_with(settings_for: Callable[..., Any], **overrides: Any) -> RunningWorker:
    return await start_worker(settings_for(ResizeSettings, port=free_port(), **overrides))


async def test_a_jpeg_of_absurdly_many_scans_is_refused_before_decoding(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    worker = await worker_with(settings_for, worker_processes=1)
    try:
        key = await put_bomb(store, scans=5000)  # 49 MP, 500 KB: about 40 s to decode

        reply, seconds = await timed(ask(rpc, key, 500))

        assert (reply.status, reply.code) == ("error", "TOO_MANY_SCANS")
        assert seconds < 3.0
        assert worker.metrics.count("too_many_scans") == 1
    finally:
        await worker.stop()


async def test_a_cpu_bomb_is_stopped_at_the_job_timeout_and_the_worker_goes_on(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    worker = await worker_with(settings_for, worker_processes=1, job_timeout=2.0, max_jpeg_scans=10_000)
    try:
        bomb = await put_bomb(store)

        reply, seconds = await timed(ask(rpc, bomb, 500))

        assert reply.status == "error" and reply.code in STOPPED
        assert 2.0 <= seconds < 2.0 + 2.5, seconds  # the job limit, plus S3 and the answer
        ordinary, ordinary_seconds = await timed(ask(rpc, await put_jpeg(store), 300))
        assert ordinary.status == "ok"
        assert ordinary_seconds < 5.0
        assert worker.metrics.count("resized") == 1
    finally:
        await worker.stop()


async def test_an_ordinary_resize_is_prompt_while_two_bombs_run(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    """Two regular processes both hold bombs; the spare one takes the photo once they are slow.
    A second request for one of the bombs is answered RESIZE_BUSY at once instead of waiting."""
    worker = await worker_with(
        settings_for,
        worker_processes=2,
        spare_processes=1,
        slow_job_seconds=0.5,
        job_timeout=8.0,
        max_jpeg_scans=10_000,
    )
    try:
        first, second = await put_bomb(store), await put_bomb(store)
        photo_key = await put_jpeg(store)
        bombs = [asyncio.create_task(timed(ask(rpc, key, 500))) for key in (first, second)]
        await asyncio.sleep(1.0)  # both bombs are in their processes, and slow

        (ordinary, ordinary_seconds), (sibling, sibling_seconds) = await asyncio.gather(
            timed(ask(rpc, photo_key, 300)), timed(ask(rpc, first, 300))
        )

        assert ordinary.status == "ok"
        assert ordinary_seconds < 3.0, ordinary_seconds
        assert (sibling.status, sibling.code) == ("error", "RESIZE_BUSY")
        assert sibling_seconds < 2.0, sibling_seconds
        assert not any(bomb.done() for bomb in bombs)  # it did not wait for them
        for reply, seconds in await asyncio.gather(*bombs):
            assert reply.code in STOPPED and seconds < 8.0 + 3.0
    finally:
        await worker.stop()


async def test_requests_whose_caller_gave_up_are_not_processed(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore, connection: AbstractRobustConnection
) -> None:
    channel = await connection.channel()
    await declare_work_queue(channel, RESIZE_QUEUE, max_length=1000, dead_max_length=10_000)

    async def send(key: str, *, expiration: float, sent_ago: float) -> None:
        await channel.default_exchange.publish(
            aio_pika.Message(
                ResizeRequest(key, 300, "jpeg").to_json(),
                expiration=expiration,
                reply_to="nobody",
                headers={SENT_AT_HEADER: int((time.time() - sent_ago) * 1e6)},
            ),
            routing_key=RESIZE_QUEUE,
        )

    dropped_by_broker, skipped_by_worker = await put_jpeg(store), await put_jpeg(store)
    await send(dropped_by_broker, expiration=0.2, sent_ago=0)  # no worker yet: it expires in the queue
    await asyncio.sleep(1.0)
    worker = await worker_with(settings_for, worker_processes=1)
    try:
        await send(skipped_by_worker, expiration=5, sent_ago=60)  # its caller gave up long ago
        served = await ask(rpc, await put_jpeg(store), 300)

        assert served.status == "ok"
        assert worker.metrics.count("expired") == 1
        assert worker.metrics.count("resized") == 1
        for key in (dropped_by_broker, skipped_by_worker):
            assert await store.head(f"variants/{key}/w300.jpg") is None
    finally:
        await worker.stop()
        await channel.close()


async def test_a_full_queue_answers_503_with_retry_after_through_the_download_service(
    settings_for: Callable[..., Any],
    serve_app: Callable[..., Awaitable[InProcessServer]],
    store: ObjectStore,
) -> None:
    """No worker runs and the queue holds one request: the download service answers the rest
    RESIZE_BUSY at once (the broker nacks them) instead of waiting for RESIZE_TIMEOUT."""
    port = free_port()
    settings = settings_for(
        DownloadSettings, host="127.0.0.1", port=port, resize_queue_max_length=1, resize_timeout=5.0
    )
    server = await serve_app(build_download(settings), port)
    keys = [await put_jpeg(store) for _ in range(5)]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        calls = []
        for key in keys:  # one after the other: a quorum queue applies its bound a moment late
            calls.append(asyncio.create_task(timed_get(http, f"/files/{key}?width=300")))
            await asyncio.sleep(0.3)
        answers = await asyncio.gather(*calls)

    codes = [answer.json()["error"]["code"] for answer, _ in answers]
    assert all(answer.status_code == 503 for answer, _ in answers)
    assert "RESIZE_BUSY" in codes, codes
    assert 1 <= codes.count("RESIZE_TIMEOUT") <= 2, codes  # the bound is soft by one in quorum queues
    for answer, seconds in answers:
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["cache-control"] == "no-store"
        if answer.json()["error"]["code"] == "RESIZE_BUSY":
            assert seconds < 2.0  # at once, not after RESIZE_TIMEOUT


async def timed_get(http: httpx.AsyncClient, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await http.get(url)
    return response, time.monotonic() - started


async def test_a_memory_bomb_fails_with_a_stable_error_and_the_worker_lives(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    """4,000 x 4,000 flat RGBA: a 60 KB file that needs 61 MiB of pixels, against a 48 MiB cap."""
    worker = await worker_with(settings_for, worker_processes=1, job_memory_limit=48 * 2**20)
    try:
        key = f"{new_file_id()}/flat.png"
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{new_file_id()}.png"
        try:
            photo(500, 500, mode="RGBA").resize((4000, 4000)).quantize(4).convert("RGBA").save(path, "PNG")
            await store.put_bytes(key, path.read_bytes(), content_type="image/png")
        finally:
            path.unlink(missing_ok=True)

        refused = await ask(rpc, key, 300, "png")
        ordinary = await ask(rpc, await put_jpeg(store), 300)

        assert (refused.status, refused.code) == ("error", "TOO_MANY_PIXELS")
        assert "memory" in (refused.message or "")
        assert ordinary.status == "ok"
        assert worker.metrics.registry.get_sample_value("resize_kernel_crashes_total") == 0
    finally:
        await worker.stop()


def kernel_processes() -> list[int]:
    """This test process's kernel processes (the worker runs in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent) == os.getpid() and b"services.resize.child" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="finds the kernel processes in /proc")
async def test_a_crashed_kernel_process_does_not_lose_the_request(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore
) -> None:
    worker = await worker_with(
        settings_for,
        worker_processes=1,
        spare_processes=0,
        job_timeout=3.0,
        max_jpeg_scans=10_000,
        retry_delay_initial=0.05,
        retry_delay_max=0.1,
    )
    try:
        call = asyncio.create_task(ask(rpc, await put_bomb(store), 500))
        await asyncio.sleep(1.0)  # in its process by now
        [pid] = kernel_processes()
        os.kill(pid, signal.SIGKILL)

        reply = await call  # the request was requeued and run again (and stopped at the deadline)

        assert reply.status == "error" and reply.code in STOPPED
        assert worker.metrics.registry.get_sample_value("resize_kernel_crashes_total") == 1
        assert worker.metrics.count("retry") == 1
        assert (await ask(rpc, await put_jpeg(store), 300)).status == "ok"
    finally:
        await worker.stop()


async def test_a_queue_declared_without_the_bound_is_still_served(
    settings_for: Callable[..., Any], rpc: RpcClient, store: ObjectStore, connection: AbstractRobustConnection
) -> None:
    """An older release declared resize.requests without a bound: the worker consumes it as it is."""
    channel = await connection.channel()
    await declare_work_queue(channel, RESIZE_QUEUE)
    await channel.close()
    worker = await worker_with(settings_for, worker_processes=1)
    try:
        assert (await ask(rpc, await put_jpeg(store), 300)).status == "ok"
    finally:
        await worker.stop()
