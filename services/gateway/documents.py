"""Parsed and validated GraphQL documents, remembered by their text.

Clients such as Webiny's admin app send the same few operations over and over; parsing and
validating one (with the query limits) costs about 2 ms, more than the catalog's own work for a
page. The cache keeps the most recent ``maxsize`` documents of at most ``max_chars`` characters
(longer ones are parsed and validated every time, so the cache stays small). A document of more
than ``max_tokens`` tokens is refused before it is parsed in full. Validation depends
only on the document, the schema and the rules, which are fixed for one endpoint.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, TypeInfo, parse, validate


class _Lru:
    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._maxsize = maxsize

    def get(self, key: str) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._maxsize:
            self._items.popitem(last=False)


class DocumentCache:
    def __init__(self, *, maxsize: int = 256, max_chars: int = 20_000, max_tokens: int = 5_000) -> None:
        self._parsed = _Lru(maxsize)
        self._validated = _Lru(maxsize)
        self._max_chars = max_chars
        self._max_tokens = max_tokens

    def parse(self, text: str) -> DocumentNode:
        """``graphql.parse``, remembered; GraphQLError for a syntax error or a document of more than
        ``max_tokens`` tokens (the query limits need a parsed document, so parsing is bounded too)."""
        if len(text) > self._max_chars:
            return parse(text, max_tokens=self._max_tokens)
        document: DocumentNode | None = self._parsed.get(text)
        if document is None:
            document = parse(text, max_tokens=self._max_tokens)
            self._parsed.put(text, document)
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document_ast: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        max_errors: int | None = None,
        type_info: TypeInfo | None = None,
    ) -> list[GraphQLError]:
        """A ``query_validator`` for ariadne: ``graphql.validate``, remembered by document text."""
        kwargs: dict[str, Any] = {} if type_info is None else {"type_info": type_info}
        text = document_ast.loc.source.body if document_ast.loc is not None else None
        if text is None or len(text) > self._max_chars:
            return validate(schema, document_ast, rules, max_errors, **kwargs)
        errors: list[GraphQLError] | None = self._validated.get(text)
        if errors is None:
            errors = validate(schema, document_ast, rules, max_errors, **kwargs)
            self._validated.put(text, errors)
        return errors
