"""The cleanup worker's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "cleanup_messages_total",
            "object.removed messages handled, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.variants_deleted = Counter(
            "cleanup_variants_deleted_total",
            "Variant objects deleted, by what found them (event, second_look or sweep).",
            ["via"],
            registry=self.registry,
        )
        self.sweeps = Counter(
            "cleanup_sweeps_total", "Sweeps run, by result (ok, failed).", ["result"], registry=self.registry
        )
        self.orphans = Counter(
            "cleanup_sweep_orphans_total",
            "File ids whose variants the sweep found without an original.",
            registry=self.registry,
        )
        self.sweep_seconds = Histogram(
            "cleanup_sweep_duration_seconds", "How long one sweep took.", registry=self.registry
        )
