"""Which metadata-log records were handled already: the position alone cannot tell.

The filer stamps a change (``tsNs``) before it appends it to its log, so changes made at the same
moment (a burst of deletes, say) can reach the log a little out of timestamp order: a record may
follow one whose ``tsNs`` is higher. Skipping every record at or before the highest ``tsNs`` seen
would drop such a record (a deletion whose variants then stay). So a record is skipped only when
it is older than the position by more than the reorder window, or when this very record (same
timestamp, same content) was handled already; the tail is restarted from the position minus the
same window (``checkpoint.time_ago_arg``'s margin), so a late record is read again, never lost.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib


class RecentRecords:
    """The records handled within ``window_ns`` of the highest timestamp seen."""

    def __init__(self, window_ns: int, *, handled_until: int = 0) -> None:
        """``handled_until``: a position up to which every record counts as handled (a checkpoint
        saved without its recent records)."""
        self._window_ns = max(window_ns, 0)
        self._handled_until = handled_until
        self._seen: dict[tuple[int, bytes], None] = {}
        self._highest = 0

    @classmethod
    def restored(cls, window_ns: int, entries: list[tuple[int, bytes]]) -> RecentRecords:
        recent = cls(window_ns)
        for ts_ns, identity in sorted(entries):
            recent.remember(ts_ns, identity)
        return recent

    def entries(self) -> list[tuple[int, bytes]]:
        return list(self._seen)

    @staticmethod
    def identity(text: bytes) -> bytes:
        return hashlib.blake2b(text, digest_size=16).digest()

    def is_new(self, ts_ns: int, identity: bytes, position_ns: int) -> bool:
        """Not handled yet: newer than the position, or within the window and not seen."""
        if ts_ns <= self._handled_until:
            return False
        if ts_ns > position_ns:
            return (ts_ns, identity) not in self._seen
        if ts_ns <= position_ns - self._window_ns:
            return False
        return (ts_ns, identity) not in self._seen

    def remember(self, ts_ns: int, identity: bytes) -> None:
        self._seen[(ts_ns, identity)] = None
        if ts_ns > self._highest:
            self._highest = ts_ns
            oldest = self._highest - self._window_ns
            for key in [key for key in self._seen if key[0] <= oldest]:
                del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)
