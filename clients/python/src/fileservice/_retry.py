"""When to try again (pure): the service's retryable-error contract with bounded, jittered back-off."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fileservice.errors import FileServiceError

MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries in all; between them ``Retry-After`` when the service sent one, else
    ``base * 2**n`` seconds with full jitter, capped at ``cap``."""

    max_attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, error: FileServiceError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (1-based ``attempt`` just failed), or None."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), MAX_RETRY_AFTER)
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


NO_RETRY = RetryPolicy(max_attempts=1)
