"""The dead-letter command's settings, read once from the environment (``AMQP_URL`` as every service)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class DeadLetterSettings(CommonSettings):
    # Messages moved back per second at most (``--rate`` overrides): a replay must not flood the
    # workers, and the workers' own limits (prefetch, resize queue length) still apply.
    replay_rate: float = Field(default=10.0, gt=0, le=1000)
