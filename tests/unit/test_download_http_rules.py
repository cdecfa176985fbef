"""Range parsing and conditional requests of the download service (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.download.http_rules import (
    ByteRange,
    http_date,
    is_not_modified,
    parse_range,
    quote_etag,
    range_applies,
)
from shared.errors import RangeNotSatisfiable

MODIFIED = datetime(2026, 11, 24, 20, 0, 0, 123000, tzinfo=UTC)
ETAG = "0123abcd"


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9, 100)),
        ("bytes=10-", 100, ByteRange(10, 99, 100)),
        ("bytes=-10", 100, ByteRange(90, 99, 100)),
        ("bytes=-1000", 100, ByteRange(0, 99, 100)),  # suffix longer than the file: all of it
        ("bytes=90-1000", 100, ByteRange(90, 99, 100)),  # end clamped to the last byte
        ("bytes=99-99", 100, ByteRange(99, 99, 100)),
        ("Bytes = 5 - 6", 100, ByteRange(5, 6, 100)),
    ],
)
def test_single_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "items=0-1",  # another unit
        "bytes=0-1,5-6",  # several ranges: served whole
        "bytes=5-1",  # last < first: invalid, ignored
        "bytes=a-b",
        "bytes=-",
        "bytes=1",
        "bytes=0x1-2",
        "bytes=\u0661-\u0662",  # non-ASCII (Arabic-Indic) digits
    ],
)
def test_ignored_ranges_serve_the_whole_object(header: str | None) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.status == 416
    assert caught.value.size == size


def test_any_range_of_an_empty_object_is_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-5", 0)


def test_byte_range_headers() -> None:
    byte_range = ByteRange(10, 19, 100)
    assert byte_range.length == 10
    assert byte_range.header == "bytes=10-19"
    assert byte_range.content_range == "bytes 10-19/100"


def test_quote_etag() -> None:
    assert quote_etag("abc") == '"abc"'
    assert quote_etag('"abc"') == '"abc"'
    assert quote_etag('W/"abc"') == 'W/"abc"'


def test_http_date_is_imf_fixdate() -> None:
    assert http_date(MODIFIED) == "Tue, 24 Nov 2026 20:00:00 GMT"


def _not_modified(inm: str | None = None, ims: str | None = None) -> bool:
    return is_not_modified(if_none_match=inm, if_modified_since=ims, etag=ETAG, last_modified=MODIFIED)


def test_if_none_match() -> None:
    assert _not_modified(inm=f'"{ETAG}"')
    assert _not_modified(inm=f'W/"{ETAG}"')  # weak comparison
    assert _not_modified(inm=f'"other", "{ETAG}"')
    assert _not_modified(inm="*")
    assert not _not_modified(inm='"other"')
    assert not _not_modified(inm=ETAG + "x")


def test_if_modified_since() -> None:
    assert _not_modified(ims="Tue, 24 Nov 2026 20:00:00 GMT")  # same second (S3 dates are whole seconds)
    assert _not_modified(ims="Wed, 25 Nov 2026 20:00:00 GMT")
    assert not _not_modified(ims="Tue, 24 Nov 2026 19:59:59 GMT")
    assert not _not_modified(ims="not a date")
    assert not _not_modified()


def test_if_none_match_wins_over_if_modified_since() -> None:
    assert not _not_modified(inm='"other"', ims="Wed, 25 Nov 2026 20:00:00 GMT")


def test_if_range() -> None:
    assert range_applies(None, etag=ETAG, last_modified=MODIFIED)
    assert range_applies(f'"{ETAG}"', etag=ETAG, last_modified=MODIFIED)
    assert not range_applies('"other"', etag=ETAG, last_modified=MODIFIED)
    assert not range_applies(f'W/"{ETAG}"', etag=ETAG, last_modified=MODIFIED)  # weak never matches
    assert range_applies("Tue, 24 Nov 2026 20:00:00 GMT", etag=ETAG, last_modified=MODIFIED)
    assert not range_applies("Tue, 24 Nov 2026 19:00:00 GMT", etag=ETAG, last_modified=MODIFIED)
    assert not range_applies("garbage", etag=ETAG, last_modified=MODIFIED)
