"""The resize worker's settings, read once from the environment by the entry point."""

from __future__ import annotations

import os

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ResizeQueueMixin, ServiceSettings

MIB = 1024**2
# What the pod's memory must hold besides the jobs (docs/deploy.md): each kernel process's
# start-up size (interpreter, Pillow and its codecs: 30-40 MiB measured), and the worker itself
# (about 80 MiB) with the originals it holds for the requests in hand (two per process).
KERNEL_PROCESS_BASE = 64 * MIB
WORKER_BASE = 512 * MIB


class ResizeSettings(ServiceSettings, ResizeQueueMixin):
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
    # Kernel processes: jobs running at once (and half the prefetch); 0 = one per CPU. Read from
    # WORKER_THREADS too, its name while the pool was made of threads.
    worker_processes: int = Field(
        default=0, ge=0, le=256, validation_alias=AliasChoices("worker_processes", "worker_threads")
    )
    # Extra processes that take a job only while as many regular ones hold slow jobs.
    spare_processes: int = Field(default=1, ge=0, le=64)
    # A job running longer than this is slow: it lends its seat to a spare process, and other
    # requests for its original are answered RESIZE_BUSY instead of waiting.
    slow_job_seconds: float = Field(default=2.0, gt=0, le=3600)
    # Seconds a job may run; then its process is killed (IMAGE_TOO_COMPLEX, or RESIZE_TIMEOUT
    # when it got too little CPU to tell).
    job_timeout: float = Field(default=30.0, gt=0, le=3600)
    # Bytes of memory (address space) one job may add to its kernel process; 0 = no limit. The
    # costliest 49 MP picture measured peaks at 561 MiB (16-bit grey PNG; RGBA PNG 451 MiB).
    job_memory_limit: int = Field(default=768 * MIB, ge=0)
    # JPEGs with more scans than this are refused before decoding (TOO_MANY_SCANS).
    max_jpeg_scans: int = Field(default=100, ge=1, le=100_000)
    # Seconds an original stopped at the deadline for its cost is answered IMAGE_TOO_COMPLEX at once.
    too_complex_memory_seconds: float = Field(default=600.0, ge=0, le=86400)

    def memory_needed(self) -> int:
        """Bytes of memory the worker may take at worst: every kernel process running a job at
        its limit (regular and spare), and the worker itself. 0 when jobs are not limited."""
        if not self.job_memory_limit:
            return 0
        processes = self.pool_size() + self.spare_processes
        return processes * (KERNEL_PROCESS_BASE + self.job_memory_limit) + WORKER_BASE

    def pool_size(self) -> int:
        if self.worker_processes:
            return self.worker_processes
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
