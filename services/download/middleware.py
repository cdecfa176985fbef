"""Per request: a correlation id (taken from ``x-correlation-id`` or made), bound to the logs and
echoed in the response; one access log line; the request counted by status."""

from __future__ import annotations

import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.download.metrics import Metrics
from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context, get_logger

log = get_logger(__name__)
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def accepted_correlation_id(value: str | None) -> str | None:
    """A caller's id if it is safe to log and echo (short, no spaces or control characters)."""
    if value is None:
        return None
    value = value.strip()
    return value if _VALID_ID.match(value) else None


def correlation_id_of(request: Request) -> str | None:
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) else None


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = accepted_correlation_id(Headers(scope=scope).get(CORRELATION_HEADER))
        correlation_id = bind_correlation_id(incoming)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.monotonic()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
                self._metrics.request_seconds.observe(time.monotonic() - started)
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            method = scope["method"] if scope["method"] in {"GET", "HEAD"} else "other"
            self._metrics.requests.labels(method=method, status=str(status)).inc()
            quiet = scope["path"] in _QUIET_PATHS and status < 500
            (log.debug if quiet else log.info)(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
            clear_context()
