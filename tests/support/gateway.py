"""The gateway app under uvicorn on a free loopback port, with its own empty catalog database, a
real SeaweedFS bucket and a real broker vhost, and a client that talks to it as Webiny's admin
app does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devstack.ports import free_port
from services.gateway.app import build
from services.gateway.devtoken import mint_token
from services.gateway.settings import GatewaySettings
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
FILE_FIELDS = "id key name size type src tags meta createdOn createdBy { id displayName __typename } __typename"
CREATE = f"""
mutation CreateFile($data: FileInput!) {{
  fileManager {{ createFile(data: $data) {{ data {{ {FILE_FIELDS} }} error {{ code message data }} }} }}
}}"""
UPDATE = f"""
mutation UpdateFile($id: ID!, $data: FileInput!) {{
  fileManager {{ updateFile(id: $id, data: $data) {{ data {{ {FILE_FIELDS} }} error {{ code message data }} }} }}
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
query ListFiles($limit: Int, $after: String, $types: [String], $tags: [String], $ids: [ID], $search: String,
                $where: FileWhereInput) {{
  fileManager {{
    listFiles(limit: $limit, after: $after, types: $types, tags: $tags, ids: $ids, search: $search, where: $where) {{
      data {{ {FILE_FIELDS} }} meta {{ cursor totalCount hasMoreItems __typename }} error {{ code message data }}
      __typename
    }}
    __typename
  }}
}}"""
TAGS = """
query ListTags($where: TagWhereInput) { fileManager { listTags(where: $where) } }"""
TAG_COUNTS = """
query ListTagsWithCount($where: TagWhereInput) {
  fileManager { listTagsWithCount(where: $where) { data { tag count } error { code message } } }
}"""
SETTINGS = """
query GetSettings { fileManager { getSettings {
  data { uploadMinFileSize uploadMaxFileSize srcPrefix allowedTypes __typename } error { code message } __typename } } }
"""
UPDATE_SETTINGS = """
mutation UpdateSettings($data: FileManagerSettingsInput) { fileManager { updateSettings(data: $data) {
  data { uploadMinFileSize uploadMaxFileSize srcPrefix allowedTypes } error { code message data } } } }
"""


@dataclass
class Gateway:
    http: httpx.AsyncClient
    settings: GatewaySettings

    def token(self, scope: str = ALL, **kwargs: Any) -> str:
        return mint_token(self.settings.jwt_secret.get_secret_value(), scope=scope, **kwargs)

    async def post(self, body: Any, *, scope: str | None = ALL, sub: str = "dev", **headers: str) -> httpx.Response:
        if scope is not None:
            headers.setdefault("authorization", f"Bearer {self.token(scope, subject=sub)}")
        return await self.http.post("/graphql", json=body, headers=headers)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, scope: str = ALL, sub: str = "dev"
    ) -> Any:
        response = await self.post({"query": query, "variables": variables or {}}, scope=scope, sub=sub)
        assert response.status_code == 200, response.text
        result = response.json()
        assert "errors" not in result, result
        return result["data"]["fileManager"]

    async def presign(self, name: str, mime: str, size: int, *, scope: str = ALL, sub: str = "dev") -> dict[str, Any]:
        data = await self.gql(PRESIGN, {"data": {"name": name, "type": mime, "size": size}}, scope=scope, sub=sub)
        payload: dict[str, Any] = data["getPreSignedPostPayload"]
        return payload

    async def upload_file(
        self,
        name: str,
        content: bytes,
        mime: str = "application/octet-stream",
        *,
        tags: list[str] | None = None,
        scope: str = ALL,
        sub: str = "dev",
    ) -> dict[str, Any]:
        """The admin app's whole upload: payload, form POST (204), then createFile with the key as name."""
        result = await self.presign(name, mime, len(content), scope=scope, sub=sub)
        assert result["error"] is None, result
        response = await upload(result, content)
        assert response.status_code == 204, response.text
        info = result["data"]["file"]
        created = await self.gql(
            CREATE,
            {"data": {"key": info["key"], "name": info["name"], "size": info["size"], "type": info["type"],
                      "tags": tags or []}},
            scope=scope,
            sub=sub,
        )  # fmt: skip
        assert created["createFile"]["error"] is None, created
        record: dict[str, Any] = created["createFile"]["data"]
        return record


async def upload(payload: dict[str, Any], content: bytes, **field_overrides: str) -> httpx.Response:
    """POST the form as the admin app does: every returned field in order, then ``file``."""
    post = payload["data"]["data"]
    fields = {**post["fields"], **field_overrides}
    mime = fields.get("Content-Type", "application/octet-stream")
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(post["url"], data=fields, files={"file": ("upload", content, mime)})


Start = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(
    database_url: str,
    settings_for: Callable[..., Any],
    serve_app: Callable[..., Awaitable[InProcessServer]],
) -> AsyncIterator[Start]:
    """Start gateways on free ports; all of one test share one empty catalog database (requested
    first, so that it is dropped after the servers stop)."""
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: Any) -> Gateway:
        port = free_port()
        overrides.setdefault("database_url", database_url)
        settings: GatewaySettings = settings_for(GatewaySettings, host="127.0.0.1", port=port, **overrides)
        server = await serve_app(build(settings), port)
        client = httpx.AsyncClient(base_url=server.url, timeout=30)
        clients.append(client)
        return Gateway(client, settings)

    yield start
    for client in clients:
        await client.aclose()
