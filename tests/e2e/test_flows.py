"""Flows A to D of the design through the five running services, as a client sees them."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import httpx
from PIL import Image

from devstack.photos import jpeg_bytes, png_bytes
from shared.keys import parse_original_key, variant_key, variant_prefix
from tests.e2e.conftest import PRESIGN_EXPIRES, Stack
from tests.support.images import huge_png_header
from tests.support.tokens import token

PAYLOAD = """
query Payload($data: PreSignedPostPayloadInput!) {
  fileManager {
    getPreSignedPostPayload(data: $data) {
      data { data file { id key name size type __typename } __typename }
      error { code message data __typename }
      __typename
    }
  }
}
"""
GET_FILE = """
query GetFile($id: ID!) {
  fileManager { getFile(id: $id) { data { id key name size type src } error { code message data } } }
}
"""
CREATE_FILE = """
mutation CreateFile($data: FileInput!) {
  fileManager { createFile(data: $data) { data { id key name size type } error { code message } } }
}
"""
DELETE_FILE = """
mutation DeleteFile($id: ID!) {
  fileManager { deleteFile(id: $id) { data error { code message } } }
}
"""
ALL = token("files:*")


def payload(stack: Stack, name: str, type_: str, size: int, *, tok: str = ALL) -> dict[str, Any]:
    resp = stack.graphql(PAYLOAD, {"data": {"name": name, "type": type_, "size": size}}, token=tok)
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()["data"]["fileManager"]["getPreSignedPostPayload"]
    return result


def post_form(form: dict[str, Any], content: bytes, filename: str = "upload.bin") -> httpx.Response:
    """POST the pre-signed form as Webiny's app does: every field in order, then ``file`` last."""
    fields = list(form["fields"].items())
    return httpx.post(form["url"], data=dict(fields), files={"file": (filename, content)}, timeout=30)


def upload(stack: Stack, name: str, type_: str, content: bytes) -> dict[str, Any]:
    """The admin app's upload: payload, form POST (only 204 is success), then createFile with the
    returned key as the name; returns the payload's file info."""
    result = payload(stack, name, type_, len(content))
    assert result["error"] is None, result
    resp = post_form(result["data"]["data"], content, name)
    assert resp.status_code == 204, resp.text
    file: dict[str, Any] = result["data"]["file"]
    data = {"key": file["key"], "name": file["name"], "size": file["size"], "type": file["type"], "tags": []}
    created = stack.graphql(CREATE_FILE, {"data": data}, token=ALL).json()["data"]["fileManager"]["createFile"]
    assert created["error"] is None and created["data"]["id"] == file["id"], created
    return file


def get_file(stack: Stack, file_id: str) -> dict[str, Any]:
    result: dict[str, Any] = stack.graphql(GET_FILE, {"id": file_id}, token=ALL).json()["data"]["fileManager"][
        "getFile"
    ]
    return result


def download(stack: Stack, key: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.download_url}/files/{key}", params=params, headers=headers, timeout=60)


def resize_rpcs(stack: Stack) -> float:
    """Resize RPCs the download service has sent so far, read from its Prometheus metrics."""
    text = httpx.get(f"{stack.download_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("download_resize_rpcs_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_jpeg_upload_download_resize_delete(stack: Stack) -> None:
    original = jpeg_bytes(1600, 1200, seed=7)
    file = upload(stack, "holiday photo.jpg", "image/jpeg", original)
    key = file["key"]
    assert key == f"{file['id']}/holiday photo.jpg" and file["size"] == len(original)

    # B: exact bytes and headers
    resp = download(stack, key)
    assert resp.status_code == 200
    assert resp.content == original
    assert resp.headers["content-type"] == "image/jpeg"
    assert int(resp.headers["content-length"]) == len(original)
    assert resp.headers["etag"].strip('"')

    # getFile answers for the uploaded file
    got = stack.graphql(GET_FILE, {"id": file["id"]}, token=ALL).json()["data"]["fileManager"]["getFile"]
    assert got["error"] is None and got["data"]["key"] == key and got["data"]["size"] == len(original)
    assert got["data"]["src"].endswith("/files/" + key.replace(" ", "%20"))

    # C: 282 snaps to 300, made by a worker, stored under variants/{id}/
    before = resize_rpcs(stack)
    resp = download(stack, key, width=282)
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    assert img.format == "JPEG" and img.size == (300, 225)
    variants = stack.object_keys(variant_prefix(file["id"]))
    assert variants == [str(variant_key(parse_original_key(key), 300, "jpg"))]
    assert resize_rpcs(stack) == before + 1

    # the second request is served from S3 without a new resize
    again = download(stack, key, width=300)
    assert again.status_code == 200 and again.content == resp.content
    assert resize_rpcs(stack) == before + 1

    assert download(stack, key, width="abc").status_code == 400

    # D: delete the original; the event chain removes every variant
    download(stack, key, width=1000)
    assert len(stack.object_keys(variant_prefix(file["id"]))) == 2
    deleted = stack.graphql(DELETE_FILE, {"id": file["id"]}, token=ALL).json()
    assert deleted["data"]["fileManager"]["deleteFile"] == {"data": True, "error": None}
    stack.eventually(
        lambda: stack.object_keys(variant_prefix(file["id"])),
        until=lambda keys: keys == [],
        what="the variants to be deleted",
    )
    assert stack.object_keys(file["id"] + "/") == []
    gone = download(stack, key)
    assert gone.status_code == 404 and gone.headers["cache-control"] == "no-store"
    assert download(stack, key, width=300).status_code == 404


def test_an_upload_without_create_file_is_confirmed_by_the_object_stores_event(stack: Stack) -> None:
    """The catalog learns of the upload from S3's own event (bridge -> files.events -> catalog)."""
    content = b"%PDF-1.4 confirmed by the event"
    result = payload(stack, "event.pdf", "application/pdf", 1000)
    file = result["data"]["file"]
    assert get_file(stack, file["id"])["error"]["code"] == "NOT_FOUND", "pending until the upload"
    assert post_form(result["data"]["data"], content).status_code == 204
    confirmed = stack.eventually(lambda: get_file(stack, file["id"])["data"], what="the upload to be confirmed")
    assert confirmed["size"] == len(content), "the size S3 reports, not the declared 1000"
    assert confirmed["name"] == "event.pdf"

    # removed behind the API's back: the object.removed event takes the record away
    stack.s3.delete_object(Bucket=stack.bucket, Key=file["key"])
    gone = stack.eventually(lambda: get_file(stack, file["id"])["error"], what="the record to go")
    assert gone["code"] == "NOT_FOUND", stack.logs()


def test_content_that_contradicts_its_type_is_rejected_with_a_readable_reason(stack: Stack) -> None:
    """An HTML page uploaded as image/png: the catalog checks the first bytes when S3's event
    arrives, deletes the object, and the API says why the file is gone."""
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    result = payload(stack, "innocent.png", "image/png", len(page))
    file = result["data"]["file"]
    assert post_form(result["data"]["data"], page).status_code == 204

    def rejected() -> dict[str, Any]:
        error: dict[str, Any] = get_file(stack, file["id"])["error"] or {}
        return error if (error.get("data") or {}).get("status") == "rejected" else {}

    error = stack.eventually(rejected, what="the upload to be rejected")
    assert error["code"] == "NOT_FOUND" and "image/png" in error["message"]
    assert stack.object_keys(file["id"] + "/") == [], "the object is deleted"
    data = {"key": file["key"], "name": file["name"], "size": file["size"], "type": file["type"]}
    created = stack.graphql(CREATE_FILE, {"data": data}, token=ALL).json()["data"]["fileManager"]["createFile"]
    assert created["data"] is None and created["error"]["code"] == "VALIDATION_FAILED"
    assert created["error"]["message"] == error["message"]


def test_png_keeps_alpha(stack: Stack) -> None:
    original = png_bytes(900, 600)
    file = upload(stack, "logo.png", "image/png", original)
    resp = download(stack, file["key"], width=282)
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    assert img.format == "PNG" and img.size == (300, 200) and img.mode == "RGBA"
    assert resp.headers["content-type"] == "image/png"


def test_never_upscale(stack: Stack) -> None:
    file = upload(stack, "small.jpg", "image/jpeg", jpeg_bytes(120, 80))
    resp = download(stack, file["key"], width=2500)
    assert resp.status_code == 200
    assert Image.open(io.BytesIO(resp.content)).size == (120, 80)


def test_object_store_refuses_what_the_policy_does_not_allow(stack: Stack) -> None:
    content = jpeg_bytes(64, 64)
    form = payload(stack, "a.jpg", "image/jpeg", len(content))["data"]["data"]
    assert post_form(form, content + b"extra").status_code in (400, 403)  # bigger than declared
    retyped = {**form, "fields": {**form["fields"], "Content-Type": "text/html"}}
    assert post_form(retyped, content).status_code == 403  # another type
    expired = payload(stack, "b.jpg", "image/jpeg", len(content))["data"]["data"]
    time.sleep(PRESIGN_EXPIRES + 1.5)
    assert post_form(expired, content).status_code == 403  # expired policy
    assert not [k for k in stack.object_keys() if k.endswith(("/a.jpg", "/b.jpg"))]


def test_auth(stack: Stack) -> None:
    query = "{ fileManager { getSettings { data { uploadMaxFileSize } error { code } } } }"
    assert stack.graphql(query, token=None).status_code == 401
    assert stack.graphql(query, token=token(secret="not-the-secret")).status_code == 401
    assert stack.graphql(query, token=token(ttl=-120)).status_code == 401

    reader = token("files:read")
    denied = payload(stack, "x.jpg", "image/jpeg", 10, tok=reader)
    assert denied["data"] is None and denied["error"]["code"] == "FORBIDDEN"

    file = upload(stack, "keep.txt", "text/plain", b"hello")
    writer = token("files:read files:write")
    resp = stack.graphql(DELETE_FILE, {"id": file["id"]}, token=writer).json()
    assert resp["data"]["fileManager"]["deleteFile"]["error"]["code"] == "FORBIDDEN"
    assert download(stack, file["key"]).content == b"hello"


def test_bad_images_get_clear_errors_and_the_worker_survives(stack: Stack) -> None:
    corrupt = upload(stack, "broken.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 50)
    started = time.monotonic()
    resp = download(stack, corrupt["key"], width=300)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "NOT_AN_IMAGE"
    assert time.monotonic() - started < 5

    bomb = upload(stack, "bomb.png", "image/png", huge_png_header())
    resp = download(stack, bomb["key"], width=300)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "TOO_MANY_PIXELS"

    # the worker is still alive and serving
    good = upload(stack, "fine.jpg", "image/jpeg", jpeg_bytes(800, 600))
    resp = download(stack, good["key"], width=500)
    assert resp.status_code == 200 and Image.open(io.BytesIO(resp.content)).size == (500, 375)
    assert stack.services["resize"].alive()


def test_non_images_ignore_width(stack: Stack) -> None:
    file = upload(stack, "notes.pdf", "application/pdf", b"%PDF-1.4 not much here")
    resp = download(stack, file["key"], width=300)
    assert resp.status_code == 200 and resp.content == b"%PDF-1.4 not much here"


def test_every_service_stops_cleanly_on_sigterm(own_stack: Stack) -> None:
    """SIGTERM makes each process finish its work and exit 0 (on a stack of its own, so that the
    one the other tests share stays up)."""
    file = upload(own_stack, "last.jpg", "image/jpeg", jpeg_bytes(800, 600))
    assert download(own_stack, file["key"], width=300).status_code == 200
    codes = {name: svc.stop() for name, svc in own_stack.services.items()}
    assert codes == dict.fromkeys(own_stack.services, 0), own_stack.logs()


def logged(stack: Stack, name: str) -> list[dict[str, Any]]:
    """What a service has logged so far, one JSON object a line (a line being written is waited for)."""
    path = stack.services[name].log_path
    assert path is not None
    text = stack.eventually(path.read_text, until=lambda t: t.endswith("\n"), what=f"{name}'s log to end a line")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_every_service_logs_json_lines_with_correlation_ids(stack: Stack) -> None:
    trace_id = f"e2e-trace-{uuid.uuid4().hex}"
    file = upload(stack, "traced.png", "image/png", png_bytes(900, 600))  # the bridge publishes its object.created
    resp = download(stack, file["key"], headers={"x-correlation-id": trace_id}, width=282)
    assert resp.status_code == 200, resp.text
    deleted = stack.graphql(DELETE_FILE, {"id": file["id"]}, token=ALL).json()  # cleanup handles its object.removed
    assert deleted["data"]["fileManager"]["deleteFile"] == {"data": True, "error": None}

    def without_their_ids() -> list[str]:
        """download and resize: the id of this one request, carried over AMQP to the worker."""
        missing = []
        for name in ("download", "resize", "cleanup", "bridge"):
            ids = {r["correlation_id"] for r in logged(stack, name) if "correlation_id" in r}
            if not ids or (name in ("download", "resize") and trace_id not in ids):
                missing.append(name)
        return missing

    stack.eventually(without_their_ids, until=lambda names: not names, what="correlation ids in the logs")
    for name in stack.services:
        records = logged(stack, name)
        assert records and all(r["service"] == name and "event" in r and "level" in r for r in records)
