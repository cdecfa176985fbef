"""HTTP caching and range rules for serving an object: pure functions, no I/O.

- ``parse_range``: one ``Range: bytes=...`` against a known size (RFC 9110 14.2).
- ``is_not_modified``: ``If-None-Match`` / ``If-Modified-Since`` (RFC 9110 13.1.2, 13.1.3).
- ``range_applies``: ``If-Range`` (RFC 9110 13.1.5).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from shared.errors import RangeNotSatisfiable

IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = "no-store"


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start``..``end`` of an object ``size`` bytes long."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def header(self) -> str:
        """The S3 ``Range`` request value."""
        return f"bytes={self.start}-{self.end}"

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(value: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None to serve the whole object.

    A header that is absent, malformed, in another unit or asks for several ranges is ignored
    (the whole object is served, as RFC 9110 allows); a well-formed range that starts beyond the
    end raises ``RangeNotSatisfiable``.
    """
    if not value:
        return None
    unit, sep, spec = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [part.strip() for part in spec.split(",")]
    if len(specs) != 1:
        return None
    first, dash, last = specs[0].partition("-")
    first, last = first.strip(), last.strip()
    if not dash:
        return None
    if not first:  # suffix: the last N bytes
        if not _digits(last):
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1, size)
    if not _digits(first) or (last and not _digits(last)):
        return None
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = min(int(last), size - 1) if last else size - 1
    return ByteRange(start, end, size)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def quote_etag(etag: str) -> str:
    """S3 hands out the ETag without quotes (our ObjectStore strips them); HTTP wants them."""
    etag = etag.strip()
    if etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


@functools.lru_cache(maxsize=4096)
def http_date(moment: datetime) -> str:
    """RFC 9110 date; cached, since the same few Last-Modified values are formatted per request."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag


def etag_matches_any(header: str, etag: str) -> bool:
    """Weak comparison of our ETag against an ``If-None-Match`` list (``*`` matches anything)."""
    ours = _opaque(quote_etag(etag))
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or (candidate and _opaque(candidate) == ours):
            return True
    return False


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0)


def is_not_modified(
    *,
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    last_modified: datetime,
) -> bool:
    """True when a GET/HEAD should be answered 304 Not Modified.

    ``If-None-Match`` wins when present; ``If-Modified-Since`` is only looked at without it, and
    an unparsable date is ignored.
    """
    if if_none_match is not None and if_none_match.strip():
        return etag_matches_any(if_none_match, etag)
    since = parse_http_date(if_modified_since)
    if since is None:
        return False
    return _whole_seconds(last_modified) <= since


def range_applies(if_range: str | None, *, etag: str, last_modified: datetime) -> bool:
    """Whether a ``Range`` is honoured given ``If-Range``: only if the validator still matches.

    An entity tag must match strongly (a weak one never does); a date must equal Last-Modified.
    """
    if if_range is None or not if_range.strip():
        return True
    value = if_range.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == quote_etag(etag)
    since = parse_http_date(value)
    return since is not None and _whole_seconds(last_modified) == since
