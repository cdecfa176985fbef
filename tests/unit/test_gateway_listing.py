"""listFiles arguments: limits, cursors and the filters an S3-backed list can honour."""

from __future__ import annotations

import pytest

from services.gateway.listing import DEFAULT_LIMIT, MAX_LIMIT, build_list_query, decode_cursor, encode_cursor
from shared.errors import ValidationFailed
from shared.keys import OriginalKey

KEY = "0123456789abcdef0123456789abcdef/Photo of me.jpg"


def test_cursor_round_trip_and_opacity() -> None:
    cursor = encode_cursor(KEY)
    assert "/" not in cursor and KEY not in cursor
    assert decode_cursor(cursor) == KEY


@pytest.mark.parametrize("cursor", ["!!!", "aGVsbG8", encode_cursor("variants/x/y")])
def test_foreign_cursors_are_validation_errors(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor)


def test_limits() -> None:
    assert build_list_query({}).limit == DEFAULT_LIMIT
    assert build_list_query({"limit": 1000}).limit == MAX_LIMIT
    with pytest.raises(ValidationFailed):
        build_list_query({"limit": 0})


def test_filters_combine() -> None:
    query = build_list_query(
        {"types": ["image/JPEG", "image/png"], "search": "Photo", "where": {"type_in": ["image/jpeg"]}}
    )
    assert query.types == frozenset({"image/jpeg"})
    original = OriginalKey("0123456789abcdef0123456789abcdef", "Photo of me.jpg")
    assert query.accepts_key(original)
    assert not query.accepts_key(OriginalKey(original.file_id, "other.jpg"))
    assert query.accepts_type("image/jpeg") and not query.accepts_type("image/png")


def test_ids_filter() -> None:
    query = build_list_query({"ids": ["0123456789abcdef0123456789abcdef"]})
    assert query.accepts_key(OriginalKey("0123456789abcdef0123456789abcdef", "a"))
    assert not query.accepts_key(OriginalKey("f" * 32, "a"))


@pytest.mark.parametrize(
    "args",
    [
        {"tags": ["holiday"]},
        {"where": {"tag_startsWith": "scope:"}},
        {"where": {"tag_in": ["a"]}},
        {"where": {"createdBy": "someone"}},
        {"types": ["image/png"], "where": {"type": "image/jpeg"}},
    ],
)
def test_filters_no_catalog_less_file_can_satisfy_match_nothing(args: dict[str, object]) -> None:
    assert build_list_query(args).matches_nothing


def test_what_the_admin_app_sends_for_its_main_view_matches_everything() -> None:
    query = build_list_query(
        {"limit": 50, "tags": [], "types": [], "where": {"tag_not_startsWith": "scope:"}, "after": None}
    )
    assert not query.matches_nothing and query.types is None and query.limit == 50
