"""What a client team copies: the file service started once for the test module, then a test that
uploads through a pre-signed POST, registers the file, downloads it and asks for a smaller width.

    pip install fileservice-testcontainers pytest pillow
    pytest examples/test_with_fileservice.py   # DOCKER_HOST, or a local Docker engine
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from fileservice_testcontainers import FileService
from PIL import Image


@pytest.fixture(scope="module")
def fileservice() -> Iterator[FileService]:
    with FileService() as fs:  # images from FILESERVICE_IMAGE, RABBITMQ_IMAGE, ... or upstream
        yield fs


def graphql(fs: FileService, query: str, variables: dict[str, object]) -> dict:
    resp = httpx.post(
        fs.graphql_url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {fs.token('files:*')}"},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()["data"]["fileManager"]


def test_upload_download_and_resize(fileservice: FileService) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 120, 40)).save(buffer, "JPEG")
    photo = buffer.getvalue()

    payload = graphql(
        fileservice,
        "query($d: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $d) {"
        " data { data file { id key } } error { code message } } } }",
        {"d": {"name": "photo.jpg", "type": "image/jpeg", "size": len(photo)}},
    )["getPreSignedPostPayload"]["data"]
    form, key = payload["data"], payload["file"]["key"]
    upload = httpx.post(form["url"], data=form["fields"], files={"file": ("photo.jpg", photo)}, timeout=30)
    assert upload.status_code == 204

    created = graphql(
        fileservice,
        "mutation($d: FileInput!) { fileManager { createFile(data: $d) { data { id src } error { code } } } }",
        {"d": {"key": key, "name": "photo.jpg", "tags": ["example"]}},
    )["createFile"]
    assert created["error"] is None

    original = httpx.get(f"{fileservice.download_url}/files/{key}", timeout=60)
    assert original.content == photo
    small = httpx.get(f"{fileservice.download_url}/files/{key}", params={"width": 300}, timeout=120)
    assert Image.open(io.BytesIO(small.content)).size == (300, 225)
