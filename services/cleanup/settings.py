"""The cleanup worker's settings, read once from the environment by the entry point."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class CleanupSettings(ServiceSettings):
    port: int = Field(default=8003, ge=0, le=65535)  # the side port: /healthz, /readyz, /metrics
    sweep_interval: float = Field(default=600.0, ge=0)  # seconds between sweeps; 0 = no sweep
    sweep_grace: float = Field(default=60.0, ge=0)  # variants younger than this are left alone
    # seconds until a removed original's variants are cleaned once more (a resize job that read the
    # original before it went may write its variant after the first clean-up); 0 = no second look
    second_look_after: float = Field(default=75.0, ge=0)
    stop_timeout: float = Field(default=30.0, gt=0)  # how long in-flight messages may take at stop
