"""The bridge's position in the filer's metadata log: the ``tsNs`` of the last record handled.

The position only moves after a record's events were confirmed by the broker, and is written
atomically (temporary file + fsync + rename), so a restarted bridge replays from where it was and
loses nothing: at worst it publishes a few events again, which consumers tolerate.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

NS_PER_SECOND = 1_000_000_000


class CorruptCheckpoint(ValueError):
    """The checkpoint file exists but does not hold a timestamp."""


def parse_checkpoint(text: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise CorruptCheckpoint(f"checkpoint is not a timestamp: {value[:40]!r}")
    return int(value)


def initial_position(saved: int | None, *, now_ns: int, lookback_seconds: float) -> int:
    """Where to start: the saved position, else ``lookback_seconds`` before now (0 = now)."""
    if saved is not None:
        return saved
    return now_ns - int(lookback_seconds * NS_PER_SECOND)


def time_ago_arg(position_ns: int, *, now_ns: int, margin_seconds: float) -> str:
    """The ``-timeAgo`` that replays the log from ``position_ns`` (minus a margin for clock skew).

    Records at or before the position are skipped by ``is_new``, so the margin only costs a
    little re-reading, never a duplicate publication.
    """
    ago_ns = max(now_ns - position_ns, 0) + int(margin_seconds * NS_PER_SECOND)
    return f"{max(ago_ns // 1000, 1)}us"


def is_new(ts_ns: int, position_ns: int) -> bool:
    return ts_ns > position_ns


class CheckpointFile:
    """Reads and atomically writes one position file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        return parse_checkpoint(text)

    def save(self, position_ns: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{position_ns}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
