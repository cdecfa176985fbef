"""Streaming with constant memory: the download process (a separate ``python -m services.download``)
serves an object far bigger than its own memory growth, with the redirect threshold raised."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.ports import free_port
from devstack.services import ServiceProcess, started
from shared.keys import new_file_id
from shared.s3 import ObjectStore

OBJECT_SIZE = 128 * 1024 * 1024
ALLOWED_GROWTH = 32 * 1024 * 1024  # a quarter of the object (measured: under 1 MiB); it is never held whole


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


@pytest.fixture
def download_process(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {**service_env, "REDIRECT_THRESHOLD": str(OBJECT_SIZE * 2), "LOG_LEVEL": "warning"}
    process = ServiceProcess("download", free_port(), env, log_path=tmp_path / "download.log")
    with started([process], timeout=60):
        yield process


def _pattern(size: int) -> bytes:
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, not compressible to nothing
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's memory from /proc")
async def test_a_big_object_streams_in_constant_memory(
    download_process: ServiceProcess, store: ObjectStore, tmp_path: Path
) -> None:
    data = _pattern(OBJECT_SIZE)
    expected = hashlib.sha256(data).hexdigest()
    key = f"{new_file_id()}/big.bin"
    await store.put_bytes(key, data, content_type="application/octet-stream")
    del data
    assert download_process.proc is not None
    pid = download_process.proc.pid
    url = f"{download_process.base_url}/files/{key}"
    async with httpx.AsyncClient(timeout=120) as client:
        await client.get(url, headers={"range": "bytes=0-1023"})  # warm up
        before = _kib(pid, "VmRSS")
        digest = hashlib.sha256()
        received = 0
        started = time.monotonic()
        async with client.stream("GET", url) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-length"] == str(OBJECT_SIZE)
            async for chunk in resp.aiter_bytes(256 * 1024):
                digest.update(chunk)
                received += len(chunk)
                if received < 16 * 1024 * 1024:
                    await asyncio.sleep(0.001)  # a slow reader at first: back-pressure must hold, not buffer
        peak = _kib(pid, "VmHWM")
    assert received == OBJECT_SIZE and digest.hexdigest() == expected
    growth = peak - before
    assert growth < ALLOWED_GROWTH, f"RSS grew by {growth / 2**20:.0f} MiB for a {OBJECT_SIZE / 2**20:.0f} MiB object"
    assert time.monotonic() - started < 60
    assert os.getpid() != pid
