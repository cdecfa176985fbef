"""The catalog's pure parts: the opaque cursor, LIKE escaping, type wildcards and the filter's SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.gateway.catalog.cursor import decode_cursor, encode_cursor
from services.gateway.catalog.model import ListFilter
from services.gateway.catalog.query import build_where, like_escape, type_patterns
from shared.errors import ValidationFailed


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    when = datetime(2026, 11, 24, 20, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(when, "abc")) == (when, "abc")
    other_zone = when.astimezone(timezone(timedelta(hours=5)))
    assert decode_cursor(encode_cursor(other_zone, "x"))[0] == when


@pytest.mark.parametrize(
    "bad", ["", "!!!", "bnVsbA", "WyJub3QgYSBkYXRlIiwiYSJd", "WyIyMDI2LTExLTI0VDIwOjAwOjAwIiwiYSJd"]
)
def test_anything_else_is_not_a_cursor(bad: str) -> None:
    # "null", ["not a date","a"], and a time without a zone
    with pytest.raises(ValidationFailed):
        decode_cursor(bad)


def test_like_wildcards_are_escaped() -> None:
    assert like_escape("100%_a\\b") == "100\\%\\_a\\\\b"


def test_type_patterns_split_exact_types_from_wildcards() -> None:
    assert type_patterns(("image/*", "Application/PDF", "video/mp*")) == (["application/pdf"], ["image/%", "video/mp%"])
    assert type_patterns(("image/png", "*/*")) is None
    assert type_patterns(("*",)) is None


def test_every_condition_has_its_own_parameter_in_order() -> None:
    where = build_where(
        ListFilter(
            search="cat",
            types=("image/*",),
            tags_all=("a", "b"),
            tags_any=("c",),
            tag_starts_with="scope:",
            tag_not_starts_with="x_",
            ids=("1", "2"),
            created_by="u1",
            owner="u2",
        )
    )
    assert where.params == [
        "u2", "u1", ["1", "2"], "%cat%", ["image/%"], ["a", "b"], ["c"], "%\x1fscope:%", "%\x1fx\\_%"
    ]  # fmt: skip
    assert where.sql.startswith("status = 'ready' AND created_by = $1 AND created_by = $2")
    assert "NOT LIKE $9" in where.sql and "$10" not in where.sql


def test_no_filter_lists_every_ready_record() -> None:
    where = build_where(ListFilter())
    assert (where.sql, where.params) == ("status = 'ready'", [])
