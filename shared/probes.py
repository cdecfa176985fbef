"""Asking a consumer's dependencies whether they answer: to tell an outage from a message's own
failure, and to know when an outage is over.

A consumer registers one check per dependency it uses (``{"database": catalog.ping, "storage":
store.ping}``, the same checks as its ``/readyz``). ``down`` runs the checks a failure points at
(all of them for a failure that names none) and returns the ones that failed; ``wait_until_up``
waits, with a doubling back-off, until every one of them answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping

from shared.logging import get_logger
from shared.outage import UNKNOWN
from shared.retry import Backoff, RetryPolicy

log = get_logger(__name__)

Check = Callable[[], Awaitable[object]]
PROBE_TIMEOUT = 5.0
PROBE_BACKOFF = RetryPolicy(0.5, 5.0)


class Probes:
    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        policy: RetryPolicy = PROBE_BACKOFF,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._checks = dict(checks)
        self._policy = policy
        self._timeout = timeout

    def __bool__(self) -> bool:
        return bool(self._checks)

    async def _fails(self, name: str) -> bool:
        try:
            await asyncio.wait_for(self._checks[name](), timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            log.info("dependency does not answer", dependency=name, error=f"{type(exc).__name__}: {exc}"[:200])
            return True
        return False

    async def down(self, dependency: str) -> set[str]:
        """Which of the dependencies ``dependency`` names do not answer now (``UNKNOWN``: any of
        them). Empty: they answer, so the failure was the message's or a blip."""
        names = list(self._checks) if dependency == UNKNOWN else [n for n in self._checks if n == dependency]
        results = await asyncio.gather(*(self._fails(name) for name in names))
        return {name for name, failed in zip(names, results, strict=True) if failed}

    async def wait_until_up(self, names: Iterable[str], stop: asyncio.Event) -> bool:
        """Return True once every one of ``names`` answers; False as soon as ``stop`` is set."""
        waiting = set(names)
        backoff = Backoff(self._policy, stop)
        while waiting:
            if not await backoff.wait():
                return False
            results = await asyncio.gather(*(self._fails(name) for name in sorted(waiting)))
            waiting = {name for name, failed in zip(sorted(waiting), results, strict=True) if failed}
        return True
