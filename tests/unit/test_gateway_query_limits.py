"""Depth, field and alias counts of GraphQL operations, fragments expanded."""

from __future__ import annotations

from graphql import build_schema, get_introspection_query, parse, validate

from services.gateway.query_limits import CODE, QueryLimits, limits_rule, measure

SCHEMA = build_schema("type Query { a: A } type A { b: A, c: String }")


def errors(query: str, limits: QueryLimits) -> list[dict[str, object]]:
    found = validate(SCHEMA, parse(query), [limits_rule(limits)])
    return [dict(e.extensions or {}) for e in found]


def test_depth_fields_and_aliases_are_counted() -> None:
    cost = measure(parse("{ a { b { c } x: c } }"))[""]
    assert (cost.depth, cost.fields, cost.aliases) == (3, 4, 1)


def test_fragments_count_every_time_they_are_spread_without_blowing_up() -> None:
    levels = 30
    fragments = " ".join(
        f"fragment F{i} on A {{ x: b {{ ...F{i + 1} }} y: b {{ ...F{i + 1} }} }}" for i in range(levels)
    )
    query = f"query Q {{ a {{ ...F0 }} }} {fragments} fragment F{levels} on A {{ c }}"
    cost = measure(parse(query))["Q"]
    assert cost.fields > 2**levels and cost.depth == levels + 2


def test_the_rule_refuses_what_exceeds_a_limit() -> None:
    limits = QueryLimits(max_depth=3, max_fields=5, max_aliases=1)
    assert errors("{ a { b { c } } }", limits) == []
    assert [e["limit"] for e in errors("{ a { b { b { c } } } }", limits)] == ["depth"]
    assert [e["limit"] for e in errors("{ a { x: c y: c } }", limits)] == ["aliases"]
    refused = errors("{ a { c b { c } } z: a { c } }", limits)
    assert [e["limit"] for e in refused] == ["fields"] and refused[0]["code"] == CODE
    assert refused[0]["max"] == 5 and refused[0]["given"] == 6


def test_fragment_cycles_do_not_hang_the_rule() -> None:
    query = "{ a { ...F } } fragment F on A { b { ...G } } fragment G on A { b { ...F } }"
    assert measure(parse(query))[""].depth == 3


def test_the_standard_introspection_query_fits_the_defaults() -> None:
    cost = measure(parse(get_introspection_query()))["IntrospectionQuery"]
    defaults = QueryLimits()
    assert cost.depth <= defaults.max_depth and cost.fields <= defaults.max_fields
