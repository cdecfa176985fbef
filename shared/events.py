"""The normalized object event published on ``files.events``.

Every source (SeaweedFS filer, S3-style webhooks, SQS) is turned into this one shape by the bridge;
every consumer parses it with ``ObjectEvent.from_json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

OBJECT_CREATED = "object.created"
OBJECT_REMOVED = "object.removed"
EVENT_TYPES = frozenset({OBJECT_CREATED, OBJECT_REMOVED})


class MalformedEvent(ValueError):
    """A message that is not a normalized event: a permanent failure, dead-lettered."""


@dataclass(frozen=True)
class ObjectEvent:
    type: str
    bucket: str
    key: str
    size: int | None
    etag: str | None
    sequencer: str
    time: str
    source: str

    @property
    def routing_key(self) -> str:
        return self.type

    @property
    def message_id(self) -> str:
        """Stable per change, so a redelivered or replayed event keeps its id."""
        return f"{self.source}:{self.bucket}:{self.sequencer}:{self.type}:{self.key}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> ObjectEvent:
        try:
            raw: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise MalformedEvent("event is not a JSON object")
        try:
            event = cls(
                type=_str(raw, "type"),
                bucket=_str(raw, "bucket"),
                key=_str(raw, "key"),
                size=_opt_int(raw.get("size")),
                etag=_opt_str(raw.get("etag")),
                sequencer=str(raw.get("sequencer") or ""),
                time=str(raw.get("time") or ""),
                source=str(raw.get("source") or ""),
            )
        except (TypeError, ValueError) as exc:
            raise MalformedEvent(str(exc)) from exc
        if event.type not in EVENT_TYPES:
            raise MalformedEvent(f"unknown event type {event.type!r}")
        if not event.key or not event.bucket:
            raise MalformedEvent("event without bucket or key")
        return event


def _str(raw: dict[str, Any], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str):
        raise MalformedEvent(f"field {field!r} must be a string")
    return value


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent("etag must be a string or null")
    return value


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedEvent("size must be an integer or null")
    return int(value)
