"""``python -m services.resize`` as a real process: starts, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import httpx
import pytest

from devstack.photos import photo
from devstack.ports import free_port
from shared.broker import RESIZE_QUEUE, RpcClient
from shared.keys import new_file_id
from shared.messages import ResizeReply, ResizeRequest
from shared.s3 import ObjectStore
from tests.support.waiting import eventually

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 6


@pytest.fixture
def side_port() -> int:
    return free_port()


@pytest.fixture
def process(service_env: dict[str, str], side_port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        **service_env,
        "PORT": str(side_port),
        "WORKER_THREADS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.resize"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

        async def readyz() -> int | str:
            assert proc.poll() is None, "the worker exited during start"
            try:
                return (await http.get("/readyz")).status_code
            except httpx.TransportError as exc:
                return repr(exc)

        await eventually(
            readyz, timeout, until=lambda answer: answer == 200, interval=0.2, what="the worker to be ready"
        )


async def wait_busy(port: int, timeout: float = 20.0) -> None:
    """Until the worker is in the middle of a request (so SIGTERM finds work in hand)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

        async def metrics() -> str:
            return (await http.get("/metrics")).text

        await eventually(
            metrics,
            timeout,
            until=lambda text: "resize_jobs_in_progress 1.0" in text,
            interval=0.01,
            what="the worker to take the next request",
        )


async def test_serves_then_drains_and_exits_on_sigterm(
    process: subprocess.Popen[bytes], side_port: int, store: ObjectStore, amqp_url: str
) -> None:
    await wait_ready(side_port, process)
    key = f"{new_file_id()}/big.png"
    buffer = io.BytesIO()
    photo(4000, 3000, mode="RGBA").save(buffer, "PNG", compress_level=1)
    await store.put_bytes(key, buffer.getvalue(), content_type="image/png")

    connection = await aio_pika.connect_robust(amqp_url)
    try:
        rpc = await RpcClient.create(connection)
        widths = [100 + 7 * i for i in range(REQUESTS)]  # distinct variants: each one is real work
        calls = [
            asyncio.create_task(rpc.call(RESIZE_QUEUE, ResizeRequest(key, w, "png").to_json(), timeout=60))
            for w in widths
        ]
        done, _ = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED, timeout=60)
        assert done, "no reply before the stop"
        await wait_busy(side_port)

        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(process.wait, 40)
        await asyncio.sleep(0.5)  # replies published during the drain are on their way
        for call in calls:
            if not call.done():
                call.cancel()
        answered = [ResizeReply.from_json(c.result()) for c in calls if c.done() and not c.cancelled()]

        assert process.stderr is not None
        logs = process.stderr.read().decode()
        assert returncode == 0, logs[-3000:]
        assert '"stopped"' in logs
        # The request in hand at SIGTERM was finished and answered, not dropped.
        assert len(answered) >= len(done) + 1
        assert all(reply.status == "ok" for reply in answered)
        # Nothing in hand was lost: what was not answered is back in the queue for the next worker.
        channel = await connection.channel()
        queue = await channel.declare_queue(RESIZE_QUEUE, passive=True)
        assert queue.declaration_result.message_count == REQUESTS - len(answered)
    finally:
        await connection.close()
