"""When a GraphQL response failed as a whole for a retryable reason (503 + Retry-After), and when not."""

from __future__ import annotations

from typing import Any

from services.gateway.retryable import retryable_error, whole_failure, with_errors_listed

DOWN = {"code": "DATABASE_UNAVAILABLE", "message": "down", "data": {"retryable": True, "retryAfter": 7}}
NOT_FOUND = {"code": "NOT_FOUND", "message": "no", "data": None}


def fm(**fields: Any) -> dict[str, Any]:
    return {"data": {"fileManager": {"__typename": "FmQuery", **fields}, "__typename": "Query"}}


def test_every_operation_down_is_a_whole_failure_with_the_longest_wait() -> None:
    busy = {"code": "RESIZE_BUSY", "message": "busy", "data": None}
    result = fm(listFiles={"data": None, "error": DOWN}, getSettings={"data": None, "error": busy})
    assert whole_failure([result]) == 7
    assert whole_failure([result, fm(getFile={"data": None, "error": DOWN})]) == 7  # a batch


def test_one_success_or_a_callers_error_keeps_200() -> None:
    assert whole_failure([fm(listFiles={"data": None, "error": DOWN}, getFile={"data": {}, "error": None})]) is None
    assert (
        whole_failure([fm(listFiles={"data": None, "error": DOWN}, getFile={"data": None, "error": NOT_FOUND})]) is None
    )
    assert whole_failure([fm(listFiles={"data": None, "error": DOWN}), {"data": {"__typename": "Query"}}]) is None
    assert whole_failure([{"errors": [{"message": "syntax"}]}]) is None
    assert whole_failure([]) is None


def test_a_null_field_with_a_retryable_graphql_error_counts() -> None:
    result = {
        "data": {"fileManager": {"version": None}},
        "errors": [
            {"message": "down", "path": ["fileManager", "version"], "extensions": {"code": "DATABASE_UNAVAILABLE"}}
        ],
    }
    assert whole_failure([result]) == 5  # no retryAfter given: the default
    assert whole_failure([{"data": {"fileManager": {"version": "0002"}}}]) is None


def test_retryable_by_data_or_by_code() -> None:
    assert retryable_error({"code": "ANYTHING", "data": {"retryable": True}})
    assert retryable_error({"code": "STORAGE_UNAVAILABLE", "data": None})
    assert not retryable_error({"code": "FORBIDDEN", "data": {"retryable": False}})
    assert not retryable_error(None)


def test_envelope_errors_are_listed_for_apollo_once() -> None:
    listed = with_errors_listed(fm(listFiles={"data": None, "error": DOWN}))
    assert listed["errors"] == [
        {"message": "down", "path": ["fileManager", "listFiles"],
         "extensions": {"code": "DATABASE_UNAVAILABLE", "data": DOWN["data"]}}
    ]  # fmt: skip
    assert with_errors_listed(listed)["errors"] == listed["errors"]
