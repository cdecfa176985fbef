"""The download service over real HTTP, against a real SeaweedFS bucket and a real RabbitMQ vhost.

Each test runs the app under uvicorn on a free loopback port. Where a resize is needed, a tiny
fake responder on the test vhost's ``resize.requests`` queue plays the worker: it checks the
download side's protocol only (the real worker is tested end to end elsewhere).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage

from devstack.ports import free_port
from services.download.app import build
from services.download.content_safety import SVG_POLICY
from services.download.settings import DownloadSettings
from shared.broker import RESIZE_QUEUE, Consumer, Outcome, declare_resize_queue, reply
from shared.keys import new_file_id, parse_original_key, variant_key
from shared.messages import EXTENSIONS, FORMATS, ResizeReply, ResizeRequest
from shared.s3 import ObjectStore
from shared.settings import ResizeQueueMixin
from tests.support.servers import InProcessServer

IMMUTABLE = "public, max-age=31536000, immutable"
Start = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def start_download(
    settings_for: Callable[..., Any], serve_app: Callable[..., Awaitable[InProcessServer]]
) -> AsyncIterator[Start]:
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> httpx.AsyncClient:
        port = free_port()
        settings: DownloadSettings = settings_for(DownloadSettings, host="127.0.0.1", port=port, **overrides)
        server = await serve_app(build(settings), port)
        client = httpx.AsyncClient(base_url=server.url, timeout=30)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()


def _original(name: str) -> str:
    return f"{new_file_id()}/{name}"


def _variant(key: str, width: int, ext: str) -> str:
    return str(variant_key(parse_original_key(key), width, ext))


async def _metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    text = (await client.get("/metrics")).text
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- originals ------------------------------------------------------------------------------


async def test_streams_exact_bytes_with_caching_headers(start_download: Start, store: ObjectStore) -> None:
    data = bytes(range(256)) * 1200  # 300 KiB: several S3 chunks
    key = _original("photo.png")
    await store.put_bytes(key, data, content_type="image/png")
    info = await store.head(key)
    assert info is not None
    client = await start_download()

    resp = await client.get(f"/files/{key}", headers={"x-correlation-id": "test-corr-1"})

    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["content-length"] == str(len(data))
    assert resp.headers["etag"] == f'"{info.etag}"'
    assert resp.headers["last-modified"].endswith(" GMT")
    assert resp.headers["cache-control"] == IMMUTABLE
    assert resp.headers["accept-ranges"] == "bytes"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-correlation-id"] == "test-corr-1"
    assert "content-disposition" not in resp.headers


async def test_url_encoded_key_is_decoded(start_download: Start, store: ObjectStore) -> None:
    key = _original("my photo ä.txt")
    await store.put_bytes(key, b"hello", content_type="text/plain")
    client = await start_download()
    resp = await client.get("/files/" + key.replace(" ", "%20").replace("ä", "%C3%A4"))
    assert resp.status_code == 200
    assert resp.content == b"hello"
    assert resp.headers["x-correlation-id"]  # made up when the client sent none


async def test_missing_key_is_404_no_store(start_download: Start) -> None:
    client = await start_download()
    resp = await client.get(f"/files/{_original('nope.jpg')}")
    assert resp.status_code == 404
    assert resp.headers["cache-control"] == "no-store"
    assert resp.json()["error"]["code"] == "NOT_FOUND"
    assert resp.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/files/", "/files/abc/%2E%2E/secret", "/files/a//b"])
async def test_empty_and_traversal_keys_are_404(start_download: Start, store: ObjectStore, path: str) -> None:
    await store.put_bytes("secret", b"x", content_type="text/plain")
    client = await start_download()
    resp = await client.get(path)
    assert resp.status_code == 404
    assert resp.headers["cache-control"] == "no-store"


async def test_head_has_the_headers_and_no_body(start_download: Start, store: ObjectStore) -> None:
    key = _original("doc.pdf")
    await store.put_bytes(key, b"%PDF-1.4 fake" * 100, content_type="application/pdf")
    client = await start_download()
    get = await client.get(f"/files/{key}")
    head = await client.head(f"/files/{key}")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control", "accept-ranges"):
        assert head.headers[name] == get.headers[name], name
    assert head.headers["content-length"] == "1300"
    missing = await client.head(f"/files/{_original('gone.pdf')}")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"


async def test_empty_object_is_200_with_no_body(start_download: Start, store: ObjectStore) -> None:
    key = _original("empty.txt")
    await store.put_bytes(key, b"", content_type="text/plain")
    client = await start_download()
    resp = await client.get(f"/files/{key}")
    assert resp.status_code == 200
    assert resp.content == b""
    assert resp.headers["content-length"] == "0"
    ranged = await client.get(f"/files/{key}", headers={"range": "bytes=0-"})
    assert ranged.status_code == 416


async def test_conditional_requests_get_304(start_download: Start, store: ObjectStore) -> None:
    key = _original("a.txt")
    await store.put_bytes(key, b"hello world", content_type="text/plain")
    client = await start_download()
    first = await client.get(f"/files/{key}")
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    again = await client.get(f"/files/{key}", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == IMMUTABLE

    since = await client.get(f"/files/{key}", headers={"if-modified-since": modified})
    assert since.status_code == 304

    changed = await client.get(f"/files/{key}", headers={"if-none-match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == b"hello world"


async def test_ranges_206_and_416(start_download: Start, store: ObjectStore) -> None:
    data = bytes(range(256)) * 4
    key = _original("bin.dat")
    await store.put_bytes(key, data, content_type="application/octet-stream")
    client = await start_download()

    part = await client.get(f"/files/{key}", headers={"range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert part.headers["content-length"] == "10"

    tail = await client.get(f"/files/{key}", headers={"range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]

    beyond = await client.get(f"/files/{key}", headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    assert beyond.headers["cache-control"] == "no-store"

    stale = await client.get(f"/files/{key}", headers={"range": "bytes=0-1", "if-range": '"old"'})
    assert stale.status_code == 200 and stale.content == data


async def test_big_objects_redirect_to_a_presigned_url(start_download: Start, store: ObjectStore) -> None:
    data = b"0123456789" * 500
    key = _original("big.bin")
    await store.put_bytes(key, data, content_type="application/octet-stream")
    small = _original("small.bin")
    await store.put_bytes(small, b"tiny", content_type="application/octet-stream")
    client = await start_download(redirect_threshold=1000, presigned_get_expires=600)

    resp = await client.get(f"/files/{key}")
    assert resp.status_code == 302
    assert resp.headers["cache-control"] == "public, max-age=300"
    location = resp.headers["location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location
    async with httpx.AsyncClient(timeout=30) as s3:
        fetched = await s3.get(location)
    assert fetched.status_code == 200
    assert fetched.content == data

    assert (await client.head(f"/files/{key}")).status_code == 302
    below = await client.get(f"/files/{small}")
    assert below.status_code == 200 and below.content == b"tiny"


async def test_script_capable_files_are_attachments(start_download: Start, store: ObjectStore) -> None:
    html = _original("page.html")
    await store.put_bytes(html, b"<script>alert(1)</script>", content_type="text/html")
    svg = _original("logo.svg")
    await store.put_bytes(svg, b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml")
    client = await start_download()

    page = await client.get(f"/files/{html}")
    assert page.status_code == 200
    assert page.headers["content-disposition"] == 'attachment; filename="page.html"'
    assert "sandbox" in page.headers["content-security-policy"]

    logo = await client.get(f"/files/{svg}?width=300")  # SVG is never resized
    assert logo.status_code == 200
    assert logo.content.startswith(b"<svg")
    assert logo.headers["content-security-policy"] == SVG_POLICY
    assert "content-disposition" not in logo.headers


async def test_health_routes(start_download: Start) -> None:
    client = await start_download()
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"broker": "ok", "store": "ok"}
    assert (await client.get("/files/not-there/x.jpg")).status_code == 404
    metrics = (await client.get("/metrics")).text
    # every answered request is counted by method and status (the two probes, then the 404)
    assert 'download_requests_total{method="GET",status="200"} 2.0' in metrics
    assert 'download_requests_total{method="GET",status="404"} 1.0' in metrics
    assert "download_request_seconds_count 3.0" in metrics


async def test_readyz_fails_without_the_bucket(start_download: Start) -> None:
    client = await start_download(s3_bucket="no-such-bucket-here")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["broker"] == "ok"
    assert ready.json()["checks"]["store"] != "ok"


# --- widths ---------------------------------------------------------------------------------


async def test_non_numeric_width_is_400(start_download: Start, store: ObjectStore) -> None:
    key = _original("photo.jpg")
    await store.put_bytes(key, b"jpeg", content_type="image/jpeg")
    client = await start_download()
    for bad in ("abc", "", "-5", "0", "1.5"):
        resp = await client.get(f"/files/{key}", params={"width": bad})
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["code"] == "INVALID_WIDTH"
        assert resp.headers["cache-control"] == "no-store"


async def test_existing_variant_is_served_without_rpc(start_download: Start, store: ObjectStore, amqp_url: str) -> None:
    key = _original("photo.jpg")
    await store.put_bytes(key, b"original-jpeg", content_type="image/jpeg")
    await store.put_bytes(_variant(key, 300, "jpg"), b"variant-300", content_type="image/jpeg")
    client = await start_download(resize_timeout=1.0)

    resp = await client.get(f"/files/{key}?width=282")  # snapped to 300
    assert resp.status_code == 200
    assert resp.content == b"variant-300"
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.headers["cache-control"] == IMMUTABLE

    assert await _metric(client, "download_resize_rpcs_total", outcome="timeout") == 0
    assert await _queue_depth(amqp_url, RESIZE_QUEUE) == 0


async def test_missing_variant_without_worker_is_503_retry_after(start_download: Start, store: ObjectStore) -> None:
    key = _original("photo.png")
    await store.put_bytes(key, b"png-bytes", content_type="image/png")
    client = await start_download(resize_timeout=0.5)
    resp = await client.get(f"/files/{key}?width=500")
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "2"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.json()["error"]["code"] == "RESIZE_TIMEOUT"
    assert await _metric(client, "download_resize_rpcs_total", outcome="timeout") == 1


async def test_missing_original_with_width_is_404(start_download: Start) -> None:
    client = await start_download(resize_timeout=0.5)
    resp = await client.get(f"/files/{_original('gone.jpg')}?width=300")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "NOT_FOUND"


async def test_non_image_original_ignores_width(start_download: Start, store: ObjectStore) -> None:
    key = _original("report.pdf")
    await store.put_bytes(key, b"%PDF-1.7 data", content_type="application/pdf")
    gif = _original("anim.gif")
    await store.put_bytes(gif, b"GIF89a...", content_type="image/gif")
    client = await start_download(resize_timeout=0.5)
    resp = await client.get(f"/files/{key}?width=300")
    assert resp.status_code == 200
    assert resp.content == b"%PDF-1.7 data"
    assert resp.headers["content-type"] == "application/pdf"
    anim = await client.get(f"/files/{gif}?width=100")
    assert anim.status_code == 200 and anim.content == b"GIF89a..."


async def test_missing_variant_is_made_once_for_concurrent_requests(
    start_download: Start, store: ObjectStore, amqp_url: str
) -> None:
    key = _original("photo.webp")
    await store.put_bytes(key, b"webp-original", content_type="image/webp")
    client = await start_download(resize_timeout=10)
    async with FakeResizer(amqp_url, store, delay=0.5) as seen:
        responses = await asyncio.gather(
            *(client.get(f"/files/{key}?width=700", headers={"x-correlation-id": f"corr-{i}"}) for i in range(4))
        )
    for resp in responses:
        assert resp.status_code == 200, resp.text
        assert resp.content == b"w750:webp-original"
        assert resp.headers["content-type"] == "image/webp"
    assert len(seen) == 1
    request, correlation_id = seen[0]
    # the variant was HEADed (absent) and the original was not: the worker looks at it, and may
    # send the (small) variant back in its reply
    assert request == ResizeRequest(
        key=key,
        width=750,
        format="webp",
        inline_max=512 * 1024,
        variant_absent=True,
        source_unchecked=True,
        format_guessed=True,
    )
    assert correlation_id in {f"corr-{i}" for i in range(4)}
    assert await store.head(_variant(key, 750, "webp")) is not None
    assert await _metric(client, "download_resize_rpcs_total", outcome="ok") == 1

    again = await client.get(f"/files/{key}?width=750")  # now stored: no second request
    assert again.status_code == 200 and again.content == b"w750:webp-original"
    assert len(seen) == 1


async def test_error_reply_maps_to_its_status(start_download: Start, store: ObjectStore, amqp_url: str) -> None:
    key = _original("broken.jpg")
    await store.put_bytes(key, b"not really a jpeg", content_type="image/jpeg")
    client = await start_download(resize_timeout=10)
    async with FakeResizer(amqp_url, store, error=("NOT_AN_IMAGE", "cannot read the image")):
        resp = await client.get(f"/files/{key}?width=100")
    assert resp.status_code == 422
    assert resp.json()["error"] == {"code": "NOT_AN_IMAGE", "message": "cannot read the image"}
    assert resp.headers["cache-control"] == "no-store"


# --- helpers --------------------------------------------------------------------------------


async def _queue_depth(amqp_url: str, name: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


class FakeResizer:
    """Consumes ``resize.requests``: stores ``w{width}:{original bytes}`` and replies ok (or an error)."""

    def __init__(
        self,
        amqp_url: str,
        store: ObjectStore,
        *,
        delay: float = 0.0,
        error: tuple[str, str] | None = None,
    ) -> None:
        self._url = amqp_url
        self._store = store
        self._delay = delay
        self._error = error
        self.seen: list[tuple[ResizeRequest, str | None]] = []

    async def __aenter__(self) -> list[tuple[ResizeRequest, str | None]]:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        # declared as the download service declares it (bounded alike)
        queue = await declare_resize_queue(channel, ResizeQueueMixin().resize_queue_max_length)
        reply_channel = await self._connection.channel()

        async def handle(message: AbstractIncomingMessage) -> Outcome:
            request = ResizeRequest.from_json(message.body)
            correlation = (message.headers or {}).get("x-correlation-id")
            self.seen.append((request, str(correlation) if correlation else None))
            await asyncio.sleep(self._delay)
            if self._error is not None:
                answer = ResizeReply.error(*self._error)
            else:
                _, original = await self._store.get_bytes(request.key)
                target = str(variant_key(parse_original_key(request.key), request.width, EXTENSIONS[request.format]))
                body = f"w{request.width}:".encode() + original
                await self._store.put_bytes(target, body, content_type=FORMATS[request.format])
                answer = ResizeReply.ok(target, FORMATS[request.format], len(body))
            await reply(reply_channel, message, answer.to_json())
            return Outcome.ACK

        self._consumer = Consumer(queue, handle, name="fake-resize")
        await self._consumer.start()
        return self.seen

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._connection.close()
