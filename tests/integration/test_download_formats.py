"""Formats through the real download service and a real resize worker (real RabbitMQ, real SeaweedFS):
``?format=``, ``Accept`` negotiation and ``Vary``, AVIF in and out, GIF and SVG never rasterised.

Pictures are compared by size, mode, format and a similarity measure, never by bytes.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from devstack.photos import photo
from devstack.ports import free_port
from services.download.app import build
from services.download.settings import DownloadSettings
from services.resize.app import build as build_resize
from services.resize.settings import ResizeSettings
from shared.keys import file_id_of, new_file_id, parse_original_key, variant_key, variant_prefix
from shared.s3 import ObjectStore
from tests.support.servers import InProcessServer

AVIF_AND_MORE = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"  # what Chrome sends for <img>
WEBP_ONLY = "image/webp,*/*"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)

Start = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def start(
    settings_for: Callable[..., Any], serve_app: Callable[..., Awaitable[InProcessServer]]
) -> AsyncIterator[Start]:
    """The download service (settings overridable) and one real resize worker on the same vhost."""
    worker = build_resize(settings_for(ResizeSettings, port=free_port(), worker_threads=2))
    await worker.start()
    clients: list[httpx.AsyncClient] = []

    async def start_download(**overrides: Any) -> httpx.AsyncClient:
        port = free_port()
        settings = settings_for(DownloadSettings, host="127.0.0.1", port=port, resize_timeout=30, **overrides)
        server = await serve_app(build(settings), port)
        client = httpx.AsyncClient(base_url=server.url, timeout=60)
        clients.append(client)
        return client

    try:
        yield start_download
    finally:
        for client in clients:
            await client.aclose()
        await worker.stop()


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


async def put(store: ObjectStore, name: str, data: bytes, content_type: str) -> str:
    key = f"{new_file_id()}/{name}"
    await store.put_bytes(key, data, content_type=content_type)
    return key


def opened(resp: httpx.Response) -> Image.Image:
    image = Image.open(io.BytesIO(resp.content))
    image.load()
    return image


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


SOURCE = photo(1200, 900, seed=21)
REFERENCE_300 = SOURCE.resize((300, 225), Image.Resampling.LANCZOS)


@pytest.mark.parametrize(
    ("fmt", "pillow_format", "content_type"),
    [("webp", "WEBP", "image/webp"), ("avif", "AVIF", "image/avif"), ("png", "PNG", "image/png")],
)
async def test_format_parameter_converts_and_is_its_own_variant(
    start: Start, store: ObjectStore, fmt: str, pillow_format: str, content_type: str
) -> None:
    key = await put(store, "photo.jpg", encoded(SOURCE, "JPEG", quality=92), "image/jpeg")
    client = await start()

    resp = await client.get(f"/files/{key}", params={"width": 282, "format": fmt})

    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == content_type
    assert "vary" not in resp.headers  # the URL names the format: nothing to vary on
    image = opened(resp)
    assert (image.format, image.size) == (pillow_format, (300, 225))
    assert mean_difference(image, REFERENCE_300) < 6.0
    # Stored beside the JPEG variant, not instead of it: the format is part of the variant key.
    ext = {"webp": "webp", "avif": "avif", "png": "png"}[fmt]
    assert await store.head(str(variant_key(parse_original_key(key), 300, ext))) is not None
    plain = await client.get(f"/files/{key}", params={"width": 300})
    assert plain.headers["content-type"] == "image/jpeg" and opened(plain).format == "JPEG"


async def test_unknown_format_is_400(start: Start, store: ObjectStore) -> None:
    key = await put(store, "photo.jpg", encoded(SOURCE, "JPEG"), "image/jpeg")
    client = await start()
    for bad in ("gif", "tiff", "", "svg"):
        resp = await client.get(f"/files/{key}", params={"width": 300, "format": bad})
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["code"] == "INVALID_FORMAT"
        assert resp.headers["cache-control"] == "no-store"


async def test_format_without_width_converts_at_full_size(start: Start, store: ObjectStore) -> None:
    key = await put(store, "photo.jpg", encoded(SOURCE, "JPEG", quality=92), "image/jpeg")
    client = await start()
    resp = await client.get(f"/files/{key}", params={"format": "webp"})
    assert resp.status_code == 200, resp.text
    image = opened(resp)
    assert (image.format, image.size) == ("WEBP", (1200, 900))  # never upscaled to the largest width
    assert mean_difference(image, SOURCE) < 4.0


async def test_accept_negotiation_when_enabled(start: Start, store: ObjectStore) -> None:
    key = await put(store, "photo.jpg", encoded(SOURCE, "JPEG", quality=92), "image/jpeg")
    client = await start(negotiate_formats=True)

    avif = await client.get(f"/files/{key}", params={"width": 300}, headers={"accept": AVIF_AND_MORE})
    webp = await client.get(f"/files/{key}", params={"width": 300}, headers={"accept": WEBP_ONLY})
    other = await client.get(f"/files/{key}", params={"width": 300}, headers={"accept": "image/*"})

    assert [r.headers["content-type"] for r in (avif, webp, other)] == ["image/avif", "image/webp", "image/jpeg"]
    assert [opened(r).format for r in (avif, webp, other)] == ["AVIF", "WEBP", "JPEG"]
    for resp in (avif, webp, other):
        assert resp.headers["vary"] == "Accept"
        assert mean_difference(opened(resp), REFERENCE_300) < 6.0
    # A revalidation carries Vary too; the original itself (no width) does not vary.
    again = await client.get(
        f"/files/{key}", params={"width": 300}, headers={"accept": AVIF_AND_MORE, "if-none-match": avif.headers["etag"]}
    )
    assert again.status_code == 304 and again.headers["vary"] == "Accept"
    original = await client.get(f"/files/{key}", headers={"accept": AVIF_AND_MORE})
    assert original.headers["content-type"] == "image/jpeg" and "vary" not in original.headers


async def test_accept_is_ignored_by_default(start: Start, store: ObjectStore) -> None:
    key = await put(store, "photo.jpg", encoded(SOURCE, "JPEG"), "image/jpeg")
    client = await start()
    resp = await client.get(f"/files/{key}", params={"width": 300}, headers={"accept": AVIF_AND_MORE})
    assert resp.headers["content-type"] == "image/jpeg" and "vary" not in resp.headers


async def test_avif_original_is_resized_to_avif_keeping_alpha(start: Start, store: ObjectStore) -> None:
    source = photo(800, 600, seed=3, mode="RGBA")
    key = await put(store, "cut-out.avif", encoded(source, "AVIF", quality=90), "image/avif")
    client = await start()
    resp = await client.get(f"/files/{key}", params={"width": 300})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/avif"
    image = opened(resp)
    assert (image.format, image.mode, image.size) == ("AVIF", "RGBA", (300, 225))
    expected = source.resize((300, 225), Image.Resampling.LANCZOS)
    low, high = image.getchannel("A").getextrema()
    assert isinstance(low, int) and isinstance(high, int)
    assert low < 40 and high > 215  # the alpha gradient survived
    assert mean_difference(image, expected) < 6.0


@pytest.mark.parametrize(
    ("name", "data", "content_type"), [("anim.gif", GIF, "image/gif"), ("logo.svg", SVG, "image/svg+xml")]
)
async def test_gif_and_svg_are_passed_through_unchanged(
    start: Start, store: ObjectStore, name: str, data: bytes, content_type: str
) -> None:
    key = await put(store, name, data, content_type)
    client = await start(negotiate_formats=True)
    queries: list[dict[str, str]] = [{"width": "100"}, {"width": "100", "format": "png"}, {"format": "webp"}]
    for params in queries:
        resp = await client.get(f"/files/{key}", params=params, headers={"accept": AVIF_AND_MORE})
        assert resp.status_code == 200, (params, resp.text)
        assert resp.content == data  # the very bytes: never rasterised
        assert resp.headers["content-type"] == content_type
    assert await store.list_keys(variant_prefix(file_id_of(key))) == []
