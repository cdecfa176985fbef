"""Normalizing every notification source into ``ObjectEvent``s (services.bridge.normalize)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.bridge.normalize import (
    accept_key,
    meta_record_ts_ns,
    normalize_meta_record,
    normalize_s3_notification,
    normalize_seaweedfs_webhook,
    normalize_sqs_body,
)
from shared.events import MalformedEvent, ObjectEvent

BUCKET = "files"
FID = "3f2a0c1e9b8d4f6a8c7e5d3b1a2f4e6c"
RECEIVED = datetime(2026, 11, 24, 20, 0, 0, 123456, tzinfo=UTC)
HEX_ETAG = "781e5e245d69b566979b86e28d23f2c7"

# A real delete record printed by `weed filer.meta.tail` (SeaweedFS 4.48), abridged only in chunks.
REAL_DELETE = {
    "directory": "/buckets/files/abc123",
    "eventNotification": {
        "oldEntry": {
            "name": "photo one+x.jpg",
            "isDirectory": False,
            "chunks": [{"fileId": "1,010733144c", "offset": "0", "size": "10"}],
            "attributes": {
                "fileSize": "10",
                "mtime": "1795556645",
                "fileMode": 432,
                "mime": "image/jpeg",
                "md5": "eB5eJF1ptWaXm4bijSPyxw==",
                "inode": "14451506131313754382",
            },
            "extended": {
                "Seaweed-X-Amz-ETag": "NzgxZTVlMjQ1ZDY5YjU2Njk3OWI4NmUyOGQyM2YyYzc=",
                "Seaweed-X-Amz-Owner": "ZGV2",
            },
            "hardLinkId": "",
            "remoteEntry": None,
        },
        "newEntry": None,
        "deleteChunks": True,
        "newParentPath": "",
        "isFromOtherCluster": False,
        "signatures": [225655117],
    },
    "tsNs": "1795556645274528084",
    "events": [],
    "logFileRefs": [],
    "flushedTsNs": "0",
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def meta_entry(name: str, *, size: int = 10, etag: str = HEX_ETAG, directory: bool = False) -> dict[str, Any]:
    """An entry as protojson prints it: camelCase, int64 as strings, bytes as base64."""
    entry: dict[str, Any] = {
        "name": name,
        "isDirectory": directory,
        "attributes": {"fileSize": str(size), "mime": "image/jpeg", "md5": "eB5eJF1ptWaXm4bijSPyxw=="},
        "extended": {"Seaweed-X-Amz-ETag": _b64(etag)},
    }
    return entry


def meta_record(
    directory: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    new_parent: str | None = None,
    ts: int = 1795556955034843049,
) -> dict[str, Any]:
    return {
        "directory": directory,
        "eventNotification": {
            "oldEntry": old,
            "newEntry": new,
            "deleteChunks": True,
            "newParentPath": new_parent if new_parent is not None else (directory if new else ""),
            "signatures": [-346853235],
        },
        "tsNs": str(ts),
    }


# --- SeaweedFS metadata log ---------------------------------------------------------------------


def test_meta_real_delete_sample_is_a_removal_with_the_decoded_key() -> None:
    events = normalize_meta_record(REAL_DELETE, BUCKET)
    assert events == [
        ObjectEvent(
            type="object.removed",
            bucket="files",
            key="abc123/photo one+x.jpg",
            size=None,
            etag=None,
            sequencer="01795556645274528084",
            time="2026-11-24T21:44:05.274Z",
            source="seaweedfs",
        )
    ]
    assert meta_record_ts_ns(REAL_DELETE) == 1795556645274528084


def test_meta_create_carries_size_and_hex_etag() -> None:
    record = meta_record(f"/buckets/files/{FID}", new=meta_entry("photo.jpg", size=12345))
    [event] = normalize_meta_record(record, BUCKET)
    assert (event.type, event.key, event.size, event.etag) == (
        "object.created",
        f"{FID}/photo.jpg",
        12345,
        HEX_ETAG,
    )
    assert ObjectEvent.from_json(event.to_json()) == event


def test_meta_create_without_etag_header_falls_back_to_md5() -> None:
    entry = meta_entry("photo.jpg")
    entry["extended"] = {}
    [event] = normalize_meta_record(meta_record(f"/buckets/files/{FID}", new=entry), BUCKET)
    assert event.etag == HEX_ETAG


def test_meta_rename_is_a_removal_and_a_creation() -> None:
    record = meta_record(
        "/buckets/files/abc123",
        old=meta_entry("a.jpg"),
        new=meta_entry("b.jpg"),
        new_parent="/buckets/files/def456",
    )
    events = normalize_meta_record(record, BUCKET)
    assert [(e.type, e.key) for e in events] == [
        ("object.removed", "abc123/a.jpg"),
        ("object.created", "def456/b.jpg"),
    ]
    assert len({e.message_id for e in events}) == 2


def test_meta_rename_out_of_variants_only_creates() -> None:
    record = meta_record(
        "/buckets/files/variants/abc123/a.jpg",
        old=meta_entry("w100.jpg"),
        new=meta_entry("b.jpg"),
        new_parent="/buckets/files/def456",
    )
    assert [(e.type, e.key) for e in normalize_meta_record(record, BUCKET)] == [("object.created", "def456/b.jpg")]


def test_meta_overwrite_is_a_creation_but_a_metadata_update_is_dropped() -> None:
    directory = f"/buckets/files/{FID}"
    overwrite = meta_record(directory, old=meta_entry("p.jpg"), new=meta_entry("p.jpg", size=12, etag="b60c52bf48490"))
    [event] = normalize_meta_record(overwrite, BUCKET)
    assert (event.type, event.size, event.etag) == ("object.created", 12, "b60c52bf48490")
    same = meta_record(directory, old=meta_entry("p.jpg"), new=meta_entry("p.jpg"))
    assert normalize_meta_record(same, BUCKET) == []


@pytest.mark.parametrize(
    "record",
    [
        # a directory inside the bucket
        meta_record("/buckets/files", new=meta_entry("abc123", directory=True)),
        # the bucket directory itself
        meta_record("/buckets", new=meta_entry("files", directory=True)),
        # another bucket whose name starts with ours (the tail's pathPrefix matches it)
        meta_record("/buckets/files2/abc123", new=meta_entry("photo.jpg")),
        meta_record("/buckets/files2/abc123", old=meta_entry("photo.jpg")),
        # variants
        meta_record("/buckets/files/variants/abc123/photo.jpg", new=meta_entry("w100.jpg")),
        meta_record("/buckets/files/variants/abc123/photo.jpg", old=meta_entry("w100.jpg")),
        # internal entries: multipart parts, .system
        meta_record("/buckets/files/.uploads/0a1b2c", new=meta_entry("0001.part")),
        meta_record("/buckets/.system/owners/dev", new=meta_entry("files")),
    ],
)
def test_meta_records_that_publish_nothing(record: dict[str, Any]) -> None:
    assert normalize_meta_record(record, BUCKET) == []


@pytest.mark.parametrize(
    "record",
    [
        {
            "directory": "/buckets/files/a",
            "eventNotification": {"oldEntry": None, "newEntry": None},
            "tsNs": "1",
        },
        {"directory": "/buckets/files/a", "eventNotification": {"newEntry": {"name": "x"}}},  # no tsNs
        {"directory": "/buckets/files/a", "eventNotification": {"newEntry": {"name": "x"}}, "tsNs": "soon"},
        {"directory": "/buckets/files/a", "eventNotification": "deleted", "tsNs": "1"},
        {"eventNotification": {"newEntry": {"name": "x"}}, "tsNs": "1"},  # no directory
        {
            "directory": "/buckets/files/a",
            "eventNotification": {"newEntry": {"isDirectory": False}},
            "tsNs": "1",
        },
        {
            "directory": "/buckets/files/a",
            "eventNotification": {"newEntry": {"name": "x", "attributes": {"fileSize": "big"}}},
            "tsNs": "1",
        },
    ],
)
def test_meta_malformed_records_raise(record: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        normalize_meta_record(record, BUCKET)


# --- SeaweedFS filer webhook ----------------------------------------------------------------------


def hook_entry(name: str, *, size: int = 10, directory: bool = False) -> dict[str, Any]:
    """An entry as the webhook sends it: Go's encoding/json, snake_case, numbers as numbers."""
    entry: dict[str, Any] = {
        "name": name,
        "attributes": {"file_size": size, "mtime": 1795556955, "mime": "image/jpeg"},
        "extended": {"Seaweed-X-Amz-ETag": _b64(HEX_ETAG), "Seaweed-X-Amz-Owner": "ZGV2"},
    }
    if directory:
        entry["is_directory"] = True
    return entry


def test_webhook_delete_and_create() -> None:
    delete = {
        "event_type": "delete",
        "key": f"/buckets/files/{FID}/photo one+x.jpg",
        "message": {"old_entry": hook_entry("photo one+x.jpg"), "delete_chunks": True, "signatures": [1]},
    }
    [removed] = normalize_seaweedfs_webhook(json.dumps(delete).encode(), BUCKET, received=RECEIVED)
    assert (removed.type, removed.key, removed.size, removed.source) == (
        "object.removed",
        f"{FID}/photo one+x.jpg",
        None,
        "seaweedfs",
    )
    assert removed.time == "2026-11-24T20:00:00.123Z"
    create = {
        "event_type": "create",
        "key": f"/buckets/files/{FID}/a.jpg",
        "message": {"new_entry": hook_entry("a.jpg", size=7), "new_parent_path": f"/buckets/files/{FID}"},
    }
    [created] = normalize_seaweedfs_webhook(create, BUCKET, received=RECEIVED)
    assert (created.type, created.key, created.size, created.etag) == (
        "object.created",
        f"{FID}/a.jpg",
        7,
        HEX_ETAG,
    )


def test_webhook_resent_notification_keeps_its_message_id() -> None:
    body = {
        "event_type": "delete",
        "key": "/buckets/files/abc/a.jpg",
        "message": {"old_entry": hook_entry("a.jpg")},
    }
    first = normalize_seaweedfs_webhook(body, BUCKET, received=RECEIVED)
    again = normalize_seaweedfs_webhook(body, BUCKET, received=datetime.now(UTC))
    assert first[0].message_id == again[0].message_id


def test_webhook_rename() -> None:
    body = {
        "event_type": "rename",
        "key": "/buckets/files/abc123/a.jpg",
        "message": {
            "old_entry": hook_entry("a.jpg"),
            "new_entry": hook_entry("b.jpg"),
            "new_parent_path": "/buckets/files/def456",
        },
    }
    events = normalize_seaweedfs_webhook(body, BUCKET, received=RECEIVED)
    assert [(e.type, e.key) for e in events] == [
        ("object.removed", "abc123/a.jpg"),
        ("object.created", "def456/b.jpg"),
    ]


@pytest.mark.parametrize(
    "key,entry",
    [
        ("/buckets/files/abc123", hook_entry("abc123", directory=True)),
        ("/buckets/files", hook_entry("files", directory=True)),
        ("/buckets/.system/owners/.complete", hook_entry(".complete")),
        ("/buckets/files/variants/abc/p.jpg/w100.jpg", hook_entry("w100.jpg")),
        ("/buckets/other/abc/p.jpg", hook_entry("p.jpg")),
    ],
)
def test_webhook_drops(key: str, entry: dict[str, Any]) -> None:
    body = {"event_type": "delete", "key": key, "message": {"old_entry": entry}}
    assert normalize_seaweedfs_webhook(body, BUCKET, received=RECEIVED) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event_type": "delete", "message": {"old_entry": {"name": "a"}}}',  # no key
        b'{"event_type": "explode", "key": "/buckets/files/a/b", "message": {"old_entry": {"name": "b"}}}',
        b'{"event_type": "delete", "key": "/buckets/files/a/b"}',  # no message
        b'{"event_type": "delete", "key": "/buckets/files/a/b", "message": {}}',  # no entries
    ],
)
def test_webhook_malformed_raises(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        normalize_seaweedfs_webhook(body, BUCKET, received=RECEIVED)


# --- S3-format records (AWS, MinIO) ---------------------------------------------------------------


def s3_record(
    name: str, key: str, *, bucket: str = BUCKET, size: int | None = 12, prefix: str = "s3:"
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "eTag": '"0123abcd"', "sequencer": "0065F2A1B2C3D4E5F6"}
    if size is not None:
        obj["size"] = size
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2026-11-24T20:00:00.5Z",
        "eventName": f"{prefix}{name}" if prefix else name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }


def test_s3_records_decode_url_encoded_keys() -> None:
    body = {
        "Records": [
            s3_record("ObjectCreated:Put", f"{FID}/photo+one%2Bx.jpg"),
            s3_record("ObjectRemoved:Delete", f"{FID}/photo+one%2Bx.jpg", size=None, prefix=""),
        ]
    }
    created, removed = normalize_s3_notification(json.dumps(body), BUCKET, received=RECEIVED)
    assert created == ObjectEvent(
        type="object.created",
        bucket="files",
        key=f"{FID}/photo one+x.jpg",
        size=12,
        etag="0123abcd",
        sequencer="0065F2A1B2C3D4E5F6",
        time="2026-11-24T20:00:00.500Z",
        source="s3",
    )
    assert (removed.type, removed.key, removed.size, removed.etag) == (
        "object.removed",
        f"{FID}/photo one+x.jpg",
        None,
        None,
    )


def test_minio_wrapper_and_drops() -> None:
    body = {
        "EventName": "s3:ObjectRemoved:Delete",
        "Key": "files/abc/a.jpg",
        "Records": [
            s3_record("ObjectRemoved:Delete", "abc/a.jpg", size=None),
            s3_record("ObjectRemoved:Delete", "variants/abc/a.jpg/w100.jpg", size=None),
            s3_record("ObjectRemoved:Delete", "abc/a.jpg", bucket="elsewhere", size=None),
            s3_record("ObjectAccessed:Get", "abc/a.jpg"),
            s3_record("ObjectCreated:PutTagging", "abc/a.jpg"),
            s3_record("ObjectCreated:Put", "abc/"),
            s3_record("LifecycleExpiration:Delete", "abc/b.jpg", size=None, prefix=""),
        ],
    }
    events = normalize_s3_notification(body, BUCKET, received=RECEIVED)
    assert [(e.type, e.key) for e in events] == [
        ("object.removed", "abc/a.jpg"),
        ("object.removed", "abc/b.jpg"),
    ]


def test_s3_test_event_is_dropped() -> None:
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-24T20:00:00.000Z",
        "Bucket": "files",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    assert normalize_s3_notification(body, BUCKET, received=RECEIVED) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"Records": "none"}',
        b'{"Message": "hi"}',
        b'{"Records": [{"eventName": "s3:ObjectCreated:Put"}]}',
        b'{"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "files"}, "object": {}}}]}',
        b'{"Records": [{"s3": {"bucket": {"name": "files"}, "object": {"key": "a/b"}}}]}',
    ],
)
def test_s3_malformed_raises(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        normalize_s3_notification(body, BUCKET, received=RECEIVED)


# --- SQS bodies -----------------------------------------------------------------------------------


def test_sqs_raw_and_sns_wrapped_bodies() -> None:
    raw = json.dumps({"Records": [s3_record("ObjectRemoved:Delete", f"{FID}/a+b.jpg", size=None)]})
    [direct] = normalize_sqs_body(raw, BUCKET, received=RECEIVED)
    sns = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:files",
            "Message": raw,
        }
    )
    [wrapped] = normalize_sqs_body(sns, BUCKET, received=RECEIVED)
    assert direct == wrapped
    assert (direct.type, direct.key) == ("object.removed", f"{FID}/a b.jpg")


def test_sqs_test_event_is_dropped_raw_or_wrapped() -> None:
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "files"})
    assert normalize_sqs_body(test_event, BUCKET, received=RECEIVED) == []
    sns = json.dumps({"Type": "Notification", "Message": test_event})
    assert normalize_sqs_body(sns, BUCKET, received=RECEIVED) == []


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b'{"Type": "Notification", "Message": 5}', b'{"Type": "Notification", "Message": "{"}'],
)
def test_sqs_malformed_raises(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        normalize_sqs_body(body, BUCKET, received=RECEIVED)


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,accepted",
    [
        (f"{FID}/photo.jpg", True),
        ("abc/photo one+x.jpg", True),
        ("variants/abc/p.jpg/w100.jpg", False),
        (".uploads/x/0001.part", False),
        ("abc/", False),
        ("", False),
        ("a//b", False),
    ],
)
def test_accept_key(key: str, accepted: bool) -> None:
    assert accept_key(key) is accepted
