"""The /graphql body: single or batched operations, limits, undeclared variables."""

from __future__ import annotations

import json

import pytest

from services.gateway.transport import parse_body, prepare
from shared.errors import BadRequest, LimitExceeded

QUERY = (
    "query ListFiles($limit: Int, $types: [String]) "
    "{ fileManager { listFiles(limit: $limit, types: $types) { meta { cursor } } } }"
)


def test_single_object_and_array() -> None:
    single = parse_body(b'{"query": "{ __typename }"}', max_batch=5)
    assert not single.batched and single.operations == [{"query": "{ __typename }"}]
    batch = parse_body(json.dumps([{"query": "a"}, {"query": "b"}]).encode(), max_batch=5)
    assert batch.batched and [op["query"] for op in batch.operations] == ["a", "b"]


@pytest.mark.parametrize("body", [b"{nope", b"", b"[]", b'"query"', b"42", b"\xff\xfe"])
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_body(body, max_batch=5)
    assert caught.value.status == 400


def test_batch_size_is_limited() -> None:
    with pytest.raises(LimitExceeded) as caught:
        parse_body(json.dumps([{"query": "{ a }"}] * 6).encode(), max_batch=5)
    assert caught.value.data == {"max": 5, "given": 6}


def test_undeclared_variables_are_dropped() -> None:
    prepared = prepare(
        {
            "query": QUERY,
            "operationName": "ListFiles",
            "variables": {"limit": 40, "types": None, "sort": ["createdOn_DESC"], "scope": "x"},
        }
    )
    assert prepared.document is not None
    assert prepared.data["variables"] == {"limit": 40, "types": None}
    assert prepared.operation_name == "ListFiles"


def test_variables_of_the_named_operation_only() -> None:
    query = "query A($x: Int) { a(x: $x) } query B($y: Int) { b(y: $y) }"
    prepared = prepare({"query": query, "operationName": "B", "variables": {"x": 1, "y": 2}})
    assert prepared.data["variables"] == {"y": 2}


def test_malformed_operations_pass_through_for_graphql_to_report() -> None:
    assert prepare("nope").data == "nope"
    broken = {"query": "query {", "variables": {"a": 1}}
    prepared = prepare(broken)
    assert prepared.document is None and prepared.data == broken


def test_a_body_nested_too_deeply_is_a_bad_request() -> None:
    from services.gateway.transport import parse_body
    from shared.errors import BadRequest

    with pytest.raises(BadRequest):
        parse_body(b"[" * 100_000, max_batch=50)


def test_a_query_that_does_not_parse_carries_its_error_and_is_not_parsed_again() -> None:
    from services.gateway.documents import DocumentCache
    from services.gateway.transport import prepare

    cache = DocumentCache(max_tokens=1000)
    for query, words in (
        ("{ a", "Expected Name"),
        ("{ " + "a " * 1000 + "}", "more than 1000 tokens"),
        ("{" + "a{" * 300 + "b" + "}" * 301, "nested too deeply"),
    ):
        prepared = prepare({"query": query}, cache.parse)
        assert prepared.document is None and prepared.error is not None and words in prepared.error.message
