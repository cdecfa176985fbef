"""Per request: one access log line (with the correlation id bound by the outer
``shared.http.CorrelationIdMiddleware``) and the request counted by status."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.download.metrics import Metrics
from shared.logging import get_logger

log = get_logger(__name__)
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_and_count(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self._metrics.request_seconds.observe(time.monotonic() - started)
            await send(message)

        try:
            await self._app(scope, receive, send_and_count)
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
