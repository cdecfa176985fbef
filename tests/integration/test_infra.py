"""Which backend the fixture layer chose, and that it is real."""

from __future__ import annotations

import aio_pika
import pytest

from devstack.containers import docker_unavailable_reason
from devstack.infra import Infra
from shared.s3 import ObjectStore


def test_docker_path_or_clear_reason(infra: Infra) -> None:
    reason = docker_unavailable_reason()
    if reason is not None:
        assert infra.backend == "local"
        pytest.skip(f"testcontainers path not taken: {reason}")
    assert infra.backend == "testcontainers"


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
