"""The cold path end to end in one process: the download app and a real resize worker, against a
real SeaweedFS bucket and RabbitMQ vhost. A first request for a new width costs S3 three requests
(counted by SeaweedFS itself): the download service's HEAD of the variant, the worker's GET of
the original and its PUT of the variant; the variant comes back in the resize reply."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from devstack.infra import Infra
from devstack.photos import jpeg_bytes, png_bytes
from devstack.ports import free_port
from devstack.s3_requests import s3_requests, spent
from services.download.app import build as build_download
from services.download.settings import DownloadSettings
from services.resize.app import build as build_resize
from services.resize.settings import ResizeSettings
from shared.keys import new_file_id
from shared.s3 import ObjectStore
from tests.support.servers import InProcessServer

Start = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def metrics_url(infra: Infra) -> str:
    if infra.s3_metrics_url is None:
        pytest.skip("this S3 does not publish its request counts")
    return infra.s3_metrics_url


@pytest.fixture
async def stack(
    settings_for: Callable[..., Any], serve_app: Callable[..., Awaitable[InProcessServer]]
) -> AsyncIterator[Start]:
    worker = build_resize(settings_for(ResizeSettings, port=free_port(), worker_threads=1))
    await worker.start()
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> httpx.AsyncClient:
        port = free_port()
        settings = settings_for(DownloadSettings, host="127.0.0.1", port=port, **overrides)
        server = await serve_app(build_download(settings), port)
        client = httpx.AsyncClient(base_url=server.url, timeout=60)
        clients.append(client)
        return client

    try:
        yield start
    finally:
        for client in clients:
            await client.aclose()
        await worker.stop()


async def test_a_cold_request_costs_s3_three_requests_and_a_warm_one_none(
    stack: Start, store: ObjectStore, metrics_url: str, bucket: str
) -> None:
    client = await stack()
    key = f"{new_file_id()}/photo.jpg"
    await store.put_bytes(key, jpeg_bytes(1200, 800), content_type="image/jpeg")
    before = s3_requests(metrics_url, bucket)

    cold = await client.get(f"/files/{key}", params={"width": "282"})

    assert cold.status_code == 200, cold.text
    assert cold.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(cold.content)).size == (300, 200)
    after = s3_requests(metrics_url, bucket)
    # HEAD of the variant (a miss) and GET of the original (SeaweedFS counts both as GET), PUT of the variant
    assert spent(before, after) == {"GET": 2, "PUT": 1}
    stored = await store.head(f"variants/{key}/w300.jpg")
    assert stored is not None and cold.headers["etag"] == f'"{stored.etag}"'
    assert int(cold.headers["content-length"]) == stored.size

    before_warm = s3_requests(metrics_url, bucket)
    warm = await client.get(f"/files/{key}", params={"width": "300"})
    assert (warm.status_code, warm.content, warm.headers["etag"]) == (200, cold.content, cold.headers["etag"])
    assert spent(before_warm, s3_requests(metrics_url, bucket)) == {}


async def test_a_variant_too_big_for_the_reply_is_read_from_s3(
    stack: Start, store: ObjectStore, metrics_url: str, bucket: str
) -> None:
    client = await stack(cache_item_bytes=1024)
    key = f"{new_file_id()}/photo.jpg"
    await store.put_bytes(key, jpeg_bytes(1200, 800), content_type="image/jpeg")
    before = s3_requests(metrics_url, bucket)

    cold = await client.get(f"/files/{key}", params={"width": "500"})

    assert cold.status_code == 200, cold.text
    assert Image.open(io.BytesIO(cold.content)).size == (500, 333)
    stored = await store.head(f"variants/{key}/w500.jpg")
    assert stored is not None and stored.size > 1024 and len(cold.content) == stored.size
    used = spent(before, s3_requests(metrics_url, bucket))
    assert used["PUT"] == 1 and used["GET"] >= 3  # the variant read back (HEAD, then streamed)


async def test_the_worker_finds_what_the_name_does_not_tell(stack: Start, store: ObjectStore) -> None:
    client = await stack()
    png = f"{new_file_id()}/named-as.jpg"  # a PNG under a JPEG name: its variant is a PNG
    await store.put_bytes(png, png_bytes(400, 300), content_type="image/png")
    gif_data = b"GIF89a" + bytes(200)
    gif = f"{new_file_id()}/anim.jpg"  # a GIF under a JPEG name: served as it is
    await store.put_bytes(gif, gif_data, content_type="image/gif")

    made = await client.get(f"/files/{png}", params={"width": "100"})
    as_is = await client.get(f"/files/{gif}", params={"width": "100"})
    missing = await client.get(f"/files/{new_file_id()}/gone.jpg", params={"width": "100"})

    assert made.status_code == 200 and made.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(made.content)).size == (100, 75)
    assert await store.head(f"variants/{png}/w100.png") is not None
    assert await store.head(f"variants/{png}/w100.jpg") is None
    assert (as_is.status_code, as_is.headers["content-type"], as_is.content) == (200, "image/gif", gif_data)
    assert await store.list_keys(f"variants/{gif.split('/')[0]}/") == []
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
