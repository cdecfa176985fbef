"""Originals whose job was stopped at the deadline for its cost, remembered for a while.

Why: once a picture has taken ``JOB_TIMEOUT`` seconds of CPU, its other 27 variants (and every
retry) would take as much each. Remembering the original (per worker process, for
``ttl`` seconds, at most ``size`` of them, oldest forgotten first) answers them
IMAGE_TOO_COMPLEX at once. Forgetting after a while lets a later, better kernel try again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RememberedOriginals:
    def __init__(self, *, ttl: float, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._until: OrderedDict[str, float] = OrderedDict()

    def add(self, original: str) -> None:
        self._until[original] = self._clock() + self._ttl
        self._until.move_to_end(original)
        while len(self._until) > self._size:
            self._until.popitem(last=False)

    def __contains__(self, original: object) -> bool:
        if not isinstance(original, str):
            return False
        until = self._until.get(original)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[original]
            return False
        return True

    def __len__(self) -> int:
        return len(self._until)
