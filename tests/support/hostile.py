"""What the hostile-input tests run beside the gateway: the real bridge (SeaweedFS's metadata log
onto ``files.events``), the cleanup worker, and direct looks at S3 and the catalog's database to
count what an attack left behind."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from services.bridge.app import build as build_bridge
from services.bridge.settings import BridgeSettings
from services.cleanup.app import build as build_cleanup
from services.cleanup.settings import CleanupSettings
from shared.s3 import make_client
from shared.settings import CommonSettings
from shared.worker import WorkerProcess
from tests.support.servers import InProcessServer


def png(color: str = "blue", size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


async def wait_ready(server: InProcessServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        for _ in range(300):
            if (await client.get("/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{server.url} never became ready")


@asynccontextmanager
async def serve_bridge(settings: BridgeSettings) -> AsyncIterator[InProcessServer]:
    """The bridge in-process on a free port (not its settings' own), once it is ready."""
    server = InProcessServer(build_bridge(settings))
    await server.start()
    try:
        await wait_ready(server)
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bridge(settings_for: Callable[..., Any], infra: Any, tmp_path: Path) -> AsyncIterator[InProcessServer]:
    """The real bridge: every change in the bucket becomes an event, as in production."""
    settings: BridgeSettings = settings_for(
        BridgeSettings,
        host="127.0.0.1",
        seaweedfs_filer=infra.filer_address,
        weed_binary=infra.weed_binary,
        bridge_checkpoint_path=str(tmp_path / "bridge-checkpoint"),
    )
    async with serve_bridge(settings) as server:
        yield server


@pytest.fixture
async def cleanup(settings_for: Callable[..., Any]) -> AsyncIterator[WorkerProcess]:
    """The cleanup worker: deletes a removed original's variants."""
    worker = build_cleanup(settings_for(CleanupSettings, port=0, sweep_interval=0))  # side port: any free one
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


@pytest.fixture
def s3_admin(settings_for: Callable[..., Any]) -> Any:
    """boto3 with the bucket's own credentials: what no client of the service holds."""
    return make_client(settings_for(CommonSettings))


async def count_rows(database_url: str, sql: str, *args: Any) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval(sql, *args))
    finally:
        await connection.close()
