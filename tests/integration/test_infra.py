"""The backend the fixture layer chose is real: what the services are given answers."""

from __future__ import annotations

import asyncio
import subprocess

import aio_pika

from devstack.infra import Infra
from devstack.ports import port_open
from devstack.seaweed import s3_client
from shared.s3 import ObjectStore


async def _broker_answers(url: str) -> None:
    connection = await aio_pika.connect(url, timeout=10)
    await connection.close()


def test_the_chosen_backend_answers(infra: Infra) -> None:
    """Whichever backend was chosen (``infra.reason`` says why), the broker, S3, the filer and the
    weed program the services are given all answer, with the credentials they are given."""
    assert infra.backend in ("local", "testcontainers") and infra.reason
    asyncio.run(_broker_answers(infra.amqp_url("/")))
    listed = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key).list_buckets()
    assert isinstance(listed["Buckets"], list)
    host, ports = infra.filer_address.rsplit(":", 1)
    http_port, grpc_port = (int(p) for p in ports.split("."))
    assert port_open(http_port, host) and port_open(grpc_port, host), infra.filer_address
    version = subprocess.run([infra.weed_binary, "version"], capture_output=True, text=True, timeout=30, check=False)
    assert version.returncode == 0 and "version" in version.stdout.lower(), version.stdout + version.stderr


async def test_vhost_is_real_and_empty(amqp_url: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("probe", durable=False, auto_delete=True)
        await channel.default_exchange.publish(aio_pika.Message(b"x"), routing_key="probe")
        message = await queue.get(timeout=5)
        assert message is not None and message.body == b"x"
    finally:
        await connection.close()


async def test_bucket_is_real(store: ObjectStore) -> None:
    await store.put_bytes("a/b.txt", b"hello", content_type="text/plain")
    info = await store.head("a/b.txt")
    assert info is not None and info.size == 5 and info.content_type == "text/plain"
