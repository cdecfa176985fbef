"""What counts as a second write to a settled key: other bytes (size or ETag) than the record was
confirmed with; the same bytes again, or a record still pending, are not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from services.gateway.catalog.model import FileRecord
from services.gateway.catalog.overwrites import REPLACED_REASON, replaced
from shared.s3 import ObjectInfo

NOW = datetime(2026, 12, 1, tzinfo=UTC)
READY = FileRecord(
    id="0" * 32,
    key=f"{'0' * 32}/pic.png",
    name="pic.png",
    type="image/png",
    size=100,
    status="ready",
    tags=(),
    meta={},
    created_by="alice",
    created_by_name=None,
    created_on=NOW,
    saved_on=NOW,
    etag="aaaa",
)


def info(size: int = 100, etag: str = "aaaa") -> ObjectInfo:
    return ObjectInfo(key=READY.key, size=size, etag=etag, content_type="image/png", last_modified=NOW)


def test_other_bytes_under_a_ready_key_are_a_replacement() -> None:
    assert replaced(READY, info(etag="bbbb"))
    assert replaced(READY, info(size=101))
    assert replaced(READY, info(size=101, etag="bbbb"))


def test_the_same_bytes_again_are_not() -> None:
    assert not replaced(READY, info())


def test_a_pending_or_rejected_record_is_settled_elsewhere() -> None:
    assert not replaced(replace(READY, status="pending"), info(size=5, etag="cccc"))
    assert not replaced(replace(READY, status="rejected"), info(size=5, etag="cccc"))


def test_without_an_etag_the_size_alone_decides() -> None:
    assert not replaced(replace(READY, etag=None), info(etag="bbbb"))
    assert not replaced(READY, info(etag=""))
    assert replaced(replace(READY, etag=None), info(size=7))


def test_the_reason_tells_the_client_what_to_do() -> None:
    assert "replaced" in REPLACED_REASON and "new file" in REPLACED_REASON
