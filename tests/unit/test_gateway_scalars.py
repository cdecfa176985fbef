"""The Number, JSON and DateTime scalars, alone and inside a real schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from ariadne import QueryType, graphql_sync, make_executable_schema

from services.gateway.scalars import (
    parse_datetime,
    parse_number,
    scalar_types,
    serialize_datetime,
    serialize_number,
)

BIG = 5 * 1024**3  # 5 GiB: beyond GraphQL's 32-bit Int


@pytest.mark.parametrize(("value", "expected"), [(BIG, BIG), (10.0, 10), (1.5, 1.5), (0, 0), ("12", 12), ("2.5", 2.5)])
def test_serialize_number(value: Any, expected: Any) -> None:
    result = serialize_number(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value", [True, None, "abc", float("nan"), float("inf"), [1]])
def test_serialize_number_refuses_non_numbers(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        serialize_number(value)


def test_parse_number_accepts_whole_numbers_only() -> None:
    assert parse_number(BIG) == BIG
    assert parse_number(3e9) == 3_000_000_000
    assert parse_number(7.0) == 7
    for bad in (1.5, "12", True, None, float("inf")):
        with pytest.raises(ValueError):
            parse_number(bad)


def test_datetime_round_trip_in_utc_with_z() -> None:
    moment = datetime(2026, 11, 24, 20, 0, 0, 123000, tzinfo=UTC)
    assert serialize_datetime(moment) == "2026-11-24T20:00:00.123Z"
    assert parse_datetime("2026-11-24T20:00:00.123Z") == moment
    local = datetime(2026, 11, 24, 21, 0, tzinfo=timezone(timedelta(hours=1)))
    assert serialize_datetime(local) == "2026-11-24T20:00:00.000Z"
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


SDL = """
scalar Number
scalar JSON
scalar DateTime
type Query { echo(n: Number!): Number, json(v: JSON): JSON, at(t: DateTime!): DateTime }
"""


def _schema() -> Any:
    query = QueryType()
    query.set_field("echo", lambda _obj, _info, n: n)
    query.set_field("json", lambda _obj, _info, v=None: v)
    query.set_field("at", lambda _obj, _info, t: t)
    return make_executable_schema(SDL, query, *scalar_types())


def test_number_beyond_int32_through_variables_and_literals() -> None:
    schema = _schema()
    ok, result = graphql_sync(schema, {"query": "query($n: Number!) { echo(n: $n) }", "variables": {"n": BIG}})
    assert ok and result["data"] == {"echo": BIG}
    ok, result = graphql_sync(schema, {"query": f"{{ echo(n: {BIG}) }}"})
    assert ok and result["data"] == {"echo": BIG}
    ok, result = graphql_sync(schema, {"query": "{ echo(n: 3e9) }"})
    assert ok and result["data"] == {"echo": 3_000_000_000}


def test_number_refuses_fractions_and_strings() -> None:
    schema = _schema()
    ok, result = graphql_sync(schema, {"query": "query($n: Number!) { echo(n: $n) }", "variables": {"n": 1.5}})
    assert not ok and "whole number" in result["errors"][0]["message"]
    ok, result = graphql_sync(schema, {"query": '{ echo(n: "12") }'})
    assert not ok


def test_json_literal_and_datetime_in_a_schema() -> None:
    schema = _schema()
    ok, result = graphql_sync(schema, {"query": '{ json(v: {a: [1, "x", null], b: true}) }'})
    assert ok and result["data"] == {"json": {"a": [1, "x", None], "b": True}}
    ok, result = graphql_sync(schema, {"query": '{ at(t: "2026-01-02T03:04:05Z") }'})
    assert ok and result["data"] == {"at": "2026-01-02T03:04:05.000Z"}
