"""Waiting before trying again: one doubling back-off, and one loop that gives up on a stop.

A transient failure (a broker that does not confirm, an SQS poll that fails, a tail process that
ends, a message whose handler could not finish) is retried after a delay that doubles per failure
in a row up to a ceiling: a short outage is bridged without spinning and a long one is not
hammered. ``RetryPolicy`` says how long; ``Backoff`` waits those delays and wakes at once when the
component stops; ``retry`` calls one operation until it works, built on ``Backoff``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """The delay before retry number ``attempt + 1``: ``initial`` doubling up to ``maximum``."""

    initial: float = 0.5
    maximum: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** min(attempt, 30)))


class Stopped(Exception):
    """``retry`` gave up because its component is stopping; the operation did not succeed."""


class Backoff:
    """The waits of one run of failures under ``policy``, cut short as soon as ``stop`` is set."""

    def __init__(self, policy: RetryPolicy, stop: asyncio.Event) -> None:
        self._policy = policy
        self._stop = stop
        self._failures = 0

    @property
    def delay(self) -> float:
        """What the next ``wait`` waits (for the logs)."""
        return self._policy.delay(self._failures)

    def reset(self) -> None:
        """After a success: the next failure waits ``policy.initial`` again."""
        self._failures = 0

    async def wait(self) -> bool:
        """Wait ``delay`` and count one more failure; False (at once) when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=self.delay)
        self._failures += 1
        return not self._stop.is_set()


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    stop: asyncio.Event,
    retry_on: type[Exception] | tuple[type[Exception], ...],
    on_failure: Callable[[Exception, float], None],
) -> T:
    """``attempt()`` until it returns, waiting after each failure in ``retry_on`` (reported first to
    ``on_failure`` with the seconds it will wait). Raises ``Stopped`` as soon as ``stop`` is set."""
    backoff = Backoff(policy, stop)
    while True:
        try:
            return await attempt()
        except retry_on as exc:
            on_failure(exc, backoff.delay)
        if not await backoff.wait():
            raise Stopped()
