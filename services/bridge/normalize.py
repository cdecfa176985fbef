"""Turning each notification source's payload into normalized ``ObjectEvent``s. Pure functions.

Sources:

- SeaweedFS filer metadata log (``weed filer.meta.tail``): protojson, camelCase, int64 as strings.
- SeaweedFS filer webhook (``[notification.webhook]``): ``{"event_type", "key", "message"}`` where
  ``message`` is the same event notification in Go's JSON (snake_case, numbers as numbers).
- S3-format records as AWS and MinIO send them (``{"Records": [...]}``, MinIO wraps them with
  ``EventName``/``Key``), and SQS message bodies (raw S3 events or SNS-wrapped).

What is dropped (an empty list, not an error): directories, the bucket itself, other buckets,
keys under ``variants/``, hidden/internal entries (a path segment starting with ``.``), metadata-only
updates, test events and event kinds we do not publish. Input that cannot be a notification of its
source raises ``MalformedEvent``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from shared.events import OBJECT_CREATED, OBJECT_REMOVED, MalformedEvent, ObjectEvent
from shared.keys import is_variant_key

BUCKETS_ROOT = "/buckets"
SOURCE_SEAWEEDFS = "seaweedfs"
SOURCE_S3 = "s3"
ETAG_HEADER = "Seaweed-X-Amz-ETag"

# S3 event name suffixes that change metadata only: not a new object, nothing to publish.
_METADATA_ONLY = frozenset({"PutTagging", "DeleteTagging", "PutRetention", "PutLegalHold", "NoOP"})


# --- common helpers -------------------------------------------------------------------------


def accept_key(key: str) -> bool:
    """Whether a bucket-relative key is an object we publish events for."""
    if not key or key.endswith("/") or is_variant_key(key):
        return False
    return not any(part == "" or part.startswith(".") for part in key.split("/"))


def iso_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as S3 writes ``eventTime``: ``2026-11-24T20:00:00.123Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_from_ns(ts_ns: int) -> str:
    return iso_time(datetime.fromtimestamp(ts_ns / 1e9, tz=UTC))


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} must be a JSON object")
    return value


def _load_json(body: bytes | str | Mapping[str, Any], what: str) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent(f"{what} is not JSON: {exc}") from exc
    return _object(raw, what)


# --- SeaweedFS entries (both the meta log and the webhook) ----------------------------------


def _field(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    """Protojson writes camelCase, Go's encoding/json snake_case: accept either."""
    if camel in mapping:
        return mapping[camel]
    return mapping.get(snake)


@dataclass(frozen=True)
class _Entry:
    path: str
    is_directory: bool
    size: int | None
    etag: str | None
    md5: str | None


def _entry(raw: Any, parent: str, what: str) -> _Entry | None:
    if raw is None:
        return None
    entry = _object(raw, what)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise MalformedEvent(f"{what} has no name")
    attributes = _field(entry, "attributes", "attributes") or {}
    if not isinstance(attributes, dict):
        raise MalformedEvent(f"{what}.attributes must be a JSON object")
    extended = entry.get("extended") or {}
    if not isinstance(extended, dict):
        raise MalformedEvent(f"{what}.extended must be a JSON object")
    md5 = _b64_hex(attributes.get("md5"))
    return _Entry(
        path=f"{parent.rstrip('/')}/{name}",
        is_directory=bool(_field(entry, "isDirectory", "is_directory")),
        size=_size(_field(attributes, "fileSize", "file_size")),
        etag=_b64_text(extended.get(ETAG_HEADER)) or md5,
        md5=md5,
    )


def _size(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"bad file size {value!r}") from exc


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_text(value: Any) -> str | None:
    data = _b64(value)
    if not data:
        return None
    try:
        return data.decode("ascii").strip('"') or None
    except UnicodeDecodeError:
        return None


def _b64_hex(value: Any) -> str | None:
    data = _b64(value)
    return data.hex() if data else None


def _bucket_key(path: str, bucket: str) -> str | None:
    """The key of a filer path inside the bucket, or None for anything else (``/buckets/files2``)."""
    prefix = f"{BUCKETS_ROOT}/{bucket}/"
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :]


def _entry_events(
    notification: Mapping[str, Any],
    *,
    directory: str,
    bucket: str,
    sequencer: str,
    time: str,
) -> list[ObjectEvent]:
    """Events of one filer notification: create, delete, update (same path) or rename (both)."""
    old = _entry(_field(notification, "oldEntry", "old_entry"), directory, "oldEntry")
    new_parent = _field(notification, "newParentPath", "new_parent_path") or directory
    if not isinstance(new_parent, str):
        raise MalformedEvent("newParentPath must be a string")
    new = _entry(_field(notification, "newEntry", "new_entry"), new_parent, "newEntry")
    if old is None and new is None:
        raise MalformedEvent("a notification without oldEntry and newEntry")

    def event(kind: str, entry: _Entry) -> list[ObjectEvent]:
        if entry.is_directory:
            return []
        key = _bucket_key(entry.path, bucket)
        if key is None or not accept_key(key):
            return []
        created = kind == OBJECT_CREATED
        return [
            ObjectEvent(
                type=kind,
                bucket=bucket,
                key=key,
                size=entry.size if created else None,
                etag=entry.etag if created else None,
                sequencer=sequencer,
                time=time,
                source=SOURCE_SEAWEEDFS,
            )
        ]

    if old is not None and new is not None and old.path == new.path:
        if (old.etag, old.md5, old.size) == (new.etag, new.md5, new.size):
            return []  # metadata-only update (tags, attributes): not a new object
        return event(OBJECT_CREATED, new)  # an overwrite is a new object, as in S3
    events: list[ObjectEvent] = []
    if old is not None:
        events += event(OBJECT_REMOVED, old)
    if new is not None:
        events += event(OBJECT_CREATED, new)
    return events


# --- (a) SeaweedFS metadata log -------------------------------------------------------------


def meta_record_ts_ns(record: Mapping[str, Any]) -> int:
    """The filer's timestamp of a metadata-log record (its position in the log)."""
    value = _field(record, "tsNs", "ts_ns")
    if isinstance(value, bool):
        raise MalformedEvent("tsNs must be an integer")
    try:
        ts = int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"bad tsNs {value!r}") from exc
    if ts <= 0:
        raise MalformedEvent(f"bad tsNs {value!r}")
    return ts


def normalize_meta_record(record: Mapping[str, Any], bucket: str) -> list[ObjectEvent]:
    """One ``weed filer.meta.tail`` record -> its events (often none)."""
    record = _object(record, "record")
    ts_ns = meta_record_ts_ns(record)
    directory = record.get("directory")
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise MalformedEvent("record without a directory")
    notification = _object(_field(record, "eventNotification", "event_notification"), "eventNotification")
    return _entry_events(
        notification,
        directory=directory,
        bucket=bucket,
        sequencer=f"{ts_ns:020d}",
        time=iso_from_ns(ts_ns),
    )


# --- (b) SeaweedFS filer webhook ------------------------------------------------------------

WEBHOOK_EVENT_TYPES = frozenset({"create", "update", "delete", "rename"})


def normalize_seaweedfs_webhook(
    body: bytes | str | Mapping[str, Any], bucket: str, *, received: datetime
) -> list[ObjectEvent]:
    """A filer webhook POST body -> its events.

    The webhook carries no log timestamp: the sequencer is a digest of the notification (a resent
    notification keeps its message id) and the time is when the bridge received it.
    """
    payload = _load_json(body, "webhook body")
    key = payload.get("key")
    if not isinstance(key, str) or not key.startswith("/"):
        raise MalformedEvent("webhook body without a full path in 'key'")
    event_type = payload.get("event_type")
    if event_type is not None and event_type not in WEBHOOK_EVENT_TYPES:
        raise MalformedEvent(f"unknown event_type {event_type!r}")
    notification = _object(payload.get("message", payload.get("message_data")), "message")
    directory = key.rsplit("/", 1)[0] or "/"
    return _entry_events(
        notification,
        directory=directory,
        bucket=bucket,
        sequencer=_digest(payload),
        time=iso_time(received),
    )


# --- (c) S3-format records (AWS, MinIO) -----------------------------------------------------


def _event_kind(name: str) -> str | None:
    """``s3:ObjectCreated:Put`` -> object.created; ``ObjectRemoved:Delete`` -> object.removed."""
    parts = name.removeprefix("s3:").split(":")
    group, detail = parts[0], parts[1] if len(parts) > 1 else ""
    if detail in _METADATA_ONLY:
        return None
    if group == "ObjectCreated":
        return OBJECT_CREATED
    if group in {"ObjectRemoved", "LifecycleExpiration"}:
        return OBJECT_REMOVED
    return None


def _s3_time(value: Any, fallback: datetime) -> str:
    if not isinstance(value, str) or not value:
        return iso_time(fallback)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedEvent(f"bad eventTime {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_time(moment)


def _s3_record(record: Any, bucket: str, received: datetime) -> list[ObjectEvent]:
    record = _object(record, "record")
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        raise MalformedEvent("record without eventName")
    s3 = _object(record.get("s3"), "record.s3")
    record_bucket = _object(s3.get("bucket"), "s3.bucket").get("name")
    obj = _object(s3.get("object"), "s3.object")
    raw_key = obj.get("key")
    if not isinstance(record_bucket, str) or not isinstance(raw_key, str) or not raw_key:
        raise MalformedEvent("record without bucket name or object key")
    kind = _event_kind(name)
    key = unquote_plus(raw_key)
    if kind is None or record_bucket != bucket or not accept_key(key):
        return []
    created = kind == OBJECT_CREATED
    etag = obj.get("eTag", obj.get("etag"))
    etag_text = str(etag).strip('"') if created and etag else ""
    sequencer = obj.get("sequencer")
    return [
        ObjectEvent(
            type=kind,
            bucket=bucket,
            key=key,
            size=_size(obj.get("size")) if created else None,
            etag=etag_text or None,
            sequencer=str(sequencer) if sequencer else _digest(record),
            time=_s3_time(record.get("eventTime"), received),
            source=SOURCE_S3,
        )
    ]


def _is_test_event(payload: Mapping[str, Any]) -> bool:
    return payload.get("Event") == "s3:TestEvent" or payload.get("EventName") == "s3:TestEvent"


def normalize_s3_notification(
    body: bytes | str | Mapping[str, Any], bucket: str, *, received: datetime
) -> list[ObjectEvent]:
    """An S3-format notification: ``{"Records": [...]}`` (AWS), or MinIO's wrapper of it
    (``{"EventName", "Key", "Records"}``)."""
    payload = _load_json(body, "S3 notification")
    if _is_test_event(payload):
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise MalformedEvent("S3 notification without a Records list")
    events: list[ObjectEvent] = []
    for record in records:
        events += _s3_record(record, bucket, received)
    return events


# --- (d) SQS message bodies -----------------------------------------------------------------


def normalize_sqs_body(body: bytes | str, bucket: str, *, received: datetime) -> list[ObjectEvent]:
    """An SQS message body: the S3 event itself, or an SNS notification that carries it."""
    payload = _load_json(body, "SQS message body")
    if payload.get("Type") == "Notification":
        message = payload.get("Message")
        if not isinstance(message, str):
            raise MalformedEvent("SNS notification without a Message string")
        payload = _load_json(message, "SNS Message")
    return normalize_s3_notification(payload, bucket, received=received)
