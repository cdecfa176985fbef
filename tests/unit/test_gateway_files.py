"""File records built from S3 objects, and the upload payload's shape."""

from __future__ import annotations

from datetime import UTC, datetime

from services.gateway.files import file_record, src_prefix, src_url, upload_payload
from services.gateway.uploads import UploadRequest
from shared.s3 import ObjectInfo

FILE_ID = "0123456789abcdef0123456789abcdef"


def test_src_is_the_url_quoted_download_url() -> None:
    assert (
        src_url(src_prefix("http://cdn.example/"), f"{FILE_ID}/my photo#1.jpg")
        == f"http://cdn.example/files/{FILE_ID}/my%20photo%231.jpg"
    )


def test_file_record_from_an_object() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    info = ObjectInfo(
        key=f"{FILE_ID}/a.png", size=5_000_000_000, etag="e", content_type="image/png", last_modified=moment
    )
    record = file_record(info, src_prefix("http://127.0.0.1:8001")).to_graphql()
    assert record == {
        "id": FILE_ID,
        "key": f"{FILE_ID}/a.png",
        "name": "a.png",
        "size": 5_000_000_000,
        "type": "image/png",
        "src": f"http://127.0.0.1:8001/files/{FILE_ID}/a.png",
        "tags": [],
        "meta": {},
        "createdOn": moment,
        "createdBy": None,
    }


def test_upload_payload_names_the_file_by_its_key_as_webiny_does() -> None:
    post = {"url": "http://s3/bucket", "fields": {"key": f"{FILE_ID}/a.png", "policy": "p"}}
    payload = upload_payload(FILE_ID, f"{FILE_ID}/a.png", UploadRequest("a.png", "image/png", 10), post)
    assert payload == {
        "data": {"url": "http://s3/bucket", "fields": {"key": f"{FILE_ID}/a.png", "policy": "p"}},
        "file": {
            "id": FILE_ID,
            "key": f"{FILE_ID}/a.png",
            "name": f"{FILE_ID}/a.png",
            "size": 10,
            "type": "image/png",
        },
    }
