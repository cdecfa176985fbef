"""Turning a stored object (or an error) into the HTTP response.

Order of decisions for an object: 304 if the client's copy is current, 302 to a pre-signed URL
if the object is big and inert (``may_redirect``: script-capable types and SVG are always served
here, with their safety headers), then 200/206: from memory for small objects (``CachedObjects``), else
streamed from S3 (HEAD: the same headers, no body).
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Send

from services.download.content_safety import may_redirect, safety_headers
from services.download.http_rules import (
    IMMUTABLE,
    NO_STORE,
    ByteRange,
    http_date,
    is_not_modified,
    parse_range,
    quote_etag,
    range_applies,
)
from services.download.objects import CachedObjects
from shared.errors import DependencyUnavailable, RangeNotSatisfiable, ServiceError
from shared.s3 import ObjectInfo, ObjectStream

RETRY_AFTER_SECONDS = 2


class ObjectStreamResponse(StreamingResponse):
    """A streaming response that always closes the S3 body: also when the client went away
    before the first chunk (the iterator then never ran, so its own ``finally`` cannot)."""

    def __init__(self, stream: ObjectStream, *, status_code: int, headers: dict[str, str]) -> None:
        super().__init__(stream.chunks, status_code=status_code, headers=headers)
        self._stream = stream

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._stream.chunks.aclose()
            self._stream.close()


class FileResponder:
    def __init__(
        self,
        objects: CachedObjects,
        *,
        redirect_threshold: int,
        presigned_expires: int,
        redirect_max_age: int,
    ) -> None:
        self._objects = objects
        self._threshold = redirect_threshold
        self._expires = presigned_expires
        self._redirect_max_age = redirect_max_age

    async def respond(
        self, request: Request, info: ObjectInfo, *, vary_accept: bool = False, body: bytes | None = None
    ) -> Response:
        """The response for ``info``; ``body``: its bytes when already in hand (a new variant)."""
        validators = {
            "ETag": quote_etag(info.etag),
            "Last-Modified": http_date(info.last_modified),
            "Cache-Control": IMMUTABLE,
        }
        vary = {"Vary": "Accept"} if vary_accept else {}
        validators.update(vary)
        if is_not_modified(
            if_none_match=request.headers.get("if-none-match"),
            if_modified_since=request.headers.get("if-modified-since"),
            etag=info.etag,
            last_modified=info.last_modified,
        ):
            return Response(status_code=304, headers=validators)
        if info.size > self._threshold and may_redirect(info.content_type):
            return self._redirect(info, vary)

        headers = {
            **validators,
            "Content-Type": info.content_type,
            "Accept-Ranges": "bytes",
            "X-Content-Type-Options": "nosniff",
            **safety_headers(info.content_type, info.key),
        }
        if request.method == "HEAD":  # Range is defined for GET only (RFC 9110 14.2)
            return Response(b"", headers={**headers, "Content-Length": str(info.size)})

        byte_range = None
        if range_applies(request.headers.get("if-range"), etag=info.etag, last_modified=info.last_modified):
            byte_range = parse_range(request.headers.get("range"), info.size)
        if info.size == 0:  # S3 refuses ranged reads of nothing; nothing to stream anyway
            return Response(b"", headers={**headers, "Content-Length": "0"})

        small = (info, body) if body is not None else await self._objects.small_body(info)
        if small is not None:
            fresh, body = small
            if fresh.etag != info.etag:  # replaced since the HEAD: answer for what was read
                return await self.respond(request, fresh, vary_accept=vary_accept)
            return self._from_memory(body, headers, byte_range)

        stream = await self._objects.store.open_stream(info.key, byte_range=byte_range.header if byte_range else None)
        headers["Content-Length"] = str(stream.length)
        status = 200
        if byte_range is not None:
            status = 206
            headers["Content-Range"] = stream.content_range or byte_range.content_range
        return ObjectStreamResponse(stream, status_code=status, headers=headers)

    @staticmethod
    def _from_memory(body: bytes, headers: dict[str, str], byte_range: ByteRange | None) -> Response:
        if byte_range is None:
            return Response(body, status_code=200, headers={**headers, "Content-Length": str(len(body))})
        part = body[byte_range.start : byte_range.end + 1]
        headers = {**headers, "Content-Length": str(len(part)), "Content-Range": byte_range.content_range}
        return Response(part, status_code=206, headers=headers)

    def _redirect(self, info: ObjectInfo, vary: dict[str, str]) -> Response:
        # The type is pinned in the signature: S3 answers the type judged inert here, even if the
        # object was replaced since this (possibly cached) HEAD.
        url = self._objects.store.presigned_get(info.key, expires_in=self._expires, content_type=info.content_type)
        return Response(
            status_code=302,
            headers={"Location": url, "Cache-Control": f"public, max-age={self._redirect_max_age}", **vary},
        )


def error_response(exc: ServiceError) -> Response:
    """``{"error": {"code", "message"}}`` with the error's status; never cached."""
    headers = {"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff"}
    if exc.retryable:
        wait = exc.retry_after if isinstance(exc, DependencyUnavailable) else RETRY_AFTER_SECONDS
        headers["Retry-After"] = str(wait)
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size}"
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status, headers=headers)
