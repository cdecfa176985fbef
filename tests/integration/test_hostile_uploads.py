"""Hostile uploads against the real gateway, catalog, broker, bridge, cleanup worker and SeaweedFS.

- A pre-signed POST form posted again: other bytes behind a registered key are refused (record
  rejected with the reason, object deleted, variants purged through the normal removal path);
  the same bytes change nothing; bytes put back under a deleted key are deleted.
- Multipart uploads: each part URL signs its exact size (SeaweedFS refuses any other with 403);
  parts pushed past the URLs are refused before they are joined; only the uploader completes;
  an upload never completed is aborted when its pending record expires.
- One request, too much work: the uploads, listings and operations of one HTTP request are
  budgeted across its batch and aliases, and one user may hold only so many pending uploads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.uploads import MIN_PART_SIZE
from shared.errors import NotFound
from shared.s3 import ObjectStore
from shared.worker import WorkerProcess
from tests.support.gateway import CREATE, DELETE, GET, Gateway, Start, start_gateway, upload
from tests.support.hostile import bridge, cleanup, count_rows, png, s3_admin
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually

__all__ = ["bridge", "cleanup", "s3_admin", "start_gateway"]

PARTS = "parts { partNumber url size }"
CREATE_MULTIPART = f"""
mutation C($data: PreSignedPostPayloadInput!, $numberOfParts: Int!) {{
  fileManager {{ createMultiPartUpload(data: $data, numberOfParts: $numberOfParts) {{
    data {{ uploadId file {{ id key size }} {PARTS} }} error {{ code message data }} }} }}
}}"""
COMPLETE_MULTIPART = """
mutation F($fileKey: String!, $uploadId: String!) {
  fileManager { completeMultiPartUpload(fileKey: $fileKey, uploadId: $uploadId) {
    data file { id key size createdBy { id } } error { code message data } } }
}"""


def rows(gateway: Gateway, where: str = "TRUE", *args: Any) -> Any:
    return count_rows(
        gateway.settings.database_url.get_secret_value(), f"SELECT count(*) FROM files WHERE {where}", *args
    )


async def error_of(gateway: Gateway, file_id: str) -> dict[str, Any] | None:
    error: dict[str, Any] | None = (await gateway.gql(GET, {"id": file_id}))["getFile"]["error"]
    return error


async def rejected_marker(gateway: Gateway) -> None:
    """HTML posted as image/png, once its rejection is seen, every earlier event was handled (the
    bridge publishes in order; the gateway consumes one at a time)."""
    payload = await gateway.presign("marker.png", "image/png", 1000)
    assert (await upload(payload, b"<!doctype html><script>1</script>")).status_code == 204
    marker_id = payload["data"]["file"]["id"]

    async def rejected() -> bool:
        error = await error_of(gateway, marker_id)
        return error is not None and (error["data"] or {}).get("status") == "rejected"

    await eventually(rejected, timeout=30)


# --- a pre-signed POST form posted again ---------------------------------------------------------


@pytest.fixture
async def events_flowing(
    start_gateway: Start, bridge: InProcessServer, cleanup: WorkerProcess
) -> AsyncIterator[Gateway]:
    """The gateway with the bridge and the cleanup worker: every S3 change has its consequences."""
    yield await start_gateway(amqp_prefetch=1)


async def test_other_bytes_posted_again_behind_a_registered_key_are_refused_and_purged(
    events_flowing: Gateway, store: ObjectStore
) -> None:
    gateway = events_flowing
    payload = await gateway.presign("pic.png", "image/png", 10_000)
    info = payload["data"]["file"]
    assert (await upload(payload, png("blue"))).status_code == 204
    created = (await gateway.gql(CREATE, {"data": {"key": info["key"], "name": info["name"]}}))["createFile"]
    assert created["error"] is None
    variant = f"variants/{info['id']}/pic.png/w100.png"
    await store.put_bytes(variant, png("blue", 8), content_type="image/png")  # as the resize worker does

    swap = await upload(payload, png("red"))  # the same form, other bytes: S3 cannot say "only once"
    assert swap.status_code == 204

    async def refused() -> bool:
        error = await error_of(gateway, info["id"])
        return error is not None and (error["data"] or {}).get("status") == "rejected"

    await eventually(refused, timeout=30)
    error = await error_of(gateway, info["id"])
    assert error is not None and error["code"] == "NOT_FOUND" and "replaced" in error["message"]
    assert await store.head(info["key"]) is None, "the swapped bytes are deleted"

    async def variants_gone() -> bool:
        return await store.head(variant) is None

    await eventually(variants_gone, timeout=30)  # the cleanup worker, on the deletion's object.removed
    again = (await gateway.gql(CREATE, {"data": {"key": info["key"]}}))["createFile"]
    assert again["error"]["code"] in ("NOT_FOUND", "VALIDATION_FAILED")

    # posted a third time, after the refusal: deleted again, never served
    assert (await upload(payload, png("green"))).status_code == 204
    await rejected_marker(gateway)
    assert await store.head(info["key"]) is None


async def test_the_same_bytes_again_change_nothing_and_a_deleted_key_stays_deleted(
    events_flowing: Gateway, store: ObjectStore
) -> None:
    gateway = events_flowing
    same = await gateway.presign("same.png", "image/png", 10_000)
    body = png("blue")
    assert (await upload(same, body)).status_code == 204
    kept = (await gateway.gql(CREATE, {"data": {"key": same["data"]["file"]["key"]}}))["createFile"]["data"]
    before = await store.head(kept["key"])

    deleted = await gateway.presign("deleted.png", "image/png", 10_000)
    assert (await upload(deleted, body)).status_code == 204
    record = (await gateway.gql(CREATE, {"data": {"key": deleted["data"]["file"]["key"]}}))["createFile"]["data"]
    assert (await gateway.gql(DELETE, {"id": record["id"]}))["deleteFile"]["data"] is True

    assert (await upload(same, body)).status_code == 204  # a retried POST, say
    assert (await upload(deleted, png("red"))).status_code == 204  # a deleted file's form
    await rejected_marker(gateway)

    assert (await error_of(gateway, kept["id"])) is None, "the same bytes again are harmless"
    after = await store.head(kept["key"])
    assert before is not None and after is not None and after.etag == before.etag
    assert await store.head(record["key"]) is None, "nothing comes back under a deleted key"
    assert (await error_of(gateway, record["id"]) or {}).get("code") == "NOT_FOUND"


async def test_a_form_is_valid_for_five_minutes_by_default(start_gateway: Start) -> None:
    assert GatewaySettings.model_fields["presign_expires"].default == 300
    gateway = await start_gateway(presign_expires=GatewaySettings.model_fields["presign_expires"].default)
    fields = (await gateway.presign("a.png", "image/png", 10))["data"]["data"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 250 <= (expires - datetime.now(UTC)).total_seconds() <= 301


# --- multipart uploads ------------------------------------------------------------------------------


async def create(gateway: Gateway, name: str, size: int, parts: int, **kw: Any) -> dict[str, Any]:
    variables = {"data": {"name": name, "type": "application/octet-stream", "size": size}, "numberOfParts": parts}
    result: dict[str, Any] = (await gateway.gql(CREATE_MULTIPART, variables, **kw))["createMultiPartUpload"]
    return result


async def complete(gateway: Gateway, key: str, upload_id: str, **kw: Any) -> dict[str, Any]:
    variables = {"fileKey": key, "uploadId": upload_id}
    result: dict[str, Any] = (await gateway.gql(COMPLETE_MULTIPART, variables, **kw))["completeMultiPartUpload"]
    return result


async def chunked(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 65536):
        yield b"c" * 65536
    yield b"c" * (size % 65536)


async def test_a_part_url_takes_exactly_its_size(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    small = (await create(gateway, "small.bin", 1000, 1))["data"]
    key, upload_id = small["file"]["key"], small["uploadId"]
    (part,) = small["parts"]
    assert part["size"] == 1000
    big = (await create(gateway, "big.bin", MIN_PART_SIZE + 100, 2))["data"]
    assert [p["size"] for p in big["parts"]] == [MIN_PART_SIZE, 100]

    async with httpx.AsyncClient(timeout=120) as client:
        hostile: list[tuple[str, bytes | AsyncIterator[bytes]]] = [
            (part["url"], b"x" * (12 * 1024**2)),  # 12 MiB into an upload declared as 1,000 bytes
            (part["url"], b"x" * 1001),
            (part["url"], b"x" * 999),
            (part["url"], b""),
            (part["url"], chunked(12 * 1024**2)),  # no Content-Length at all
            (part["url"].replace("partNumber=1", "partNumber=2"), b"x" * 1000),  # a part never issued
            (big["parts"][0]["url"], b"x" * (MIN_PART_SIZE + 100)),  # the whole file as part 1
            (big["parts"][1]["url"], b"x" * MIN_PART_SIZE),
        ]
        for url, content in hostile:
            response = await client.put(url, content=content)
            assert response.status_code == 403, response.text
        assert await store.list_parts(key, upload_id) == []
        assert await store.list_parts(big["file"]["key"], big["uploadId"]) == []
        exact = await client.put(part["url"], content=b"x" * 1000)
        assert exact.status_code == 200
    done = await complete(gateway, key, upload_id)
    assert done["error"] is None and done["file"]["size"] == 1000


async def test_parts_pushed_past_the_urls_are_refused_before_they_are_joined(
    start_gateway: Start, store: ObjectStore, s3_admin: Any
) -> None:
    gateway = await start_gateway()
    upload_ = (await create(gateway, "small.bin", 1000, 1))["data"]
    key, upload_id = upload_["file"]["key"], upload_["uploadId"]
    s3_admin.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 5000)
    s3_admin.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=7, Body=b"x" * 10)
    refused = await complete(gateway, key, upload_id)
    assert refused["error"]["code"] == "VALIDATION_FAILED"
    assert refused["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    assert await store.head(key) is None, "never joined"
    with pytest.raises(NotFound):
        await store.list_parts(key, upload_id)  # aborted: the parts are gone
    assert (await complete(gateway, key, upload_id))["error"]["code"] == "NOT_FOUND"
    assert await rows(gateway, "key = $1", key) == 0


async def test_only_the_uploader_completes_an_upload(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    own = "files:read:own files:write:own"
    upload_ = (await create(gateway, "mine.bin", 1000, 1, scope=own, sub="alice"))["data"]
    key, upload_id = upload_["file"]["key"], upload_["uploadId"]

    early = await complete(gateway, key, upload_id, scope=own, sub="mallory")  # before any part
    assert early["error"]["code"] == "NOT_FOUND" and early["file"] is None
    async with httpx.AsyncClient(timeout=60) as client:
        assert (await client.put(upload_["parts"][0]["url"], content=b"a" * 1000)).status_code == 200
    for _ in range(3):
        stolen = await complete(gateway, key, upload_id, scope=own, sub="mallory")
        assert stolen["error"]["code"] == "NOT_FOUND" and stolen["file"] is None
    assert await store.head(key) is None, "nothing was joined"
    assert [p.size for p in await store.list_parts(key, upload_id)] == [1000], "the parts are untouched"

    done = await complete(gateway, key, upload_id, scope=own, sub="alice")
    assert done["error"] is None and done["file"]["createdBy"] == {"id": "alice"}


async def test_an_upload_never_completed_is_aborted_when_its_record_expires(
    start_gateway: Start, store: ObjectStore
) -> None:
    # POST forms expire in 1 s, part URLs in 4 s; the expiry runs every 0.2 s with no margin
    gateway = await start_gateway(presign_expires=1, multipart_expires=4, pending_expiry_margin=0, expiry_interval=0.2)
    abandoned = (await create(gateway, "abandoned.bin", 1000, 1))["data"]
    finished = (await create(gateway, "finished.bin", 1000, 1))["data"]
    async with httpx.AsyncClient(timeout=60) as client:
        for upload_ in (abandoned, finished):
            assert (await client.put(upload_["parts"][0]["url"], content=b"p" * 1000)).status_code == 200
    await asyncio.sleep(1.5)  # past a POST form's age: a multipart upload is still waiting
    done = await complete(gateway, finished["file"]["key"], finished["uploadId"])
    assert done["error"] is None

    key, upload_id = abandoned["file"]["key"], abandoned["uploadId"]

    async def aborted() -> bool:
        try:
            await store.list_parts(key, upload_id)
        except NotFound:
            return True
        return False

    await eventually(aborted, timeout=20)
    assert await rows(gateway, "key = $1", key) == 0
    assert (await complete(gateway, key, upload_id))["error"]["code"] == "NOT_FOUND"
    assert await store.head(key) is None


# --- one request, too much work -----------------------------------------------------------------


def aliased(field: str, selection: str, count: int, arguments: str = "") -> str:
    return " ".join(f"a{i}: {field}{arguments} {{ {selection} }}" for i in range(count))


def results_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    answers = response.json()
    return [value for answer in answers for value in answer["data"]["fileManager"].values()]


async def test_one_request_issues_at_most_its_upload_budget(start_gateway: Start) -> None:
    gateway = await start_gateway()
    selection = "data { file { id } } error { code data }"
    query = (
        "query Q($data: [PreSignedPostPayloadInput]!) { fileManager { "
        + aliased("getPreSignedPostPayloads", selection, 30, "(data: $data)")
        + " } }"
    )
    item = {"name": "a.png", "type": "image/png", "size": 100}
    started = time.perf_counter()
    response = await gateway.post([{"query": query, "variables": {"data": [item] * 20}}] * 50)
    elapsed = time.perf_counter() - started
    results = results_of(response)
    assert len(results) == 1500
    issued = [r for r in results if r["error"] is None]
    assert len(issued) == 1 and len(issued[0]["data"]) == 20
    limits = {r["error"]["data"]["limit"] for r in results if r["error"]}
    assert {r["error"]["code"] for r in results if r["error"]} == {"LIMIT_EXCEEDED"}
    assert limits == {"uploadsPerRequest", "operationsPerRequest"}
    assert await rows(gateway) == 20, "20 pending records, not 30,000"
    assert elapsed < 30

    multipart = (
        "mutation M($data: PreSignedPostPayloadInput!) { fileManager { "
        + aliased(
            "createMultiPartUpload", "data { uploadId } error { code data }", 30, "(data: $data, numberOfParts: 1)"
        )
        + " } }"
    )
    results = results_of(await gateway.post([{"query": multipart, "variables": {"data": item}}]))
    assert sum(1 for r in results if r["error"] is None) == 20
    assert await rows(gateway) == 40


async def test_one_request_runs_at_most_its_listings_and_operations(start_gateway: Start) -> None:
    gateway = await start_gateway()
    record = await gateway.upload_file("a.png", png(), "image/png")
    lists = "{ fileManager { " + aliased("listFiles", "data { id } error { code data }", 30, "(limit: 100)") + " } }"
    results = results_of(await gateway.post([{"query": lists}]))
    assert sum(1 for r in results if r["error"] is None) == 10
    assert {r["error"]["data"]["limit"] for r in results if r["error"]} == {"listsPerRequest"}

    tags = "{ fileManager { " + aliased("listTagsWithCount", "data { tag } error { code }", 20) + " } }"
    results = results_of(await gateway.post([{"query": tags}]))
    assert sum(1 for r in results if r["error"] is None) == 10

    gets = "query G($id: ID!) { fileManager { " + aliased("getFile", "data { id } error { code data }", 30, "(id: $id)")
    results = results_of(await gateway.post([{"query": gets + " } }", "variables": {"id": record["id"]}}] * 50))
    assert sum(1 for r in results if r["error"] is None) == 100
    assert {r["error"]["data"]["limit"] for r in results if r["error"]} == {"operationsPerRequest"}

    versions = "{ fileManager { " + " ".join(f"v{i}: version" for i in range(30)) + " } }"
    response = await gateway.post([{"query": versions}] * 50)
    answers = response.json()
    answered = sum(1 for a in answers for v in a["data"]["fileManager"].values() if v)
    assert answered == 100
    codes = {e["extensions"]["code"] for a in answers for e in a.get("errors", [])}
    assert codes == {"LIMIT_EXCEEDED"}

    # the next request has a budget of its own
    single = await gateway.gql(GET, {"id": record["id"]})
    assert single["getFile"]["error"] is None


async def test_one_user_holds_at_most_so_many_pending_uploads(start_gateway: Start) -> None:
    gateway = await start_gateway(max_pending_uploads_per_user=25)
    many = """query P($data: [PreSignedPostPayloadInput]!) { fileManager { getPreSignedPostPayloads(data: $data) {
      data { data file { key } } error { code data } } } }"""
    item = {"name": "a.png", "type": "image/png", "size": 100}

    async def ask(count: int, sub: str = "alice") -> dict[str, Any]:
        answer = await gateway.gql(many, {"data": [item] * count}, sub=sub)
        result: dict[str, Any] = answer["getPreSignedPostPayloads"]
        return result

    first = await ask(20)
    assert first["error"] is None
    over = await ask(20)
    assert over["error"]["code"] == "LIMIT_EXCEEDED"
    assert over["error"]["data"] == {"limit": "pendingUploadsPerUser", "max": 25, "given": 40}
    assert (await ask(5))["error"] is None
    assert (await ask(1))["error"]["code"] == "LIMIT_EXCEEDED"
    assert (await gateway.presign("one.png", "image/png", 100, sub="alice"))["error"]["code"] == "LIMIT_EXCEEDED"
    assert (await create(gateway, "x.bin", 10, 1, sub="alice"))["error"]["code"] == "LIMIT_EXCEEDED"
    assert (await ask(20, sub="bob"))["error"] is None, "another user is not affected"
    assert await rows(gateway, "created_by = 'alice'") == 25

    # finishing an upload makes room for one more
    form = {"data": first["data"][0]}
    assert (await upload(form, png())).status_code == 204
    key = form["data"]["file"]["key"]
    assert (await gateway.gql(CREATE, {"data": {"key": key}}, sub="alice"))["createFile"]["error"] is None
    assert (await ask(1))["error"] is None
    assert (await ask(1))["error"]["code"] == "LIMIT_EXCEEDED"

    # at once: 10 requests of 5 files against a cap of 25, each counted and added under one lock
    results = await asyncio.gather(*(ask(5, sub="dave") for _ in range(10)))
    assert sum(1 for r in results if r["error"] is None) == 5
    assert await rows(gateway, "created_by = 'dave' AND status = 'pending'") == 25


async def test_a_refused_multipart_creation_leaves_no_upload_in_s3(
    start_gateway: Start, store: ObjectStore, s3_admin: Any
) -> None:
    gateway = await start_gateway(max_pending_uploads_per_user=2)
    for _ in range(2):
        assert (await create(gateway, "x.bin", 10, 1))["error"] is None
    assert (await create(gateway, "x.bin", 10, 1))["error"]["code"] == "LIMIT_EXCEEDED"
    uploads = s3_admin.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert len(uploads) == 2
