"""Per request: one access log line (with the request's correlation id) and the request counted
by status. An observer of ``shared.http.CorrelationIdMiddleware``, not a middleware layer of its
own: the download service's warm path is a few hundred microseconds, and every layer counts."""

from __future__ import annotations

from starlette.types import Scope

from services.download.metrics import Metrics
from shared.logging import get_logger

log = get_logger(__name__)
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AccessLog:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def __call__(self, scope: Scope, status: int, header_seconds: float, total_seconds: float) -> None:
        self._metrics.request_seconds.observe(header_seconds)
        method = scope["method"] if scope["method"] in {"GET", "HEAD"} else "other"
        self._metrics.requests.labels(method=method, status=str(status)).inc()
        quiet = scope["path"] in _QUIET_PATHS and status < 500
        (log.debug if quiet else log.info)(
            "request",
            method=scope["method"],
            path=scope["path"],
            status=status,
            duration_ms=round(total_seconds * 1000, 1),
        )
