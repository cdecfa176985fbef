"""Multipart uploads whose S3 calls the client sends itself, each signed by the gateway (what Uppy 6's
AWS S3 plugin does with ``signRequest``), against the real SeaweedFS and catalog: the whole flow,
resume by listing parts, cancel, and every refusal."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.gateway.uploads import MIN_PART_SIZE
from shared.s3 import ObjectStore
from tests.support.gateway import CREATE, GET, Gateway, Start, start_gateway

__all__ = ["start_gateway"]

SIGNED = "method url headers size"
SIGN_CREATE = """
mutation ($data: PreSignedPostPayloadInput!) { fileManager { signCreateMultiPartUpload(data: $data) {
  data { request { method url headers } file { id key name size type } partSize numberOfParts }
  error { code message data } } } }"""
SIGN_PART = f"""
mutation ($k: String!, $u: String!, $n: Int!) {{ fileManager {{
  signUploadPart(fileKey: $k, uploadId: $u, partNumber: $n) {{
  data {{ {SIGNED} }} error {{ code message data }} }} }} }}"""
SIGN_LIST = f"""
mutation ($k: String!, $u: String!) {{ fileManager {{ signListParts(fileKey: $k, uploadId: $u) {{
  data {{ {SIGNED} }} error {{ code message data }} }} }} }}"""
SIGN_COMPLETE = f"""
mutation ($k: String!, $u: String!) {{ fileManager {{ signCompleteMultiPartUpload(fileKey: $k, uploadId: $u) {{
  data {{ {SIGNED} }} error {{ code message data }} }} }} }}"""
ABORT = f"""
mutation ($k: String!, $u: String!) {{ fileManager {{ abortMultiPartUpload(fileKey: $k, uploadId: $u) {{
  data {{ {SIGNED} }} error {{ code message data }} }} }} }}"""


async def sign_create(gateway: Gateway, name: str, mime: str, size: int, **kw: Any) -> dict[str, Any]:
    variables = {"data": {"name": name, "type": mime, "size": size}}
    result: dict[str, Any] = (await gateway.gql(SIGN_CREATE, variables, **kw))["signCreateMultiPartUpload"]
    return result


async def sign(gateway: Gateway, query: str, field: str, key: str, upload_id: str, **kw: Any) -> dict[str, Any]:
    part = kw.pop("n", None)
    variables: dict[str, Any] = {"k": key, "u": upload_id, **({"n": part} if part is not None else {})}
    result: dict[str, Any] = (await gateway.gql(query, variables, **kw))[field]
    return result


async def send(signed: dict[str, Any], content: bytes | None = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.request(
            signed["method"], signed["url"], headers={**signed["headers"], **headers}, content=content
        )


def xml_values(body: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>([^<]*)</{tag}>", body)


async def start_upload(gateway: Gateway, name: str, mime: str, size: int, **kw: Any) -> tuple[dict[str, Any], str]:
    created = await sign_create(gateway, name, mime, size, **kw)
    assert created["error"] is None, created
    response = await send(created["data"]["request"])
    assert response.status_code == 200, response.text
    (upload_id,) = xml_values(response.text, "UploadId")
    return created["data"], upload_id


async def complete_xml(gateway: Gateway, key: str, upload_id: str, **kw: Any) -> httpx.Response:
    listing = await sign(gateway, SIGN_LIST, "signListParts", key, upload_id, **kw)
    assert listing["error"] is None, listing
    listed = await send(listing["data"])
    assert listed.status_code == 200, listed.text
    numbers, etags = xml_values(listed.text, "PartNumber"), xml_values(listed.text, "ETag")
    parts = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in zip(numbers, etags, strict=True)
    )
    done = await sign(gateway, SIGN_COMPLETE, "signCompleteMultiPartUpload", key, upload_id, **kw)
    assert done["error"] is None, done
    return await send(
        done["data"],
        f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode(),
        **{"content-type": "application/xml"},
    )


async def test_every_call_signed_one_at_a_time(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway()
    content = bytes(range(256)) * (MIN_PART_SIZE // 256) + b"tail" * 1000
    upload, upload_id = await start_upload(gateway, "clip.mp4", "video/mp4", len(content), sub="uploader")
    key = upload["file"]["key"]
    assert upload["partSize"] == MIN_PART_SIZE and upload["numberOfParts"] == 2
    assert upload["request"]["method"] == "POST"
    assert upload["request"]["headers"]["Content-Type"] == "video/mp4"
    assert upload["request"]["headers"]["x-amz-meta-declared-size"] == str(len(content))

    first = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=1, sub="uploader")
    assert first["error"] is None and first["data"]["size"] == MIN_PART_SIZE and first["data"]["method"] == "PUT"
    assert (await send(first["data"], content[:MIN_PART_SIZE])).status_code == 200

    # resume: the parts S3 has so far, listed through a signed ListParts
    listing = await sign(gateway, SIGN_LIST, "signListParts", key, upload_id, sub="uploader")
    listed = await send(listing["data"])
    assert listed.status_code == 200 and xml_values(listed.text, "PartNumber") == ["1"]

    second = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=2, sub="uploader")
    assert second["data"]["size"] == len(content) - MIN_PART_SIZE
    assert (await send(second["data"], content[MIN_PART_SIZE:])).status_code == 200
    completed = await complete_xml(gateway, key, upload_id, sub="uploader")
    assert completed.status_code == 200, completed.text

    head = await store.head(key)
    assert head is not None and head.size == len(content) and head.content_type == "video/mp4"
    assert head.metadata["created-by"] == "uploader"
    created = await gateway.gql(CREATE, {"data": {"key": key, "name": "clip.mp4", "tags": ["film"]}}, sub="uploader")
    record = created["createFile"]["data"]
    assert (record["name"], record["size"], record["type"], record["tags"]) == (
        "clip.mp4",
        len(content),
        "video/mp4",
        ["film"],
    )
    assert record["createdBy"]["id"] == "uploader"
    assert (await gateway.gql(GET, {"id": record["id"]}, sub="uploader"))["getFile"]["data"]["size"] == len(content)
    _, stored = await store.get_bytes(key)
    assert stored == content

    after = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=1, sub="uploader")
    assert after["error"]["code"] == "NOT_FOUND", "a registered upload signs nothing more"


async def test_parts_are_signed_with_their_size_and_number(start_gateway: Start) -> None:
    gateway = await start_gateway()
    size = MIN_PART_SIZE + 10
    upload, upload_id = await start_upload(gateway, "x.bin", "application/octet-stream", size)
    key = upload["file"]["key"]

    last = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=2)
    assert last["data"]["size"] == 10
    refused = await send(last["data"], b"y" * 11)
    assert refused.status_code == 403, "S3 refuses a part of another size than signed"
    for number in (0, 3):
        outside = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=number)
        assert outside["error"]["code"] == "VALIDATION_FAILED"
        assert outside["error"]["data"]["invalidFields"]["partNumber"]["data"] == {"min": 1, "max": 2}

    nothing = await sign(gateway, SIGN_COMPLETE, "signCompleteMultiPartUpload", key, upload_id)
    assert nothing["error"]["code"] == "VALIDATION_FAILED", "no part yet"


async def test_one_upload_per_record_and_only_the_owners(start_gateway: Start) -> None:
    gateway = await start_gateway()
    upload, upload_id = await start_upload(gateway, "a.txt", "text/plain", 5, sub="alice")
    key = upload["file"]["key"]

    other_user = await sign(
        gateway, SIGN_PART, "signUploadPart", key, upload_id, n=1, sub="bob", scope="files:write:own"
    )
    assert other_user["error"]["code"] == "NOT_FOUND"
    bogus = await sign(gateway, SIGN_PART, "signUploadPart", key, "no-such-upload", n=1, sub="alice")
    assert bogus["error"]["code"] == "NOT_FOUND", "S3 does not know that upload"
    mine = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=1, sub="alice")
    assert mine["error"] is None

    # a second upload created with the same signed URL is never signed for: the first one is bound
    again = await send(upload["request"])
    (second_id,) = xml_values(again.text, "UploadId")
    stray = await sign(gateway, SIGN_PART, "signUploadPart", key, second_id, n=1, sub="alice")
    assert stray["error"]["code"] == "NOT_FOUND"

    read_only = await sign_create(gateway, "b.txt", "text/plain", 5, scope="files:read")
    assert read_only["error"]["code"] == "FORBIDDEN"
    unknown_key = await sign(gateway, SIGN_PART, "signUploadPart", "0" * 32 + "/x.txt", upload_id, n=1)
    assert unknown_key["error"]["code"] in ("NOT_FOUND", "VALIDATION_FAILED")
    bad_key = await sign(gateway, SIGN_PART, "signUploadPart", "not a key", upload_id, n=1)
    assert bad_key["error"]["code"] == "VALIDATION_FAILED"


async def test_the_limits_of_the_other_uploads(start_gateway: Start) -> None:
    gateway = await start_gateway(
        upload_max_size=50 * 1024**2,
        allowed_types="image/*,video/*",
        max_pending_uploads_per_user=2,
        max_uploads_per_request=1,
    )
    too_big = await sign_create(gateway, "big.mp4", "video/mp4", 51 * 1024**2)
    assert too_big["error"]["code"] == "VALIDATION_FAILED"
    assert too_big["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    wrong_type = await sign_create(gateway, "x.exe", "application/x-msdownload", 10)
    assert wrong_type["error"]["data"]["invalidFields"]["type"]["code"] == "NOT_ALLOWED"

    two = """mutation ($d: PreSignedPostPayloadInput!) { fileManager {
      a: signCreateMultiPartUpload(data: $d) { error { code data } }
      b: signCreateMultiPartUpload(data: $d) { error { code data } } } }"""
    both = await gateway.gql(two, {"d": {"name": "p.png", "type": "image/png", "size": 10}})
    assert both["a"]["error"] is None
    assert both["b"]["error"]["code"] == "LIMIT_EXCEEDED" and both["b"]["error"]["data"]["limit"] == "uploadsPerRequest"

    assert (await sign_create(gateway, "q.png", "image/png", 10))["error"] is None
    third = await sign_create(gateway, "r.png", "image/png", 10)
    assert third["error"]["code"] == "LIMIT_EXCEEDED"
    assert third["error"]["data"]["limit"] == "pendingUploadsPerUser"


async def test_cancel_aborts_and_frees_the_pending_slot(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway(max_pending_uploads_per_user=1)
    upload, upload_id = await start_upload(gateway, "v.mp4", "video/mp4", MIN_PART_SIZE + 1)
    key = upload["file"]["key"]
    part = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=1)
    assert (await send(part["data"], b"z" * MIN_PART_SIZE)).status_code == 200
    assert (await sign_create(gateway, "w.mp4", "video/mp4", 10))["error"]["code"] == "LIMIT_EXCEEDED"

    aborted = await sign(gateway, ABORT, "abortMultiPartUpload", key, upload_id)
    assert aborted["error"] is None and aborted["data"]["method"] == "DELETE"
    assert (await send(aborted["data"])).status_code in (204, 404), "a no-op once the gateway aborted it"
    assert await store.list_keys(upload["file"]["id"]) == []
    gone = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=2)
    assert gone["error"]["code"] == "NOT_FOUND"
    assert (await sign_create(gateway, "w.mp4", "video/mp4", 10))["error"] is None, "the slot is free again"


async def test_completion_refused_above_the_limits(start_gateway: Start, store: ObjectStore) -> None:
    gateway = await start_gateway(upload_max_size=20 * 1024**2)
    upload, upload_id = await start_upload(gateway, "m.bin", "application/octet-stream", 2 * MIN_PART_SIZE)
    key = upload["file"]["key"]
    for number in (1, 2):
        part = await sign(gateway, SIGN_PART, "signUploadPart", key, upload_id, n=number)
        assert (await send(part["data"], b"q" * MIN_PART_SIZE)).status_code == 200
    # the administrator lowers the limit meanwhile: completion is refused and the upload aborted
    lowered = """mutation { fileManager { updateSettings(data: {uploadMaxFileSize: 6291456}) { error { code } } } }"""
    assert (await gateway.gql(lowered, scope="files:* files:settings"))["updateSettings"]["error"] is None
    refused = await sign(gateway, SIGN_COMPLETE, "signCompleteMultiPartUpload", key, upload_id)
    assert refused["error"]["code"] == "VALIDATION_FAILED"
    assert refused["error"]["data"]["invalidFields"]["size"]["code"] == "TOO_LARGE"
    again = await sign(gateway, SIGN_LIST, "signListParts", key, upload_id)
    assert again["error"]["code"] == "NOT_FOUND", "the upload was aborted and forgotten"
    assert await store.head(key) is None
