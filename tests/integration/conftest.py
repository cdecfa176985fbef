"""Fixtures of the resize worker's tests (test_resize_worker.py, test_hostile_resize.py)."""

from __future__ import annotations

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.broker import RpcClient


@pytest.fixture
async def rpc(connection: AbstractRobustConnection) -> RpcClient:
    return await RpcClient.create(connection)
