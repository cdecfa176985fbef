"""A small in-process cache of object metadata and of small objects' bytes: pure, no I/O.

Keys practically never change content (originals carry a fresh id, variants are named after
the original), so an entry goes stale only when its file is deleted (or re-uploaded through the
same pre-signed form). The service evicts a file's entries when ``object.removed`` or
``object.created`` arrives for it (``evict_file``); entries also expire after ``ttl`` seconds,
which bounds staleness when an event is missed (e.g. while the broker connection was down).
Misses are never cached: a variant that appears must be seen at once.

Bounded by ``max_bytes`` in all (bodies plus a fixed overhead per entry), least recently used
out first; only bodies up to ``max_item_bytes`` are kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.keys import VARIANTS_PREFIX
from shared.s3 import ObjectInfo

ENTRY_OVERHEAD = 512  # bytes counted per entry for the key, the metadata and the bookkeeping


@dataclass(frozen=True)
class Entry:
    info: ObjectInfo
    body: bytes | None
    expires: float

    @property
    def cost(self) -> int:
        return ENTRY_OVERHEAD + (len(self.body) if self.body is not None else 0)


class ObjectCache:
    def __init__(
        self,
        *,
        max_bytes: int,
        max_item_bytes: int,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes if max_bytes > 0 else 0
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._by_file: dict[str, set[str]] = {}  # file id -> its cached keys, so eviction never scans
        self._used = 0

    @property
    def used_bytes(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put_info(self, info: ObjectInfo) -> None:
        """Remember an object's metadata (keeping a body already cached for the same ETag)."""
        current = self._entries.get(info.key)
        body = current.body if current is not None and current.info.etag == info.etag else None
        self._store(info, body)

    def put_body(self, info: ObjectInfo, body: bytes) -> None:
        if len(body) <= self.max_item_bytes and len(body) == info.size:
            self._store(info, body)

    def evict_file(self, file_id: str) -> int:
        """Forget the original ``{file_id}/...`` and every ``variants/{file_id}/...``; returns how many."""
        doomed = self._by_file.pop(file_id, set())
        for key in doomed:
            self._remove(key)
        return len(doomed)

    def _store(self, info: ObjectInfo, body: bytes | None) -> None:
        if self._max_bytes <= 0:
            return
        self._remove(info.key)
        entry = Entry(info, body, self._clock() + self._ttl)
        if entry.cost > self._max_bytes:
            return
        self._entries[info.key] = entry
        self._by_file.setdefault(_group(info.key), set()).add(info.key)
        self._used += entry.cost
        while self._used > self._max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._used -= entry.cost
            group = _group(key)
            keys = self._by_file.get(group)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_file[group]


def _group(key: str) -> str:
    """The file id a key belongs to: ``{id}/...`` and ``variants/{id}/...`` (any key: its first segment)."""
    rest = key[len(VARIANTS_PREFIX) :] if key.startswith(VARIANTS_PREFIX) else key
    return rest.split("/", 1)[0]
