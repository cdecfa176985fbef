"""The executable schema (schema.graphql + resolvers + scalars) and how errors are shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path, make_executable_schema, unwrap_graphql_error
from graphql import GraphQLError, GraphQLSchema, GraphQLSyntaxError

from services.gateway.resolvers import bindables
from services.gateway.scalars import scalar_types
from shared.logging import get_logger

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
INTERNAL_MESSAGE = "Internal server error."
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"  # the query is not GraphQL
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"  # not valid for the schema, or bad variables


def build_schema() -> GraphQLSchema:
    return make_executable_schema(load_schema_from_path(str(SCHEMA_PATH)), *bindables(), *scalar_types())


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Caller mistakes (syntax, validation, variables) as graphql-core words them, with a stable
    ``extensions.code`` (their own, or GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED); an
    exception raised while resolving (it has a path) is logged with its traceback and shown
    without internals."""
    original = unwrap_graphql_error(error)
    if error.path is not None and original is not None and not isinstance(original, GraphQLError):
        get_logger(__name__).error(
            "resolver failed",
            path=list(error.path),
            exc_info=(type(original), original, original.__traceback__),
        )
        formatted: dict[str, Any] = {
            "message": INTERNAL_MESSAGE,
            "path": list(error.path),
            "extensions": {"code": "INTERNAL"},
        }
        if error.locations:
            formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
        return formatted
    shown: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = dict(error.extensions or {})
    if "code" not in extensions and error.path is None:
        extensions["code"] = PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else VALIDATION_FAILED
        shown["extensions"] = extensions
    return shown


class QuietErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """ariadne logs every GraphQL error at ERROR; ``format_error`` already logs what matters."""

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, msg, *args, **kwargs)
