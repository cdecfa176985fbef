"""The resize worker's settings, read once from the environment by the entry point."""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ResizeSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # The side port serving /healthz, /readyz and /metrics.
    port: int = Field(default=8002, ge=0, le=65535)
    # Images with more pixels than this are refused (TOO_MANY_PIXELS) before any decoding.
    max_pixels: int = Field(default=50_000_000, ge=1)
    # Originals bigger than this many bytes are not read at all (SOURCE_TOO_LARGE).
    max_source_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    jpeg_quality: int = Field(default=82, ge=1, le=100)
    webp_quality: int = Field(default=80, ge=1, le=100)
    avif_quality: int = Field(default=60, ge=1, le=100)
    # Size of the pool that decodes/resizes/encodes (and of the prefetch); 0 = one per CPU.
    worker_threads: int = Field(default=0, ge=0, le=256)
    # Seconds a caller waits for one resize before it is answered RESIZE_TIMEOUT.
    job_timeout: float = Field(default=30.0, gt=0, le=3600)

    def pool_size(self) -> int:
        if self.worker_threads:
            return self.worker_threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
