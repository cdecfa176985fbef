"""The client against the five running services: uploads by form and in parts, listing with the
API's filters, URLs of widths, updates, deletes, every refusal as its exception, and retries."""

from __future__ import annotations

import io
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fileservice import (
    NO_RETRY,
    AsyncClient,
    Client,
    ConnectionFailed,
    FileServiceError,
    Forbidden,
    InvalidFormat,
    InvalidWidth,
    LimitExceeded,
    NotAnImage,
    NotFound,
    PayloadTooLarge,
    QueryRefused,
    ResizeBusy,
    ResizeTimeout,
    RetryPolicy,
    SourceTooLarge,
    StorageRefused,
    TooManyPixels,
    TooManyScans,
    Unauthorized,
    ValidationFailed,
)
from fileservice import _wire as wire
from PIL import Image

from devstack.photos import jpeg_bytes, png_bytes
from devstack.ports import free_port
from devstack.stack import RunningStack
from tests.client.conftest import MAX_PENDING, MAX_SOURCE_BYTES, RESIZE_TIMEOUT
from tests.support.images import huge_png_header
from tests.support.tokens import token

MiB = 1024**2


class Recorder:
    """The HTTP requests a client made, by method and host (to tell a form POST from part PUTs)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, response: httpx.Response) -> None:
        self.calls.append((response.request.method, response.request.url.path, response.status_code))

    def count(self, method: str, status: int | None = None) -> int:
        return sum(1 for m, _, s in self.calls if m == method and (status is None or s == status))


def recording_client(stack: RunningStack, user: str, **kw: Any) -> tuple[Client, Recorder]:
    recorder = Recorder()
    http = httpx.Client(timeout=60, event_hooks={"response": [recorder]})
    scope = "files:read:own files:write:own files:delete:own"
    return Client(stack.gateway_url, token(scope, sub=user), http=http, **kw), recorder


def test_a_small_upload_goes_in_one_form_and_comes_back(client_stack: RunningStack, user: str) -> None:
    client, calls = recording_client(client_stack, user)
    original = jpeg_bytes(1600, 1200, seed=11)
    seen: list[tuple[int, int]] = []
    file = client.upload(
        original, name="beach day.jpg", tags=["Holiday", "beach"], progress=lambda d, t: seen.append((d, t))
    )

    assert (file.name, file.size, file.type, file.tags) == (
        "beach day.jpg",
        len(original),
        "image/jpeg",
        ("holiday", "beach"),
    )
    assert file.key == f"{file.id}/beach day.jpg" and file.created_by == user
    assert file.src == f"{client_stack.download_url}/files/{file.id}/beach%20day.jpg"
    assert seen[-1] == (len(original), len(original)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert calls.count("PUT") == 0 and calls.count("POST", 204) == 1, "one form POST to S3"
    assert client.get(file.id) == file
    assert client.download(file) == original

    # a width is snapped as the service snaps it: 282 asks for the 300-px variant
    assert client.url(file, width=282) == file.src + "?width=300"
    assert client.url(file.key, width=282) == file.src + "?width=300", "by key"
    assert client.url(file.id, width=3000, format="webp") == file.src + "?width=2500&format=webp", "by id"
    variant = client.download(file, width=282)
    assert isinstance(variant, bytes)
    assert Image.open(io.BytesIO(variant)).size == (300, 225)


def test_a_path_is_read_from_disk_with_its_type_guessed(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "notes d'été.txt"
    path.write_text("hello from a file on disk\n")
    file = client.upload(path)
    assert (file.name, file.type, file.size) == ("notes d'été.txt", "text/plain", path.stat().st_size)
    assert client.url(file.key) == file.src and client.download(file.src) == path.read_bytes()
    target = client.download(file, tmp_path / "back.txt")
    assert target == tmp_path / "back.txt" and target.read_bytes() == path.read_bytes()


def test_a_big_upload_goes_in_parts_cut_where_the_gateway_signs(
    client_stack: RunningStack, user: str, tmp_path: Path
) -> None:
    client, calls = recording_client(client_stack, user, multipart_threshold=6 * MiB, part_size=5 * MiB, concurrency=2)
    content = uuid.uuid4().bytes * (12 * MiB // 16) + b"the tail"
    path = tmp_path / "video.mp4"
    path.write_bytes(content)
    seen: list[int] = []
    file = client.upload(path, tags=["clip"], progress=lambda d, t: seen.append(d))

    assert calls.count("PUT", 200) == 3 and calls.count("PUT") == 3, "5 + 5 + 2 MiB, each accepted first time"
    assert (file.name, file.size, file.type, file.tags) == ("video.mp4", len(content), "video/mp4", ("clip",))
    assert max(seen) == len(content)
    assert client.download(file) == content, "joined in order (a redirect to S3 past 6 MiB)"


async def test_the_async_client_uploads_lists_and_deletes(client_stack: RunningStack, user: str) -> None:
    scope = "files:read:own files:write:own files:delete:own"
    async with AsyncClient(client_stack.gateway_url, token(scope, sub=user), multipart_threshold=5 * MiB) as client:
        small = await client.upload(png_bytes(400, 300), name="logo.png", tags="brand")
        big_content = bytes(range(256)) * (11 * MiB // 256)
        big = await client.upload(big_content, name="archive.bin")
        assert (small.type, small.tags, big.size, big.type) == (
            "image/png",
            ("brand",),
            len(big_content),
            "application/octet-stream",
        )
        assert await client.download(big) == big_content
        pages = [page async for page in client.list(limit=1)]
        assert [f.id for page in pages for f in page] == [big.id, small.id], "newest first, one per page"
        assert [f.id async for f in client.files(tags=["brand"])] == [small.id]
        assert client.url(small, width=120) == small.src + "?width=300"
        assert await client.url_of(small.key) == small.src
        updated = await client.update(small, tags=["brand", "v2"])
        assert updated.tags == ("brand", "v2")
        assert await client.delete(big) is True
        with pytest.raises(NotFound):
            await client.get(big.id)


def test_list_pages_with_the_apis_filters(client: Client) -> None:
    a = client.upload(jpeg_bytes(200, 100, seed=1), name="red apple.jpg", tags=["fruit", "red"])
    b = client.upload(png_bytes(200, 100), name="green apple.png", tags=["fruit", "green"])
    c = client.upload(b"%PDF-1.4 a report", name="report.pdf", tags=["docs"])

    pages = list(client.list(limit=2))
    assert [len(p) for p in pages] == [2, 1] and pages[0].has_more and not pages[-1].has_more
    assert pages[0].total_count == 3 and pages[-1].cursor is None
    assert [f.id for p in pages for f in p] == [c.id, b.id, a.id], "newest first"

    def ids(**filters: Any) -> list[str]:
        return [f.id for f in client.files(**filters)]

    assert ids(search="APPLE") == [b.id, a.id]
    assert ids(types=["image/*"]) == [b.id, a.id]
    assert ids(types="application/pdf") == [c.id]
    assert ids(tags=["fruit", "red"]) == [a.id]
    assert ids(where={"tag_in": ["green", "docs"]}) == [c.id, b.id]
    assert ids(where={"tag_startsWith": "gr"}) == [b.id]
    assert ids(ids=[a.id, c.id]) == [c.id, a.id]
    assert ids(search="apple", max_items=1) == [b.id]
    assert ids(search="no such thing") == []


def test_update_and_delete(client: Client) -> None:
    file = client.upload(b"some notes", name="notes.txt", tags=["draft"])
    renamed = client.update(file, name="final notes.txt", tags=["Final", "final", "shared"], meta={"lang": "en"})
    assert (renamed.name, renamed.tags, renamed.meta) == ("final notes.txt", ("final", "shared"), {"lang": "en"})
    assert renamed.key == file.key, "the key never changes"
    assert client.delete(file.id) is True
    with pytest.raises(NotFound) as caught:
        client.get(file.id)
    assert caught.value.code == "NOT_FOUND"
    with pytest.raises(NotFound):
        client.download(file)
    with pytest.raises(NotFound):
        client.delete(file.id)


def test_each_refusal_of_the_api_is_its_exception(client_stack: RunningStack, client: Client, user: str) -> None:
    with Client(client_stack.gateway_url, "not-a-token") as anonymous, pytest.raises(Unauthorized) as caught:
        anonymous.get("0" * 32)
    assert caught.value.status == 401
    with Client(client_stack.gateway_url, token("files:read", sub=user)) as reader, pytest.raises(Forbidden):
        reader.upload(b"x", name="x.txt")
    with pytest.raises(NotFound):
        client.get(uuid.uuid4().hex)
    with Client(f"http://127.0.0.1:{free_port()}", "t", retry=NO_RETRY) as nowhere, pytest.raises(ConnectionFailed):
        nowhere.get("0" * 32)

    with pytest.raises(ValidationFailed) as invalid:
        client.upload(b"", name="empty.txt")
    assert invalid.value.data is not None and invalid.value.data["invalidFields"]["size"]["code"] == "TOO_SMALL"
    file = client.upload(b"text", name="t.txt")
    with pytest.raises(ValidationFailed) as too_many:
        client.update(file, tags=[f"t{i}" for i in range(16)])
    assert too_many.value.data is not None and too_many.value.data["invalidFields"]["tags"]["code"] == "TOO_MANY"
    with pytest.raises(PayloadTooLarge):
        client.update(file, meta={"blob": "x" * (1024 * 1024 + 1)})
    with pytest.raises(QueryRefused) as refused:
        client._graphql("getFile", "query { fileManager { nope } }", {})
    assert refused.value.code == "GRAPHQL_VALIDATION_FAILED"
    assert not any(isinstance(e, FileServiceError) and e.retryable for e in (invalid.value, too_many.value))


def test_the_pending_upload_limit_is_limit_exceeded(client_stack: RunningStack, client: Client, user: str) -> None:
    """Uploads asked for and never made count against the user; the next one is refused."""
    scope = "files:read:own files:write:own files:delete:own"
    for n in range(MAX_PENDING):
        answer = httpx.post(
            f"{client_stack.gateway_url}/graphql",
            json=wire.graphql_body(wire.PAYLOAD, {"data": {"name": f"{n}.txt", "type": "text/plain", "size": 10}}),
            headers={"Authorization": f"Bearer {token(scope, sub=user)}"},
            timeout=30,
        )
        assert answer.json()["data"]["fileManager"]["getPreSignedPostPayload"]["error"] is None
    with pytest.raises(LimitExceeded) as caught:
        client.upload(b"one more", name="more.txt")
    assert caught.value.data is not None and caught.value.data["limit"] == "pendingUploadsPerUser"


def test_the_object_stores_own_refusal_is_storage_refused(client_stack: RunningStack, user: str) -> None:
    """A form posted with more bytes than it was signed for: SeaweedFS's XML error, as the client reads it."""
    scope = "files:write"
    answer = httpx.post(
        f"{client_stack.gateway_url}/graphql",
        json=wire.graphql_body(wire.PAYLOAD, {"data": {"name": "a.txt", "type": "text/plain", "size": 4}}),
        headers={"Authorization": f"Bearer {token(scope, sub=user)}"},
        timeout=30,
    )
    form = answer.json()["data"]["fileManager"]["getPreSignedPostPayload"]["data"]["data"]
    posted = httpx.post(form["url"], data=form["fields"], files={"file": ("a.txt", b"far too many bytes")}, timeout=30)
    refused = wire.storage_error(posted)
    assert isinstance(refused, StorageRefused) and posted.status_code in (400, 403), posted.text
    assert refused.s3_code and not refused.retryable


def test_each_refusal_of_the_download_service_is_its_exception(client: Client) -> None:
    photo = client.upload(jpeg_bytes(400, 300, seed=2), name="p.jpg")
    with pytest.raises(InvalidWidth) as bad_width:
        client.download(photo.src + "?width=abc")
    assert bad_width.value.status == 400, "the service's own refusal"
    with pytest.raises(InvalidWidth):
        client.url(photo, width=0)
    with pytest.raises(InvalidFormat):
        client.download(photo.src + "?format=gif")

    fake = client.upload(b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"not a picture at all", name="fake.jpg")
    with pytest.raises(NotAnImage) as not_image:
        client.download(fake, width=100)
    assert not_image.value.status == 422
    huge = client.upload(huge_png_header(), name="huge.png")
    with pytest.raises(TooManyPixels):
        client.download(huge, width=100)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "JPEG", progressive=True)
    progressive = client.upload(buf.getvalue(), name="progressive.jpg")
    with pytest.raises(TooManyScans):
        client.download(progressive, width=100)
    padded = jpeg_bytes(200, 100, seed=3) + b"\x00" * MAX_SOURCE_BYTES
    big = client.upload(padded, name="padded.jpg")
    with pytest.raises(SourceTooLarge):
        client.download(big, width=100)


def test_a_retryable_error_is_retried(client_stack: RunningStack, user: str) -> None:
    """With the resize workers stopped the download service answers 503 RESIZE_TIMEOUT (or RESIZE_BUSY
    when the queue is full) with Retry-After: a client without retries sees ResizeTimeout and
    ResizeBusy; one with retries waits and gets the variant once the workers are back."""
    client, _ = recording_client(client_stack, user, retry=NO_RETRY)
    file = client.upload(jpeg_bytes(1200, 800, seed=5), name="later.jpg")
    resize = client_stack.services["resize"]
    resize.stop()
    try:
        waiting: list[BaseException] = []

        def wait_for(width: int) -> None:
            try:
                client.download(file, width=width)
            except FileServiceError as error:
                waiting.append(error)

        # requests wait in the queue until they time out; once it is full the next one is refused at
        # once (here the quorum queue of max length 1 took a second message before it refused)
        threads = [threading.Thread(target=wait_for, args=(width,)) for width in (500, 750)]
        for thread in threads:
            thread.start()
            time.sleep(1)
        time.sleep(1)
        with pytest.raises(ResizeBusy) as busy:
            client.download(file, width=1000)
        assert busy.value.retryable and busy.value.retry_after == 2 and busy.value.status == 503
        for thread in threads:
            thread.join()
        assert len(waiting) == 2 and all(isinstance(e, ResizeTimeout) for e in waiting), waiting
        assert all(
            e.retryable and e.retry_after == 2 and e.status == 503 for e in waiting if isinstance(e, ResizeTimeout)
        )

        def restart() -> None:
            time.sleep(RESIZE_TIMEOUT + 2)  # the first patient attempt times out too
            resize.start()

        patient, patient_calls = recording_client(client_stack, user, retry=RetryPolicy(max_attempts=8))
        threading.Thread(target=restart, daemon=True).start()
        variant = patient.download(file, width=500)
    finally:
        if not resize.alive():
            resize.start()
    assert isinstance(variant, bytes) and Image.open(io.BytesIO(variant)).size == (500, 333)
    assert patient_calls.count("GET", 503) >= 1 and patient_calls.count("GET", 200) == 1, patient_calls.calls


def test_a_failed_upload_in_parts_is_aborted_and_frees_its_pending_slot(
    client_stack: RunningStack, user: str, tmp_path: Path
) -> None:
    """An upload in parts that fails half way (here its progress callback gives up) is aborted:
    the user's pending-upload slot is free again at once, not when the upload would expire."""
    client, _ = recording_client(client_stack, user, multipart_threshold=6 * MiB, part_size=5 * MiB, concurrency=1)
    path = tmp_path / "big.bin"
    path.write_bytes(uuid.uuid4().bytes * (11 * MiB // 16))

    def give_up(done: int, total: int) -> None:
        if done > 6 * MiB:
            raise RuntimeError("the user cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        client.upload(path, progress=give_up)

    scope = "files:read:own files:write:own files:delete:own"
    for n in range(MAX_PENDING):  # every slot is free: none is held by the failed upload
        answer = httpx.post(
            f"{client_stack.gateway_url}/graphql",
            json=wire.graphql_body(wire.PAYLOAD, {"data": {"name": f"{n}.txt", "type": "text/plain", "size": 10}}),
            headers={"Authorization": f"Bearer {token(scope, sub=user)}"},
            timeout=30,
        )
        assert answer.json()["data"]["fileManager"]["getPreSignedPostPayload"]["error"] is None, n
