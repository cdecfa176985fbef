"""listFiles arguments as a pure query: limits, the opaque cursor and the key-level filters.

Until the file catalog exists the list is read from S3, so only what the key and the object
itself tell can be filtered on: ``search`` (file name substring), ``types`` (content type),
``ids``. No file has tags or a recorded creator yet, so filters that require a tag or a
creator match nothing and ``tag_not_startsWith`` matches everything.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import ValidationFailed
from shared.keys import InvalidKey, OriginalKey, parse_original_key

DEFAULT_LIMIT = 40
MAX_LIMIT = 100
_CURSOR_PREFIX = "k:"


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The last key of the previous page; ValidationFailed for anything we did not hand out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _bad_cursor() from exc
    if not text.startswith(_CURSOR_PREFIX):
        raise _bad_cursor()
    key = text[len(_CURSOR_PREFIX) :]
    try:
        parse_original_key(key)
    except InvalidKey as exc:
        raise _bad_cursor() from exc
    return key


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "after is not a cursor returned by listFiles.",
        data={"invalidFields": {"after": {"code": "INVALID", "message": "Unknown cursor.", "data": None}}},
    )


@dataclass(frozen=True)
class ListQuery:
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    types: frozenset[str] | None = None
    searches: tuple[str, ...] = ()
    ids: frozenset[str] | None = None
    matches_nothing: bool = False

    def accepts_key(self, original: OriginalKey) -> bool:
        if self.ids is not None and original.file_id not in self.ids:
            return False
        name = original.name.casefold()
        return all(term in name for term in self.searches)

    def accepts_type(self, content_type: str) -> bool:
        return self.types is None or content_type.lower() in self.types


def build_list_query(args: Mapping[str, Any]) -> ListQuery:
    """Turn the GraphQL arguments of listFiles into a ListQuery."""
    limit = args.get("limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if limit < 1:
        raise ValidationFailed(
            "limit must be at least 1.",
            data={"invalidFields": {"limit": {"code": "TOO_SMALL", "message": "At least 1.", "data": None}}},
        )
    limit = min(limit, MAX_LIMIT)
    after = args.get("after")
    where: Mapping[str, Any] = args.get("where") or {}

    types: frozenset[str] | None = None
    for given in (args.get("types"), [where["type"]] if where.get("type") else None, where.get("type_in")):
        if given:
            wanted = frozenset(t.lower() for t in given if isinstance(t, str))
            types = wanted if types is None else types & wanted

    ids: frozenset[str] | None = None
    for given in (args.get("ids"), where.get("id_in")):
        if given:
            wanted = frozenset(str(i) for i in given)
            ids = wanted if ids is None else ids & wanted

    searches = tuple(
        term.strip().casefold()
        for term in (args.get("search"), where.get("search"))
        if isinstance(term, str) and term.strip()
    )
    needs_tag = bool(
        args.get("tags")
        or where.get("tag")
        or where.get("tag_in")
        or where.get("tag_and_in")
        or where.get("tag_startsWith")
    )
    return ListQuery(
        limit=limit,
        after=decode_cursor(after) if after else None,
        types=types,
        searches=searches,
        ids=ids,
        matches_nothing=needs_tag or bool(where.get("createdBy")) or types == frozenset() or ids == frozenset(),
    )
