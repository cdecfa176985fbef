"""A file whose verdict is pending, through the real download service and a real resize worker
(real RabbitMQ, real SeaweedFS): no variant is ever made of content the catalog rejects, while
the original is served as declared, with the safety headers, until the catalog deletes it.

The objects are written straight to S3, as an upload leaves them before its ``object.created``
event reaches the catalog (no catalog runs here: the window is all these tests see).
"""

from __future__ import annotations

import pytest

from devstack.photos import photo
from shared.content_check import check
from shared.keys import file_id_of, variant_prefix
from shared.s3 import ObjectStore
from tests.integration import test_download_formats
from tests.integration.test_download_formats import Start, encoded, opened, put

# The download service and one real resize worker: test_download_formats' fixture, shared.
start = test_download_formats.start


PICTURE = photo(320, 240, seed=5)
PNG = encoded(PICTURE, "PNG")
JPEG = encoded(PICTURE, "JPEG")
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(
    ("name", "data", "declared"),
    [("png-as.jpg", PNG, "image/jpeg"), ("page.png", HTML, "image/png")],
)
async def test_a_variant_of_content_the_catalog_rejects_is_refused_and_never_stored(
    start: Start, store: ObjectStore, name: str, data: bytes, declared: str
) -> None:
    key = await put(store, name, data, declared)
    client = await start()

    for _ in range(2):  # asked again: still refused, nothing was stored meanwhile
        resp = await client.get(f"/files/{key}", params={"width": 100})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == {"code": "NOT_AN_IMAGE", "message": check(declared, data)}
        assert resp.headers["cache-control"] == "no-store"
    webp = await client.get(f"/files/{key}", params={"width": 100, "format": "webp"})
    assert (webp.status_code, webp.json()["error"]["code"]) == (422, "NOT_AN_IMAGE")
    assert await store.list_keys(variant_prefix(file_id_of(key))) == []


async def test_an_honest_file_still_gets_its_variant(start: Start, store: ObjectStore) -> None:
    keys = [await put(store, "photo.png", PNG, "image/png"), await put(store, "photo.jpg", JPEG, "image/jpeg")]
    client = await start()
    for key in keys:
        resp = await client.get(f"/files/{key}", params={"width": 100})
        assert resp.status_code == 200, resp.text
        assert opened(resp).width <= 320
        assert await store.list_keys(variant_prefix(file_id_of(key))) != []


async def test_the_original_is_served_as_declared_with_the_safety_headers_in_the_window(
    start: Start, store: ObjectStore
) -> None:
    """What docs/decisions.md promises for the window: the bytes under their declared type, never
    sniffed into a page by a browser; after the catalog's verdict, 404 (the object is deleted; the
    in-process cache, off here, is evicted by the ``object.removed`` that deletion publishes)."""
    key = await put(store, "page.png", HTML, "image/png")
    client = await start(cache_bytes=0)

    resp = await client.get(f"/files/{key}")

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["x-content-type-options"] == "nosniff"
    await store.delete(key)  # what the catalog does on rejecting it
    gone = await client.get(f"/files/{key}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "NOT_FOUND")
