"""The bridge's position in the filer's metadata log: the ``tsNs`` of the last record handled.

The position only moves after a record's events were confirmed by the broker, and is written
atomically (temporary file + fsync + rename), so a restarted bridge replays from where it was and
loses nothing: at worst it publishes a few events again (those within the resume margin, see
``services.bridge.recent``), which consumers tolerate.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

NS_PER_SECOND = 1_000_000_000


class CorruptCheckpoint(ValueError):
    """The checkpoint file exists but does not hold a timestamp."""


RECENT_MARKER = "recent"


def parse_checkpoint(text: str) -> int:
    """The position: the file's first line."""
    lines = text.strip().splitlines()
    value = lines[0].strip() if lines else ""
    if not value.isdigit():
        raise CorruptCheckpoint(f"checkpoint is not a timestamp: {value[:40]!r}")
    return int(value)


def parse_recent(text: str) -> list[tuple[int, bytes]] | None:
    """The records handled within the reorder window before the position was saved (timestamp and
    identity, ``services.bridge.recent``), or None for a file that does not list them (written
    before they were kept: everything up to its position counts as handled)."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or lines[1].strip() != RECENT_MARKER:
        return None
    entries: list[tuple[int, bytes]] = []
    for line in lines[2:]:
        ts, _, identity = line.strip().partition(" ")
        try:
            entries.append((int(ts), bytes.fromhex(identity)))
        except ValueError as exc:
            raise CorruptCheckpoint(f"checkpoint has a bad record line: {line[:60]!r}") from exc
    return entries


def format_checkpoint(position_ns: int, recent: list[tuple[int, bytes]]) -> str:
    return "".join([f"{position_ns}\n{RECENT_MARKER}\n", *(f"{ts} {identity.hex()}\n" for ts, identity in recent)])


def initial_position(saved: int | None, *, now_ns: int, lookback_seconds: float) -> int:
    """Where to start: the saved position, else ``lookback_seconds`` before now (0 = now)."""
    if saved is not None:
        return saved
    return now_ns - int(lookback_seconds * NS_PER_SECOND)


def time_ago_arg(position_ns: int, *, now_ns: int, margin_seconds: float) -> str:
    """The ``-timeAgo`` that replays the log from ``position_ns`` (minus a margin for clock skew).

    The margin is also the reorder window of ``services.bridge.recent``: a record that reached the
    log a little after a newer one is read again rather than lost. Records the running bridge has
    handled are skipped; after the bridge itself restarts, those of the margin's last seconds may
    be published again, which consumers tolerate.
    """
    ago_ns = max(now_ns - position_ns, 0) + int(margin_seconds * NS_PER_SECOND)
    return f"{max(ago_ns // 1000, 1)}us"


class CheckpointFile:
    """Reads and atomically writes one position file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int | None:
        text = self._read()
        return None if text is None else parse_checkpoint(text)

    def load_recent(self) -> list[tuple[int, bytes]] | None:
        text = self._read()
        return None if text is None else parse_recent(text)

    def _read(self) -> str | None:
        try:
            return self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return None

    def save(self, position_ns: int, recent: list[tuple[int, bytes]] | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(format_checkpoint(position_ns, recent) if recent is not None else f"{position_ns}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
