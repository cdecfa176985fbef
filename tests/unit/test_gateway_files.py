"""File records as GraphQL shows them, names, meta and updateFile's input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.catalog.model import FileRecord
from services.gateway.files import (
    MAX_META_BYTES,
    checked_meta,
    display_name,
    file_changes,
    parse_file_key,
    record_to_graphql,
    src_prefix,
    src_url,
)
from services.gateway.uploads import UploadRequest, upload_payload
from shared.errors import ValidationFailed
from shared.keys import OriginalKey, VariantKey

FILE_ID = "0123456789abcdef0123456789abcdef"
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


def record(**overrides: object) -> FileRecord:
    values: dict[str, object] = {
        "id": FILE_ID,
        "key": f"{FILE_ID}/a b.png",
        "name": "a b.png",
        "type": "image/png",
        "size": 5_000_000_000,
        "status": "ready",
        "tags": ("x", "y"),
        "meta": {"alt": "A"},
        "created_by": "alice",
        "created_by_name": "Alice",
        "created_on": MOMENT,
        "saved_on": MOMENT,
    }
    values.update(overrides)
    return FileRecord(**values)  # type: ignore[arg-type]


def test_src_is_the_url_quoted_download_url() -> None:
    assert (
        src_url(src_prefix("http://cdn.example/"), f"{FILE_ID}/my photo#1.jpg")
        == f"http://cdn.example/files/{FILE_ID}/my%20photo%231.jpg"
    )


def test_a_record_as_graphql() -> None:
    assert record_to_graphql(record(), "http://127.0.0.1:8001/files/") == {
        "id": FILE_ID,
        "key": f"{FILE_ID}/a b.png",
        "name": "a b.png",
        "size": 5_000_000_000,
        "type": "image/png",
        "src": f"http://127.0.0.1:8001/files/{FILE_ID}/a%20b.png",
        "tags": ["x", "y"],
        "meta": {"alt": "A"},
        "createdOn": MOMENT,
        "createdBy": {"id": "alice", "displayName": "Alice"},
    }
    assert record_to_graphql(record(created_by=None), "http://x/files/")["createdBy"] is None


def test_webiny_sends_the_key_as_the_name_and_gets_the_file_name_back() -> None:
    original = OriginalKey(FILE_ID, "photo.jpg")
    assert display_name(f"{FILE_ID}/photo.jpg", original) == "photo.jpg"
    assert display_name(None, original) == "photo.jpg"
    assert display_name("  ", original) == "photo.jpg"
    assert display_name("Holiday\x00 2026.jpg", original) == "Holiday 2026.jpg"


def test_file_keys_must_be_original_keys() -> None:
    assert parse_file_key(f"{FILE_ID}/a.png") == OriginalKey(FILE_ID, "a.png")
    for bad in (None, "", "a.png", str(VariantKey(FILE_ID, "a.png", 100, "png")), f"{FILE_ID}/x/y.png"):
        with pytest.raises(ValidationFailed):
            parse_file_key(bad)


def test_meta_must_be_a_small_object() -> None:
    assert checked_meta(None) is None and checked_meta({"a": 1}) == {"a": 1}
    for bad in ([1], "x", {"big": "x" * MAX_META_BYTES}):
        with pytest.raises(ValidationFailed):
            checked_meta(bad)


def test_update_changes_only_name_tags_and_meta() -> None:
    changes = file_changes({"name": "dir/New Name.png", "tags": ["A", "a"], "key": "ignored", "size": 1})
    assert (changes.name, changes.tags, changes.meta) == ("New Name.png", ("a",), None)
    assert file_changes({}) == file_changes({"name": None, "tags": None, "meta": None})
    with pytest.raises(ValidationFailed) as caught:
        file_changes({"name": "   "})
    assert caught.value.data == {"invalidFields": {"name": {"code": "REQUIRED", "message": caught.value.message,
                                                            "data": None}}}  # fmt: skip


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


def test_the_uploader_travels_in_s3_metadata_as_ascii() -> None:
    from services.gateway.files import META_CREATED_BY, creator_metadata, creator_of
    from shared.s3 import ObjectInfo

    value = creator_metadata("auth0|Zoë/1")
    assert value.isascii() and "/" not in value
    info = ObjectInfo(
        key="k", size=1, etag="e", content_type="t", last_modified=MOMENT, metadata={META_CREATED_BY: value}
    )
    assert creator_of(info) == "auth0|Zoë/1"
    assert creator_of(ObjectInfo(key="k", size=1, etag="e", content_type="t", last_modified=MOMENT)) is None


def test_a_rejected_upload_says_why() -> None:
    from services.gateway.files import rejected_error
    from shared.errors import NotFound

    reason = "The file's content (text/html) does not match its declared type image/png."
    error = rejected_error(record(status="rejected", reason=reason), NotFound)
    assert isinstance(error, NotFound) and error.message == reason
    assert error.data == {"id": FILE_ID, "key": f"{FILE_ID}/a b.png", "status": "rejected", "reason": reason}
    assert rejected_error(record(status="rejected"), ValidationFailed).code == "VALIDATION_FAILED"
