"""The download service's CORS over real HTTP: scripts may read files (``*`` by default, or the
listed origins), never with credentials; preflights allow GET and HEAD with the conditional and
range headers. In a real browser: tests/browser/test_browser_cors.py."""

from __future__ import annotations

from shared.keys import new_file_id
from shared.s3 import ObjectStore
from tests.integration.test_download import Start, start_download

__all__ = ["start_download"]  # the fixture

ADMIN = "http://127.0.0.1:3001"
OTHER = "http://127.0.0.1:3002"


async def test_any_origin_reads_files_without_credentials(start_download: Start, store: ObjectStore) -> None:
    key = f"{new_file_id()}/photo.png"
    await store.put_bytes(key, b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    big = f"{new_file_id()}/movie.mp4"
    await store.put_bytes(big, bytes(2000), content_type="video/mp4")
    client = await start_download(redirect_threshold=1000)

    for path, status in ((f"/files/{key}", 200), (f"/files/{big}", 302), (f"/files/{new_file_id()}/gone.png", 404)):
        response = await client.get(path, headers={"origin": OTHER, "cookie": "wby-id-token=x"})
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert "vary" not in response.headers  # one answer for every origin: caches keep one copy

    exposed = (await client.get(f"/files/{key}", headers={"origin": OTHER})).headers["access-control-expose-headers"]
    assert {"content-disposition", "content-range", "etag"} <= set(exposed.split(", "))


async def test_listed_origins_only_and_never_credentials(start_download: Start, store: ObjectStore) -> None:
    key = f"{new_file_id()}/photo.png"
    await store.put_bytes(key, b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    client = await start_download(download_cors_allow_origins=ADMIN)

    listed = await client.get(f"/files/{key}", headers={"origin": ADMIN})
    assert listed.headers["access-control-allow-origin"] == ADMIN
    assert "access-control-allow-credentials" not in listed.headers
    assert listed.headers["vary"] == "Origin"

    for origin in (OTHER, "null", "http://127.0.0.1:3001.evil.test"):
        response = await client.get(f"/files/{key}", headers={"origin": origin})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"


async def test_preflights(start_download: Start) -> None:
    client = await start_download(download_cors_allow_origins=ADMIN)

    async def preflight(origin: str, method: str, headers: str | None = None) -> int:
        request_headers = {"origin": origin, "access-control-request-method": method}
        if headers:
            request_headers["access-control-request-headers"] = headers
        response = await client.options(f"/files/{new_file_id()}/photo.png", headers=request_headers)
        if response.status_code == 204:
            assert response.headers["access-control-allow-origin"] == origin
            assert "access-control-allow-credentials" not in response.headers
        else:
            assert "access-control-allow-origin" not in response.headers
        return response.status_code

    assert await preflight(ADMIN, "GET", "range, if-none-match, x-correlation-id") == 204
    assert await preflight(ADMIN, "HEAD") == 204
    refused = [
        (OTHER, "GET", None),
        ("null", "GET", None),
        (ADMIN, "DELETE", None),
        (ADMIN, "PUT", "content-type"),
        (ADMIN, "GET", "authorization"),
        (ADMIN, "GET", "cookie"),
    ]
    for origin, method, headers in refused:
        assert await preflight(origin, method, headers) == 403, (origin, method, headers)
