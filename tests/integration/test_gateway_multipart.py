"""Multipart uploads against the real SeaweedFS: pre-signed part URLs, completion listed by S3,
the record registered in the real catalog, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from services.gateway.uploads import MIN_PART_SIZE
from shared.s3 import ObjectStore, make_client
from shared.settings import CommonSettings
from tests.support.gateway import GET, Gateway, Start, start_gateway

__all__ = ["start_gateway"]

CREATE_MULTIPART = """
mutation CreateMultiPartUpload($data: PreSignedPostPayloadInput!, $numberOfParts: Int!) {
  fileManager { createMultiPartUpload(data: $data, numberOfParts: $numberOfParts) {
    data { uploadId file { id key name size type } parts { partNumber url } } error { code message data } } }
}"""
COMPLETE_MULTIPART = """
mutation CompleteMultiPartUpload($fileKey: String!, $uploadId: String!) {
  fileManager { completeMultiPartUpload(fileKey: $fileKey, uploadId: $uploadId) {
    data file { id key name size type tags createdBy { id } } error { code message data } } }
}"""


async def start(gateway: Gateway, name: str, mime: str, size: int, parts: int, **kw: Any) -> dict[str, Any]:
    variables = {"data": {"name": name, "type": mime, "size": size}, "numberOfParts": parts}
    result: dict[str, Any] = (await gateway.gql(CREATE_MULTIPART, variables, **kw))["createMultiPartUpload"]
    return result


async def put_parts(upload: dict[str, Any], chunks: list[bytes]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for part, chunk in zip(upload["parts"], chunks, strict=False):
            response = await client.put(part["url"], content=chunk)
            assert response.status_code == 200, response.text


async def complete(gateway: Gateway, key: str, upload_id: str, **kw: Any) -> dict[str, Any]:
    variables = {"fileKey": key, "uploadId": upload_id}
    result: dict[str, Any] = (await gateway.gql(COMPLETE_MULTIPART, variables, **kw))["completeMultiPartUpload"]
    return result


async def test_a_big_file_in_two_parts(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    content = bytes(range(256)) * (MIN_PART_SIZE // 256) + b"tail" * 100
    created = await start(gateway, "video.mp4", "video/mp4", len(content), 2, sub="uploader")
    assert created["error"] is None, created
    upload = created["data"]
    assert [p["partNumber"] for p in upload["parts"]] == [1, 2]
    info = upload["file"]
    assert info["key"] == f"{info['id']}/video.mp4" and info["size"] == len(content) and info["name"] == info["key"]

    await put_parts(upload, [content[:MIN_PART_SIZE], content[MIN_PART_SIZE:]])
    done = await complete(gateway, info["key"], upload["uploadId"], sub="uploader")
    assert done["error"] is None and done["data"] is True, done
    record = done["file"]
    assert (record["id"], record["name"], record["size"], record["type"]) == (
        info["id"],
        "video.mp4",
        len(content),
        "video/mp4",
    )
    assert record["createdBy"] == {"id": "uploader"}
    head = await store.head(info["key"])
    assert head is not None and head.size == len(content) and head.content_type == "video/mp4"
    _, stored = await store.get_bytes(info["key"])
    assert stored == content
    assert (await gateway.gql(GET, {"id": info["id"]}))["getFile"]["data"]["size"] == len(content)

    again = await complete(gateway, info["key"], upload["uploadId"])
    assert again["error"]["code"] == "NOT_FOUND", "a finished upload cannot be completed twice"


async def test_a_single_part_upload_and_the_refusals(
    start_gateway: Start, store: ObjectStore, settings_for: Callable[..., Any]
) -> None:
    gateway = await start_gateway(upload_max_size=50 * 1024**2)
    small = await start(gateway, "doc.pdf", "application/pdf", 10, 1)
    key, upload_id = small["data"]["file"]["key"], small["data"]["uploadId"]

    nothing_yet = await complete(gateway, key, upload_id)
    assert nothing_yet["error"]["code"] == "VALIDATION_FAILED" and nothing_yet["data"] is None

    oversized = b"%PDF-1.4 " + b"x" * 20  # 29 bytes, 10 declared
    async with httpx.AsyncClient(timeout=60) as client:
        refused = await client.put(small["data"]["parts"][0]["url"], content=oversized)
    assert refused.status_code == 403, "the part URL signs the part's size"
    # with the bucket's own credentials the part goes in; completion still refuses it
    direct = make_client(settings_for(CommonSettings))
    direct.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=oversized)
    too_big = await complete(gateway, key, upload_id)
    assert too_big["error"]["code"] == "VALIDATION_FAILED"
    assert too_big["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    assert await store.head(key) is None, "the oversized object is removed"

    unknown = await complete(gateway, key, "no-such-upload")
    assert unknown["error"]["code"] == "NOT_FOUND"
    bad_key = await complete(gateway, "not/a/key", upload_id)
    assert bad_key["error"]["code"] == "VALIDATION_FAILED"

    too_many_parts = await start(gateway, "x.bin", "application/octet-stream", 2 * MIN_PART_SIZE - 1, 3)
    assert too_many_parts["error"]["data"]["invalidFields"]["numberOfParts"]["data"]["max"] == 2
    too_large = await start(gateway, "x.bin", "application/octet-stream", 51 * 1024**2, 5)
    assert too_large["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    forbidden = await start(gateway, "x.bin", "application/octet-stream", 10, 1, scope="files:read")
    assert forbidden["error"]["code"] == "FORBIDDEN"


async def test_one_part_right_size(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    created = await start(gateway, "notes.txt", "text/plain", 11, 1)
    await put_parts(created["data"], [b"hello world"])
    done = await complete(gateway, created["data"]["file"]["key"], created["data"]["uploadId"])
    assert done["file"]["size"] == 11 and done["file"]["type"] == "text/plain"
