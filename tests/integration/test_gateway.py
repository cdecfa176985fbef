"""The GraphQL gateway over real HTTP against a real SeaweedFS bucket.

Each test runs the app under uvicorn on a free loopback port and talks to it as Webiny's admin
app does (batches, ``__typename``, undeclared variables); uploads go straight to S3 with the
pre-signed POST, so S3 itself enforces the policy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.gateway.app import build_app
from services.gateway.devtoken import mint_token
from services.gateway.settings import GatewaySettings
from shared.keys import new_file_id
from shared.s3 import ObjectStore
from tests.support.ports import free_port
from tests.support.servers import InProcessServer

ALL = "files:*"
PRESIGN = """
query GetPreSignedPostPayload($data: PreSignedPostPayloadInput!) {
  fileManager { getPreSignedPostPayload(data: $data) {
    data { data file { id key name size type __typename } __typename }
    error { code message data __typename } __typename } __typename }
}"""
PRESIGN_MANY = """
query GetPreSignedPostPayloads($data: [PreSignedPostPayloadInput]!) {
  fileManager { getPreSignedPostPayloads(data: $data) {
    data { data file { id key name size type } } error { code message data } } }
}"""
FILE_FIELDS = "id key name size type src tags meta createdOn createdBy { id } __typename"
CREATE = f"""
mutation CreateFile($data: FileInput!) {{
  fileManager {{ createFile(data: $data) {{ data {{ {FILE_FIELDS} }} error {{ code message data }} }} }}
}}"""
GET = f"""
query GetFile($id: ID!) {{
  fileManager {{ getFile(id: $id) {{ data {{ {FILE_FIELDS} }} error {{ code message data }} }} }}
}}"""
DELETE = """
mutation DeleteFile($id: ID!) {
  fileManager { deleteFile(id: $id) { data error { code message data } } }
}"""
LIST = f"""
query ListFiles($limit: Int, $after: String, $types: [String], $tags: [String], $search: String,
                $where: FileWhereInput) {{
  fileManager {{
    listFiles(limit: $limit, after: $after, types: $types, tags: $tags, search: $search, where: $where) {{
      data {{ {FILE_FIELDS} }} meta {{ cursor totalCount hasMoreItems __typename }} error {{ code message }}
      __typename
    }}
    __typename
  }}
}}"""
SETTINGS = """
query GetSettings { fileManager { getSettings {
  data { uploadMinFileSize uploadMaxFileSize srcPrefix __typename } error { code message } __typename } } }
"""


@dataclass
class Gateway:
    http: httpx.AsyncClient
    settings: GatewaySettings

    def token(self, scope: str = ALL, **kwargs: Any) -> str:
        return mint_token(self.settings.jwt_secret.get_secret_value(), scope=scope, **kwargs)

    async def post(self, body: Any, *, scope: str | None = ALL, **headers: str) -> httpx.Response:
        if scope is not None:
            headers.setdefault("authorization", f"Bearer {self.token(scope)}")
        return await self.http.post("/graphql", json=body, headers=headers)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, scope: str = ALL) -> Any:
        response = await self.post({"query": query, "variables": variables or {}}, scope=scope)
        assert response.status_code == 200, response.text
        result = response.json()
        assert "errors" not in result, result
        return result["data"]["fileManager"]

    async def presign(self, name: str, mime: str, size: int, *, scope: str = ALL) -> dict[str, Any]:
        data = await self.gql(PRESIGN, {"data": {"name": name, "type": mime, "size": size}}, scope=scope)
        payload: dict[str, Any] = data["getPreSignedPostPayload"]
        return payload


Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(
    settings_for: Callable[..., Any], serve_app: Callable[..., Awaitable[InProcessServer]]
) -> AsyncIterator[Start]:
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> Gateway:
        port = free_port()
        settings: GatewaySettings = settings_for(GatewaySettings, host="127.0.0.1", port=port, **overrides)
        server = await serve_app(build_app(settings), port)
        client = httpx.AsyncClient(base_url=server.url, timeout=30)
        clients.append(client)
        return Gateway(client, settings)

    yield start
    for client in clients:
        await client.aclose()


async def upload(payload: dict[str, Any], content: bytes, **field_overrides: str) -> httpx.Response:
    """POST the form as the admin app does: every returned field in order, then ``file``."""
    post = payload["data"]["data"]
    fields = {**post["fields"], **field_overrides}
    mime = fields.get("Content-Type", "application/octet-stream")
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(post["url"], data=fields, files={"file": ("upload", content, mime)})


# --- flow A: upload, then the record ------------------------------------------------------------


async def test_upload_create_get_list_delete(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    content = b"\xff\xd8\xff" + b"x" * 2000
    result = await gateway.presign("My photo.jpg", "image/jpeg", len(content))
    assert result["error"] is None
    info = result["data"]["file"]
    key = info["key"]
    assert key == f"{info['id']}/My photo.jpg"
    assert info["name"] == key and info["size"] == len(content) and info["type"] == "image/jpeg"
    assert result["data"]["data"]["fields"]["key"] == key

    response = await upload(result, content)
    assert response.status_code == 204, response.text
    stored = await store.head(key)
    assert stored is not None and stored.size == len(content) and stored.content_type == "image/jpeg"

    created = await gateway.gql(
        CREATE, {"data": {"key": key, "name": key, "size": len(content), "type": "image/jpeg", "tags": []}}
    )
    record = created["createFile"]["data"]
    assert created["createFile"]["error"] is None
    assert record["id"] == info["id"] and record["key"] == key and record["name"] == "My photo.jpg"
    assert record["size"] == len(content) and record["type"] == "image/jpeg"
    assert record["src"] == f"{gateway.settings.download_base_url}/files/{info['id']}/My%20photo.jpg"
    assert record["tags"] == [] and record["createdOn"].endswith("Z") and record["createdBy"] is None

    fetched = await gateway.gql(GET, {"id": info["id"]})
    assert fetched["getFile"]["data"] == record

    listed = await gateway.gql(LIST, {"limit": 40, "where": {"tag_not_startsWith": "scope:"}})
    assert [f["key"] for f in listed["listFiles"]["data"]] == [key]

    deleted = await gateway.gql(DELETE, {"id": info["id"]})
    assert deleted["deleteFile"] == {"data": True, "error": None}
    assert await store.head(key) is None
    gone = await gateway.gql(GET, {"id": info["id"]})
    assert gone["getFile"]["data"] is None and gone["getFile"]["error"]["code"] == "NOT_FOUND"


async def test_delete_removes_only_the_original(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    file_id = new_file_id()
    await store.put_bytes(f"{file_id}/a.png", b"png", content_type="image/png")
    await store.put_bytes(f"variants/{file_id}/a.png/w100.png", b"v", content_type="image/png")
    deleted = await gateway.gql(DELETE, {"id": file_id})
    assert deleted["deleteFile"]["data"] is True
    assert await store.head(f"{file_id}/a.png") is None
    assert await store.head(f"variants/{file_id}/a.png/w100.png") is not None, "cleanup's job, not ours"


async def test_s3_refuses_a_file_bigger_than_declared(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("small.txt", "text/plain", 10)
    response = await upload(result, b"x" * 11)
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None


async def test_s3_refuses_another_content_type(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("a.png", "image/png", 100)
    response = await upload(result, b"<html>", **{"Content-Type": "text/html"})
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None


async def test_s3_refuses_another_key(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    result = await gateway.presign("a.png", "image/png", 100)
    other = f"{new_file_id()}/evil.png"
    response = await upload(result, b"png", key=other)
    assert response.status_code >= 400
    assert await store.head(other) is None


async def test_s3_refuses_an_expired_policy(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway(presign_expires=1)
    result = await gateway.presign("late.txt", "text/plain", 10)
    await asyncio.sleep(2.5)
    response = await upload(result, b"hello")
    assert response.status_code >= 400
    assert await store.head(result["data"]["file"]["key"]) is None


async def test_sizes_beyond_32_bits_and_the_settings(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=10 * 1024**3)
    result = await gateway.presign("big.mp4", "video/mp4", 5 * 1024**3)
    assert result["error"] is None and result["data"]["file"]["size"] == 5 * 1024**3
    settings = await gateway.gql(SETTINGS)
    assert settings["getSettings"]["data"] == {
        "uploadMinFileSize": 1,
        "uploadMaxFileSize": 10 * 1024**3,
        "srcPrefix": f"{gateway.settings.download_base_url}/files/",
        "__typename": "Settings",
    }


async def test_validation_errors(start_gateway: Start) -> None:
    gateway = await start_gateway(upload_max_size=1000, allowed_types="image/*")
    too_big = await gateway.presign("a.png", "image/png", 1001)
    assert too_big["data"] is None
    assert too_big["error"]["code"] == "VALIDATION_FAILED"
    assert too_big["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    wrong_type = await gateway.presign("a.pdf", "application/pdf", 10)
    assert wrong_type["error"]["data"]["invalidFields"]["type"]["code"] == "NOT_ALLOWED"
    fraction = await gateway.post({"query": PRESIGN, "variables": {"data": {"name": "a", "type": "a/b", "size": 1.5}}})
    assert fraction.status_code == 400 and "whole number" in fraction.json()["errors"][0]["message"]


async def test_batched_presign(start_gateway: Start) -> None:
    gateway = await start_gateway()
    item = {"name": "a.png", "type": "image/png", "size": 10}
    two = await gateway.gql(PRESIGN_MANY, {"data": [item, {**item, "name": "b.png"}]})
    files = [entry["file"] for entry in two["getPreSignedPostPayloads"]["data"]]
    assert [f["key"].split("/", 1)[1] for f in files] == ["a.png", "b.png"]
    assert files[0]["id"] != files[1]["id"]
    too_many = await gateway.gql(PRESIGN_MANY, {"data": [item] * 21})
    assert too_many["getPreSignedPostPayloads"]["error"]["code"] == "LIMIT_EXCEEDED"
    empty = await gateway.gql(PRESIGN_MANY, {"data": []})
    assert empty["getPreSignedPostPayloads"]["error"]["code"] == "VALIDATION_FAILED"


# --- records and listing --------------------------------------------------------------------------


async def test_not_found_and_bad_keys(start_gateway: Start) -> None:
    gateway = await start_gateway()
    for file_id in (new_file_id(), "not-an-id", "../etc"):
        got = await gateway.gql(GET, {"id": file_id})
        assert got["getFile"]["error"]["code"] == "NOT_FOUND"
        deleted = await gateway.gql(DELETE, {"id": file_id})
        assert deleted["deleteFile"]["data"] is None
        assert deleted["deleteFile"]["error"]["code"] == "NOT_FOUND"
    missing = await gateway.gql(CREATE, {"data": {"key": f"{new_file_id()}/never.png"}})
    assert missing["createFile"]["error"]["code"] == "NOT_FOUND"
    variant = await gateway.gql(CREATE, {"data": {"key": f"variants/{new_file_id()}/a.png/w100.png"}})
    assert variant["createFile"]["error"]["code"] == "VALIDATION_FAILED"


async def test_list_pages_filters_and_skips_variants(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    keys = sorted(f"{new_file_id()}/{name}" for name in ("cat.png", "dog.png", "report.pdf"))
    for key in keys:
        mime = "application/pdf" if key.endswith(".pdf") else "image/png"
        await store.put_bytes(key, b"data", content_type=mime)
    await store.put_bytes(f"variants/{keys[0]}/w100.png", b"v", content_type="image/png")

    first = (await gateway.gql(LIST, {"limit": 2}))["listFiles"]
    assert [f["key"] for f in first["data"]] == keys[:2]
    assert first["meta"]["totalCount"] == 3 and first["meta"]["hasMoreItems"] is True
    second = (await gateway.gql(LIST, {"limit": 2, "after": first["meta"]["cursor"]}))["listFiles"]
    assert [f["key"] for f in second["data"]] == keys[2:]
    assert second["meta"]["cursor"] is None and second["meta"]["hasMoreItems"] is False

    images = (await gateway.gql(LIST, {"types": ["image/png"], "limit": 1}))["listFiles"]
    png_keys = [k for k in keys if k.endswith(".png")]
    assert [f["key"] for f in images["data"]] == png_keys[:1] and images["meta"]["hasMoreItems"]
    rest = (await gateway.gql(LIST, {"types": ["image/png"], "after": images["meta"]["cursor"]}))["listFiles"]
    assert [f["key"] for f in rest["data"]] == png_keys[1:] and rest["meta"]["cursor"] is None

    found = (await gateway.gql(LIST, {"search": "REPORT"}))["listFiles"]
    assert [f["name"] for f in found["data"]] == ["report.pdf"]
    tagged = (await gateway.gql(LIST, {"tags": ["holiday"]}))["listFiles"]
    assert tagged["data"] == [] and tagged["meta"]["totalCount"] == 0
    bad = (await gateway.gql(LIST, {"after": "garbage"}))["listFiles"]
    assert bad["error"]["code"] == "VALIDATION_FAILED"


async def test_catalog_operations_say_not_supported(start_gateway: Start) -> None:
    gateway = await start_gateway()
    data = await gateway.gql(
        """mutation { fileManager {
             updateFile(id: "x", data: {name: "y"}) { data { id } error { code message } }
             updateSettings(data: {uploadMaxFileSize: 5}) { data { srcPrefix } error { code } } } }"""
    )
    assert data["updateFile"]["error"]["code"] == "NOT_SUPPORTED" and data["updateFile"]["data"] is None
    assert data["updateSettings"]["error"]["code"] == "NOT_SUPPORTED"
    query = await gateway.gql('{ fileManager { version listTags(where: {tag_not_startsWith: "scope:"}) } }')
    assert query == {"version": None, "listTags": []}


# --- transport: batching, limits, errors ------------------------------------------------------------


async def test_a_batch_is_answered_in_order_ignoring_undeclared_variables(start_gateway: Start) -> None:
    gateway = await start_gateway()
    batch = [
        {"operationName": "GetSettings", "variables": {"sort": ["createdOn_DESC"]}, "query": SETTINGS},
        {
            "operationName": "ListFiles",
            "variables": {"limit": 40, "sort": ["createdOn_DESC"], "scope": "x", "where": {}},
            "query": LIST,
        },
        {"query": "{ fileManager { version __typename } __typename }"},
        {"query": "{ nope }"},
    ]
    response = await gateway.post(batch)
    assert response.status_code == 200
    results = response.json()
    assert isinstance(results, list) and len(results) == 4
    assert results[0]["data"]["fileManager"]["getSettings"]["__typename"] == "SettingsResponse"
    assert results[1]["data"]["fileManager"]["listFiles"]["__typename"] == "FileListResponse"
    assert results[1]["data"]["fileManager"]["listFiles"]["meta"]["totalCount"] == 0
    assert results[2]["data"] == {
        "fileManager": {"version": None, "__typename": "FmQuery"},
        "__typename": "Query",
    }
    assert "errors" in results[3] and "data" not in results[3]


async def test_malformed_and_oversized_requests(start_gateway: Start) -> None:
    gateway = await start_gateway(max_batch_size=3, max_body_bytes=4096)
    token = {"authorization": f"Bearer {gateway.token()}", "content-type": "application/json"}
    malformed = await gateway.http.post("/graphql", content=b"{nope", headers=token)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "BAD_REQUEST"
    wrong_shape = await gateway.http.post("/graphql", content=b"42", headers=token)
    assert wrong_shape.status_code == 400
    too_many = await gateway.post([{"query": "{ __typename }"}] * 4)
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "LIMIT_EXCEEDED"
    huge = await gateway.post({"query": "{ __typename }", "variables": {"pad": "x" * 5000}})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await gateway.http.get("/graphql")).status_code == 405
    syntax = await gateway.post({"query": "query {"})
    assert syntax.status_code == 400 and syntax.json()["errors"]


# --- auth -------------------------------------------------------------------------------------------


async def test_missing_bad_or_expired_tokens_are_401(start_gateway: Start) -> None:
    gateway = await start_gateway()
    body = {"query": "{ fileManager { version } }"}
    missing = await gateway.post(body, scope=None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "UNAUTHORIZED"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = mint_token("some-other-secret-of-enough-length-000", scope=ALL)
    for header in (
        f"Bearer {forged}",
        "Bearer not.a.jwt",
        f"Bearer {gateway.token(ttl=timedelta(seconds=-120))}",
    ):
        refused = await gateway.post(body, scope=None, authorization=header)
        assert refused.status_code == 401, header
        assert refused.json()["error"]["code"] == "UNAUTHORIZED"
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_scopes_are_enforced_per_operation(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    read_only = await gateway.presign("a.png", "image/png", 10, scope="files:read")
    assert read_only["data"] is None and read_only["error"]["code"] == "FORBIDDEN"
    file_id = new_file_id()
    await store.put_bytes(f"{file_id}/keep.png", b"png", content_type="image/png")
    refused = await gateway.gql(DELETE, {"id": file_id}, scope="files:read files:write")
    assert refused["deleteFile"]["error"]["code"] == "FORBIDDEN"
    assert await store.head(f"{file_id}/keep.png") is not None
    no_read = await gateway.gql(GET, {"id": file_id}, scope="files:write")
    assert no_read["getFile"]["error"]["code"] == "FORBIDDEN"
    allowed = await gateway.gql(GET, {"id": file_id}, scope="files:read")
    assert allowed["getFile"]["data"]["name"] == "keep.png"


# --- operations ---------------------------------------------------------------------------------------


async def test_health_metrics_and_correlation_id(start_gateway: Start) -> None:
    gateway = await start_gateway()
    assert (await gateway.http.get("/healthz")).status_code == 200
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"s3": "ok"}
    await gateway.gql(GET, {"id": new_file_id()})
    response = await gateway.post({"query": "{ __typename }"}, **{"x-correlation-id": "req-123"})
    assert response.headers["x-correlation-id"] == "req-123"
    fresh = await gateway.post({"query": "{ __typename }"})
    assert len(fresh.headers["x-correlation-id"]) == 32
    metrics = (await gateway.http.get("/metrics")).text
    assert 'gateway_graphql_operations_total{operation="getFile",outcome="NOT_FOUND"} 1.0' in metrics
    assert 'gateway_http_requests_total{outcome="ok"}' in metrics


async def test_readyz_reports_an_unreachable_store(start_gateway: Start) -> None:
    gateway = await start_gateway(s3_bucket="no-such-bucket-" + new_file_id()[:8])
    ready = await gateway.http.get("/readyz")
    assert ready.status_code == 503 and json.loads(ready.text)["status"] == "not ready"
