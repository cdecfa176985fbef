"""The resize worker's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "resize_jobs_total",
            "Resize requests handled, by outcome: resized, cached (variant already stored), "
            "malformed, retry, or the error code of a refusal (not_an_image, too_many_pixels, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "resize_job_duration_seconds",
            "Time from taking a resize request to answering it, by outcome.",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.timeouts = Counter(
            "resize_job_timeouts_total",
            "Resizes stopped at JOB_TIMEOUT (their kernel process killed), by the answer: "
            "image_too_complex (it had most of a CPU) or resize_timeout (it had too little CPU to tell).",
            ["answer"],
            registry=self.registry,
        )
        self.kernel_crashes = Counter(
            "resize_kernel_crashes_total",
            "Kernel processes that ended without answering (the request is retried).",
            registry=self.registry,
        )
        self.kernel_peak_bytes = Histogram(
            "resize_kernel_peak_bytes",
            "Peak resident memory of the kernel process during a job (JOB_MEMORY_LIMIT bounds what a job adds).",
            buckets=tuple(mib * 2**20 for mib in (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048)),
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "resize_jobs_in_progress",
            "Resize requests being handled right now.",
            registry=self.registry,
        )
        self.stage = Histogram(
            "resize_stage_seconds",
            "Where a resize's time goes: queue (from the caller's send to the worker taking it), "
            "read (S3 GET of the original), kernel (decode, resample, encode), write (S3 PUT).",
            ["stage"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.variant_bytes = Histogram(
            "resize_variant_bytes",
            "Size of the variants written.",
            buckets=(1e3, 5e3, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 5e6),
            registry=self.registry,
        )

    def count(self, outcome: str) -> float:
        """The current value of ``resize_jobs_total{outcome=...}`` (for tests and logs)."""
        value = self.registry.get_sample_value("resize_jobs_total", {"outcome": outcome})
        return value or 0.0
