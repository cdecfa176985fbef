"""``GET/HEAD /files/{key}``: resolve which object answers, then respond with it (or the error)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from services.download.formats import checked_key
from services.download.resolver import VariantResolver
from services.download.responses import FileResponder, error_response
from shared.errors import Internal, ServiceError
from shared.http import correlation_id_of
from shared.logging import get_logger

log = get_logger(__name__)


class FilesEndpoint:
    def __init__(self, resolver: VariantResolver, responder: FileResponder) -> None:
        self._resolver = resolver
        self._responder = responder

    async def handle(self, request: Request) -> Response:
        try:
            key = checked_key(str(request.path_params.get("key", "")))
            resolved = await self._resolver.resolve(
                key,
                request.query_params.get("width"),
                correlation_id=correlation_id_of(request),
                format_param=request.query_params.get("format"),
                accept=request.headers.get("accept"),
            )
            return await self._responder.respond(
                request, resolved.info, vary_accept=resolved.varies_on_accept, body=resolved.body
            )
        except ServiceError as exc:
            if exc.status >= 500:
                log.warning("download failed", code=exc.code, error=exc.message)
            return error_response(exc)
        except Exception:
            log.exception("unexpected error")
            return error_response(Internal())
