"""How GraphQL errors are shown: caller mistakes as worded, crashes without internals."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, parse

from services.gateway.endpoint import error_response
from services.gateway.schema import INTERNAL_MESSAGE, format_error
from shared.errors import Unauthorized


def test_an_exception_while_resolving_is_shown_without_internals() -> None:
    crash = RuntimeError("password=hunter2 at db.internal:5432")
    error = GraphQLError(str(crash), path=["fileManager", "getFile"], original_error=crash)
    formatted = format_error(error)
    assert formatted["message"] == INTERNAL_MESSAGE
    assert formatted["extensions"] == {"code": "INTERNAL"}
    assert formatted["path"] == ["fileManager", "getFile"]
    assert "hunter2" not in str(formatted)


def test_caller_mistakes_keep_their_message_and_get_a_stable_code() -> None:
    error = GraphQLError("Cannot query field 'nope' on type 'Query'.")
    assert format_error(error)["message"] == "Cannot query field 'nope' on type 'Query'."
    assert format_error(error)["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    with pytest.raises(GraphQLError) as syntax:
        parse("query {")
    assert format_error(syntax.value)["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    limited = GraphQLError("too deep", extensions={"code": "QUERY_TOO_COMPLEX", "max": 10})
    assert format_error(limited)["extensions"] == {"code": "QUERY_TOO_COMPLEX", "max": 10}


def test_unauthorized_response_carries_code_and_challenge() -> None:
    missing = error_response(Unauthorized("A bearer token is required.", data={"reason": "missing"}))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="files"'
    assert b'"code":"UNAUTHORIZED"' in missing.body
    invalid = error_response(Unauthorized("The token has expired.", data={"reason": "expired"}))
    assert 'error="invalid_token"' in invalid.headers["www-authenticate"]
