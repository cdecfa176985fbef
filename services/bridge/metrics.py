"""The bridge's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_published = Counter(
            "bridge_events_published_total",
            "Normalized events published and confirmed by the broker.",
            ["type"],
            registry=self.registry,
        )
        self.records = Counter(
            "bridge_records_total",
            "Source records handled, by outcome (published, dropped, replayed, malformed).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "bridge_publish_failures_total",
            "Publications the broker did not confirm (retried or answered with 5xx).",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "bridge_dead_lettered_total",
            "Malformed inputs parked in the bridge.dead queue.",
            ["source"],
            registry=self.registry,
        )
        self.tail_restarts = Counter(
            "bridge_tail_restarts_total",
            "Times the metadata-log tail process was started again after it ended.",
            registry=self.registry,
        )
        self.checkpoint = Gauge(
            "bridge_checkpoint_timestamp_seconds",
            "Filer time of the last metadata-log record handled.",
            registry=self.registry,
        )
