"""Source ``webhook``: notifications POSTed to the bridge.

- ``POST /events/seaweedfs``: the SeaweedFS filer webhook (``[notification.webhook]``).
- ``POST /events/s3``: S3-format notifications as MinIO (or anything speaking AWS's format) sends them.

Each request is normalized, published with confirms, and only then answered ``204``; ``503`` when
the broker did not confirm (the sender may retry), ``400`` for input that is not a notification.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.bridge.metrics import Metrics
from services.bridge.normalize import normalize_s3_notification, normalize_seaweedfs_webhook
from services.bridge.publisher import Publisher
from shared.errors import BadRequest, PayloadTooLarge, ServiceError, Unauthorized
from shared.events import MalformedEvent, ObjectEvent
from shared.http import accepted_correlation_id
from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context, get_logger

log = get_logger(__name__)

MAX_BODY = 4 * 1024 * 1024

Normalizer = Callable[[bytes, str, datetime], list[ObjectEvent]]


def _seaweedfs(body: bytes, bucket: str, received: datetime) -> list[ObjectEvent]:
    return normalize_seaweedfs_webhook(body, bucket, received=received)


def _s3(body: bytes, bucket: str, received: datetime) -> list[ObjectEvent]:
    return normalize_s3_notification(body, bucket, received=received)


class WebhookReceiver:
    def __init__(
        self,
        *,
        publisher: Publisher,
        bucket: str,
        metrics: Metrics,
        token: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._publisher = publisher
        self._bucket = bucket
        self._metrics = metrics
        self._token = token
        self._clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/events/seaweedfs", self._endpoint("seaweedfs-webhook", _seaweedfs), methods=["POST"]),
            Route("/events/s3", self._endpoint("s3-webhook", _s3), methods=["POST"]),
        ]

    async def check(self) -> None:
        """Readiness of the source itself: nothing to check beyond being served."""

    def _endpoint(self, source: str, normalize: Normalizer) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            correlation_id = bind_correlation_id(accepted_correlation_id(request.headers.get(CORRELATION_HEADER)))
            try:
                return await self._receive(request, source, normalize, correlation_id)
            except ServiceError as exc:
                if exc.status >= 500:
                    log.error("could not publish a notification", source=source, error=exc.message)
                else:
                    log.warning("refused a notification", source=source, status=exc.status, error=exc.message)
                return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)
            finally:
                clear_context()

        return endpoint

    async def _receive(self, request: Request, source: str, normalize: Normalizer, correlation_id: str) -> Response:
        self._authorize(request)
        body = await _read_body(request)
        try:
            events = normalize(body, self._bucket, self._clock())
        except MalformedEvent as exc:
            self._metrics.records.labels(source=source, outcome="malformed").inc()
            await self._publisher.dead_letter(body, reason=str(exc), source=source)
            raise BadRequest(f"not a notification: {exc}") from exc
        if events:
            await self._publisher.publish(events, correlation_id=correlation_id)
        self._metrics.records.labels(source=source, outcome="published" if events else "dropped").inc()
        return Response(status_code=204)

    def _authorize(self, request: Request) -> None:
        """Bearer token, compared in constant time (as bytes: any header, even one that is not
        ASCII, is a refusal, not an error). No token configured: open (dev mode only, see settings)."""
        if not self._token:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        matches = hmac.compare_digest(given.strip().encode(), self._token.encode())
        if scheme.lower() != "bearer" or not matches:
            raise Unauthorized("a valid bearer token is required to post notifications")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge("The notification is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge("The notification is too large.")
    return bytes(body)
