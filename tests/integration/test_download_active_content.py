"""Big files that a browser would run are never handed to the S3 origin, which would serve them
inline with no attachment and no policy: they are streamed with the same safety headers as small
ones. Inert types still redirect, and what the S3 origin then really answers is checked by
following the redirect to the real SeaweedFS.

Every test names the origin that answered: the download service (``127.0.0.1:<its port>``) or S3.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from services.download.content_safety import _SCRIPT_CAPABLE, DOCUMENT_POLICY, SVG_POLICY
from shared.keys import new_file_id
from shared.s3 import ObjectStore, make_client
from shared.settings import CommonSettings
from tests.integration.test_download import Start, start_download

__all__ = ["start_download"]  # the fixture

THRESHOLD = 64 * 1024
SCRIPT = b"<html><body><script>document.title='owned'</script></body></html>"
PutRaw = Callable[[str, bytes, str | None], None]


def _padded(head: bytes, size: int = THRESHOLD + 1) -> bytes:
    return head + b" " * (size - len(head))


def _jpeg(min_size: int) -> bytes:
    side = 256
    while True:
        out = io.BytesIO()
        Image.effect_noise((side, side), 120).convert("RGB").save(out, "JPEG", quality=95)
        if out.tell() > min_size:
            return out.getvalue()
        side *= 2


@pytest.fixture
def put_raw(settings_for: Callable[..., Any], bucket: str) -> PutRaw:
    """A PUT as any S3 client may make it, with no Content-Type at all when ``content_type`` is None."""
    client: Any = make_client(settings_for(CommonSettings))

    def put(key: str, body: bytes, content_type: str | None) -> None:
        extra = {} if content_type is None else {"ContentType": content_type}
        client.put_object(Bucket=bucket, Key=key, Body=body, **extra)

    return put


async def _follow(client: httpx.AsyncClient, key: str, **headers: str) -> httpx.Response:
    """GET through the service, following a redirect (if any) to whichever origin it names."""
    return await client.get(f"/files/{key}", headers=headers, follow_redirects=True)


def _answered_by_service(client: httpx.AsyncClient, response: httpx.Response) -> bool:
    return response.url.netloc.decode() == client.base_url.netloc.decode() and not response.history


def _assert_attachment(response: httpx.Response, filename: str) -> None:
    assert response.status_code in (200, 206), response.text[:200]
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert response.headers["content-security-policy"] == DOCUMENT_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


# Every type the service classifies as script-capable, plus the spellings and the XML family.
SCRIPT_TYPES = [
    *sorted(_SCRIPT_CAPABLE),
    "Text/HTML; charset=utf-8",
    "TEXT/HTML;charset=UTF-8",
    " text/html",
    "application/rss+xml",
    "application/atom+xml",
    "image/png, text/html",  # browsers take the last valid type of a list
    "html",  # not a type: browsers sniff it
]


async def test_big_script_capable_files_are_streamed_as_sandboxed_attachments(
    start_download: Start, store: ObjectStore
) -> None:
    """One service for every type (a service per type would cost a broker vhost and a start each)."""
    body = _padded(SCRIPT)
    keys = {content_type: f"{new_file_id()}/big.html" for content_type in SCRIPT_TYPES}
    for content_type, key in keys.items():
        await store.put_bytes(key, body, content_type=content_type)
    client = await start_download(redirect_threshold=THRESHOLD)

    for content_type, key in keys.items():
        response = await _follow(client, key)
        assert _answered_by_service(client, response), (content_type, response.url)
        _assert_attachment(response, "big.html")
        assert response.content == body, content_type


DOCUMENTS = [
    ("page.html", "text/html", SCRIPT),
    ("page.xhtml", "application/xhtml+xml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script>1</script>'),
    ("data.xml", "text/xml", b"<?xml version='1.0'?><x:script xmlns:x='http://www.w3.org/1999/xhtml'/>"),
    ("feed.xml", "application/xml", b"<?xml version='1.0'?><a/>"),
    ("app.js", "application/javascript", b"alert(document.domain);"),
    ("main.js", "text/javascript", b"alert(document.domain);"),
]


async def test_big_documents_and_scripts_keep_their_headers_for_head_and_ranges(
    start_download: Start, store: ObjectStore
) -> None:
    client = await start_download(redirect_threshold=THRESHOLD, cache_item_bytes=THRESHOLD // 2)
    for name, content_type, head in DOCUMENTS:
        key = f"{new_file_id()}/{name}"
        body = _padded(head, 2 * THRESHOLD)
        await store.put_bytes(key, body, content_type=content_type)

        whole = await _follow(client, key)
        assert _answered_by_service(client, whole), (content_type, whole.url)
        _assert_attachment(whole, name)
        assert whole.headers["content-type"] == content_type
        assert whole.content == body

        part = await _follow(client, key, range="bytes=10-19")
        assert _answered_by_service(client, part), content_type
        assert part.status_code == 206 and part.content == body[10:20]
        _assert_attachment(part, name)

        head_only = await client.head(f"/files/{key}")
        assert head_only.status_code == 200 and head_only.content == b""
        _assert_attachment(head_only, name)

        cached = await client.get(f"/files/{key}", headers={"if-none-match": whole.headers["etag"]})
        assert cached.status_code == 304


async def test_a_big_svg_stays_inline_here_sandboxed(start_download: Start, store: ObjectStore) -> None:
    key = f"{new_file_id()}/logo.svg"
    body = _padded(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script>")
    await store.put_bytes(key, body, content_type="image/svg+xml")
    client = await start_download(redirect_threshold=THRESHOLD)

    for url in (f"/files/{key}", f"/files/{key}?width=300"):
        response = await client.get(url, follow_redirects=True)
        assert _answered_by_service(client, response)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["content-security-policy"] == SVG_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-disposition" not in response.headers
        assert response.content == body


async def test_an_untyped_html_upload_is_typed_by_s3_and_stays_here(start_download: Start, put_raw: PutRaw) -> None:
    """SeaweedFS types an upload without a Content-Type (none, or empty) from its bytes, HTML here;
    the service judges the type S3 reports, the one S3 would serve."""
    client = await start_download(redirect_threshold=THRESHOLD)
    body = _padded(SCRIPT)
    for declared in (None, ""):
        key = f"{new_file_id()}/upload"
        put_raw(key, body, declared)
        response = await _follow(client, key)
        assert _answered_by_service(client, response), (declared, response.url)
        _assert_attachment(response, "upload")
        assert response.content == body


async def test_an_untyped_binary_upload_redirects_as_octet_stream(start_download: Start, put_raw: PutRaw) -> None:
    client = await start_download(redirect_threshold=THRESHOLD)
    body = bytes(range(256)) * (THRESHOLD // 256 + 1)
    for declared in (None, ""):
        key = f"{new_file_id()}/blob"
        put_raw(key, body, declared)
        response = await _follow(client, key)
        assert not _answered_by_service(client, response), declared
        assert response.history[0].status_code == 302
        assert response.status_code == 200 and response.content == body
        assert response.headers["content-type"] == "application/octet-stream"


async def test_big_inert_files_still_redirect_and_s3_serves_them_inline(
    start_download: Start, store: ObjectStore
) -> None:
    client = await start_download(redirect_threshold=THRESHOLD)
    inert = {
        "photo.jpg": ("image/jpeg", _jpeg(THRESHOLD)),
        "clip.mp4": ("video/mp4", _padded(b"\x00\x00\x00\x18ftypmp42")),
        "doc.pdf": ("application/pdf", _padded(b"%PDF-1.4")),
    }
    for name, (content_type, body) in inert.items():
        key = f"{new_file_id()}/{name}"
        await store.put_bytes(key, body, content_type=content_type)
        response = await _follow(client, key)
        assert not _answered_by_service(client, response), content_type
        assert response.history[0].status_code == 302
        assert response.status_code == 200 and response.content == body
        assert response.headers["content-type"] == content_type
        assert "content-disposition" not in response.headers


async def test_the_redirect_pins_the_type_the_service_judged(
    start_download: Start, store: ObjectStore, put_raw: PutRaw
) -> None:
    """The object is replaced by HTML after the service cached its HEAD (no event reaches this
    service here): the signed URL still makes S3 answer the JPEG's type, never text/html."""
    key = f"{new_file_id()}/photo.jpg"
    await store.put_bytes(key, _jpeg(THRESHOLD), content_type="image/jpeg")
    client = await start_download(redirect_threshold=THRESHOLD)
    first = await client.get(f"/files/{key}")
    assert first.status_code == 302 and "response-content-type=image%2Fjpeg" in first.headers["location"]

    put_raw(key, _padded(SCRIPT), "text/html")
    response = await _follow(client, key)
    assert not _answered_by_service(client, response)
    assert response.content.startswith(SCRIPT)
    assert response.headers["content-type"] == "image/jpeg"


async def test_at_the_default_threshold(start_download: Start, store: ObjectStore) -> None:
    """The issue's case as reported: HTML just above 6 MiB, and a JPEG of the same size."""
    client = await start_download()
    size = 6 * 1024 * 1024 + 1
    html = f"{new_file_id()}/big.html"
    await store.put_bytes(html, _padded(SCRIPT, size), content_type="text/html")
    photo = f"{new_file_id()}/big.jpg"
    await store.put_bytes(photo, _padded(b"\xff\xd8\xff\xe0", size), content_type="image/jpeg")

    page = await _follow(client, html)
    assert _answered_by_service(client, page)
    _assert_attachment(page, "big.html")
    assert len(page.content) == size

    image = await _follow(client, photo)
    assert not _answered_by_service(client, image)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert "content-disposition" not in image.headers
