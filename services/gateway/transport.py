"""The POST /graphql body: one operation or a batch (a JSON array), and per-operation cleanup.

Pure functions: nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse

from shared.errors import BadRequest, LimitExceeded


@dataclass(frozen=True)
class Request:
    """The operations of one HTTP request; ``batched`` when the body was an array."""

    operations: list[Any]
    batched: bool


@dataclass(frozen=True)
class PreparedOperation:
    """An operation ready for ``ariadne.graphql``: its data and, when it parsed, its document."""

    data: Any
    document: DocumentNode | None = None
    error: GraphQLError | None = None  # the query did not parse: answered without executing

    @property
    def operation_name(self) -> str | None:
        if isinstance(self.data, dict) and isinstance(self.data.get("operationName"), str):
            return str(self.data["operationName"])
        return None


def parse_body(body: bytes, *, max_batch: int) -> Request:
    """Decode the body; BadRequest for anything that is neither an object nor a non-empty array."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("The body must be JSON.", data={"reason": str(exc)[:200]}) from exc
    except RecursionError as exc:
        raise BadRequest("The body is nested too deeply.") from exc
    if isinstance(payload, dict):
        return Request(operations=[payload], batched=False)
    if isinstance(payload, list):
        if not payload:
            raise BadRequest("A batch must contain at least one operation.")
        if len(payload) > max_batch:
            raise LimitExceeded(
                f"A batch may contain at most {max_batch} operations.",
                data={"max": max_batch, "given": len(payload)},
            )
        return Request(operations=payload, batched=True)
    raise BadRequest("The body must be a JSON object or an array of them.")


def prepare(operation: Any, parse_document: Callable[[str], DocumentNode] = parse) -> PreparedOperation:
    """Parse the query once and drop variables the operation does not declare.

    Clients such as Webiny's admin app send extra variables (``sort``, ``scope``); GraphQL
    ignores them, and dropping them keeps them out of logs and resolvers. Operations without a
    query string are passed through untouched so that ariadne reports them as GraphQL errors; a
    query that does not parse (or has too many tokens, or nests too deeply for the parser) carries
    its error and is not parsed again.
    """
    if not isinstance(operation, dict) or not isinstance(operation.get("query"), str):
        return PreparedOperation(operation)
    try:
        document = parse_document(operation["query"])
    except GraphQLError as exc:
        return PreparedOperation(operation, error=exc)
    variables = operation.get("variables")
    if not isinstance(variables, dict):
        return PreparedOperation(operation, document)
    name = operation.get("operationName")
    declared = declared_variables(document, name if isinstance(name, str) else None)
    kept = {key: value for key, value in variables.items() if key in declared}
    return PreparedOperation({**operation, "variables": kept}, document)


def declared_variables(document: DocumentNode, operation_name: str | None) -> set[str]:
    """Variable names of the operation that will run (of every operation when it is ambiguous)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        chosen = [op for op in operations if op.name is not None and op.name.value == operation_name]
        operations = chosen or operations
    return {definition.variable.name.value for op in operations for definition in op.variable_definitions or ()}
