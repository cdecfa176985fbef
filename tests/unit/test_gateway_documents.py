"""Parsed and validated documents are remembered by their text, within bounds."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, build_schema, specified_rules

from services.gateway.documents import DocumentCache

SCHEMA = build_schema("type Query { a: String }")


def test_a_document_is_parsed_and_validated_once() -> None:
    cache = DocumentCache()
    first = cache.parse("{ a }")
    assert cache.parse("{ a }") is first
    errors = cache.validate(SCHEMA, first, specified_rules)
    assert errors == [] and cache.validate(SCHEMA, first, specified_rules) is errors
    bad = cache.parse("{ b }")
    refused = cache.validate(SCHEMA, bad, specified_rules)
    assert [e.message for e in refused] == ["Cannot query field 'b' on type 'Query'. Did you mean 'a'?"]
    assert cache.validate(SCHEMA, cache.parse("{ b }"), specified_rules) is refused


def test_syntax_errors_are_raised_every_time() -> None:
    cache = DocumentCache()
    for _ in range(2):
        with pytest.raises(GraphQLError):
            cache.parse("{ a")


def test_the_cache_is_bounded() -> None:
    cache = DocumentCache(maxsize=2, max_chars=50)
    one = cache.parse("{ a }")
    cache.parse("{ a a }")
    cache.parse("{ a a a }")
    assert cache.parse("{ a }") is not one, "the oldest entry was dropped"
    long_query = "{ " + "a " * 40 + "}"
    assert cache.parse(long_query) is not cache.parse(long_query), "long documents are not kept"
