"""The download service's Prometheus metrics, on a registry of their own (built at start)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "download_requests",
            "HTTP requests answered, by method and status.",
            ["method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "download_request_seconds",
            "Time to the response headers.",
            registry=self.registry,
        )
        self.resize_rpcs = Counter(
            "download_resize_rpcs",
            "Resize requests sent to the workers, by outcome (ok, error, timeout, busy: the queue was full, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.resize_coalesced = Counter(
            "download_resize_coalesced",
            "Requests that waited on a resize already in flight instead of sending their own.",
            registry=self.registry,
        )
        self.resize_rpc_seconds = Histogram(
            "download_resize_rpc_seconds",
            "Round trip of a resize request, from publish to reply or timeout.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0),
            registry=self.registry,
        )
