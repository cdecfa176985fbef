"""POST /graphql: authenticate, read a bounded body, run one operation or a batch, answer JSON."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ariadne import graphql
from graphql import ASTValidationRule, GraphQLSchema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.gateway.auth import Principal, TokenVerifier
from services.gateway.context import RequestContext
from services.gateway.documents import DocumentCache
from services.gateway.metrics import Metrics
from services.gateway.retryable import retry_after_of, whole_failure, with_errors_listed
from services.gateway.schema import QuietErrorLog, format_error
from services.gateway.transport import PreparedOperation, parse_body, prepare
from shared.errors import PayloadTooLarge, ServiceError, Unauthorized
from shared.http import correlation_id_of
from shared.logging import get_logger

ContextFactory = Callable[[Principal, str], RequestContext]


def error_response(exc: ServiceError) -> JSONResponse:
    """An HTTP-level error: the stable code in ``error`` and, for GraphQL clients, in ``errors``."""
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if exc.retryable:
        headers["Retry-After"] = str(retry_after_of(exc.to_dict()))
    if isinstance(exc, Unauthorized):
        reason = (exc.data or {}).get("reason")
        headers["WWW-Authenticate"] = (
            'Bearer realm="files"' if reason == "missing" else 'Bearer realm="files", error="invalid_token"'
        )
    return JSONResponse(
        {
            "error": exc.to_dict(),
            "errors": [{"message": exc.message, "extensions": {"code": exc.code, "data": exc.data}}],
        },
        status_code=exc.status,
        headers=headers,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.", data={"max": limit})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.", data={"max": limit})
        chunks.append(chunk)
    return b"".join(chunks)


class GraphQLEndpoint:
    def __init__(
        self,
        schema: GraphQLSchema,
        verifier: TokenVerifier,
        metrics: Metrics,
        context_factory: ContextFactory,
        *,
        max_body_bytes: int,
        max_batch_size: int,
        validation_rules: list[type[ASTValidationRule]] | None = None,
    ) -> None:
        self._schema = schema
        self._verifier = verifier
        self._metrics = metrics
        self._context_factory = context_factory
        self._max_body_bytes = max_body_bytes
        self._max_batch_size = max_batch_size
        self._validation_rules = validation_rules or []
        self._documents = DocumentCache()
        self._error_log = QuietErrorLog(logging.getLogger("ariadne"), {})
        self._log = get_logger(__name__)

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return JSONResponse(
                {"error": {"code": "METHOD_NOT_ALLOWED", "message": "Send GraphQL as POST.", "data": None}},
                status_code=405,
                headers={"Allow": "POST"},
            )
        started = time.perf_counter()
        refused: ServiceError | None = None
        try:
            response, names = await self._handle(request)
            outcome = "ok" if response.status_code < 400 else "invalid"
        except ServiceError as exc:
            refused = exc
            response, names = error_response(exc), []
            outcome = exc.code.lower()
        elapsed = time.perf_counter() - started
        self._metrics.requests.labels(outcome).inc()
        self._metrics.duration.observe(elapsed)
        self._log.info(
            "graphql request",
            status=response.status_code,
            operations=names,
            duration_ms=round(elapsed * 1000, 1),
            **({"code": refused.code, "reason": refused.message} if refused else {}),
        )
        return response

    async def _handle(self, request: Request) -> tuple[Response, list[str | None]]:
        principal = await self._verifier.authenticate(request.headers.get("authorization"))
        body = await read_body(request, self._max_body_bytes)
        parsed = parse_body(body, max_batch=self._max_batch_size)
        correlation_id = correlation_id_of(request) or ""
        context = self._context_factory(principal, correlation_id)
        prepared = [prepare(operation, self._documents.parse) for operation in parsed.operations]
        results = await asyncio.gather(*(self._execute(op, context) for op in prepared))
        names = [op.operation_name for op in prepared]
        retry_after = whole_failure([result for _, result in results])
        if retry_after is not None:
            # Every operation failed because a dependency is down: 503 + Retry-After (retryable.py).
            listed = [with_errors_listed(result) for _, result in results]
            return JSONResponse(
                listed if parsed.batched else listed[0],
                status_code=503,
                headers={"Retry-After": str(retry_after), "Cache-Control": "no-store"},
            ), names
        if parsed.batched:
            return JSONResponse([result for _, result in results]), names
        _, result = results[0]
        # GraphQL over HTTP: a request that never reached execution (no data) is a 400.
        status = 200 if isinstance(result, dict) and result.get("data") is not None else 400
        return JSONResponse(result, status_code=status), names

    async def _execute(self, operation: PreparedOperation, context: RequestContext) -> tuple[bool, Any]:
        if operation.error is not None:
            return False, {"errors": [format_error(operation.error)]}
        return await graphql(
            self._schema,
            operation.data,
            context_value=context,
            query_document=operation.document,
            error_formatter=format_error,
            validation_rules=self._validation_rules,
            query_validator=self._documents.validate,
            logger=self._error_log,
            debug=False,
        )
