"""The gateway's Prometheus metrics, in a registry of their own (built at start)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_http_requests_total",
            "POST /graphql requests by outcome (ok, unauthorized, bad_request, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.operations = Counter(
            "gateway_graphql_operations_total",
            "File Manager operations by field (getFile, deleteFile, ...) and outcome (ok or error code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer POST /graphql.",
            registry=self.registry,
        )
