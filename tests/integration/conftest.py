"""Fixtures of the resize worker's tests (test_resize_worker.py, test_hostile_resize.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.broker import RpcClient


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    conn = await aio_pika.connect_robust(amqp_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def rpc(connection: AbstractRobustConnection) -> RpcClient:
    return await RpcClient.create(connection)
