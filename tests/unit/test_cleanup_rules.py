"""What the cleanup worker decides to delete (services.cleanup.handler / sweep, pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.cleanup.handler import prefix_to_clean
from services.cleanup.sweep import file_id_of_prefix, old_enough, orphan_ids
from shared.events import ObjectEvent
from shared.keys import parse_original_key, variant_key, variant_prefix
from shared.s3 import ObjectInfo

FID = "3f2a0c1e9b8d4f6a8c7e5d3b1a2f4e6c"
NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def event(key: str, *, type: str = "object.removed", bucket: str = "files") -> ObjectEvent:
    return ObjectEvent(type=type, bucket=bucket, key=key, size=None, etag=None, sequencer="1", time="", source="test")


def test_a_removed_original_cleans_its_variant_prefix() -> None:
    assert prefix_to_clean(event(f"{FID}/photo one+x.jpg"), "files") == variant_prefix(FID)


@pytest.mark.parametrize(
    "evt",
    [
        event(f"{FID}/photo.jpg", bucket="other"),
        event(f"{FID}/photo.jpg", type="object.created"),
        event(str(variant_key(parse_original_key(f"{FID}/photo.jpg"), 100, "jpg"))),
        event("not-an-id/photo.jpg"),
        event(f"{FID}/nested/photo.jpg"),
        event("loose.txt"),
    ],
)
def test_events_that_clean_nothing(evt: ObjectEvent) -> None:
    assert prefix_to_clean(evt, "files") is None


@pytest.mark.parametrize(
    "prefix,expected",
    [
        (variant_prefix(FID), FID),
        ("variants/abc/", None),
        (f"variants/{FID}", None),
        (f"other/{FID}/", None),
    ],
)
def test_file_id_of_prefix(prefix: str, expected: str | None) -> None:
    assert file_id_of_prefix(prefix) == expected


def info(age_seconds: float) -> ObjectInfo:
    return ObjectInfo(key="k", size=1, etag="", content_type="", last_modified=NOW - timedelta(seconds=age_seconds))


def test_old_enough_needs_every_variant_past_the_grace() -> None:
    grace = timedelta(seconds=60)
    assert old_enough([info(61), info(600)], now=NOW, grace=grace)
    assert not old_enough([info(61), info(5)], now=NOW, grace=grace)
    assert old_enough([info(0)], now=NOW, grace=timedelta(0))


def test_orphans_are_the_ids_with_variants_but_no_originals() -> None:
    a, b, c = "a" * 32, "b" * 32, "c" * 32
    variants = [variant_prefix(a), variant_prefix(b), "variants/not-an-id/", variant_prefix(c)]
    root = [f"{a}/", "variants/", ".uploads/", f"{c}/"]
    assert orphan_ids(variants, root) == [b]
    assert orphan_ids([], root) == []
    assert orphan_ids(variants, []) == [a, b, c]
