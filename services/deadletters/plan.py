"""What a dead letter is, why it died, where it goes back to, and the copy that goes back. Pure.

Every work queue ``q`` dead-letters into ``q.dead`` (``shared.broker``). A dead letter carries the
broker's ``x-death`` (the queue it died in, the reason: ``rejected`` by its consumer, ``expired``,
``delivery_limit`` when consumers kept dying with it) and our ``x-attempt`` (how many attempts it
had: ``shared.settlement``); parked input (``bridge.dead``) carries ``x-dead-letter-reason``.

The copy that goes back keeps the body, ``message_id`` (the consumers' idempotence rests on it),
``correlation_id``, ``type``, the content type and every header of the application, and drops what
would make it die again at once: our attempt count (it starts afresh), the broker's counts and
death records, and an ``expiration`` (a resize request replayed makes its variant for later).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractMessage

from shared.broker import CATALOG_QUEUE, CLEANUP_QUEUE, RESIZE_QUEUE
from shared.messages import SENT_AT_HEADER
from shared.settlement import ATTEMPT_HEADER, ATTEMPT_LIMIT, attempt_of

DEAD_SUFFIX = ".dead"
# Queues whose dead letters can go back (their consumers are idempotent).
REPLAYABLE = (CATALOG_QUEUE, CLEANUP_QUEUE, RESIZE_QUEUE)
# Listed only: malformed notifications the bridge parked; there is no queue they came from.
LIST_ONLY = ("bridge",)
REPLAYED_HEADER = "x-replayed"  # how many times a message was moved back (for the operator)
DROPPED_HEADERS = frozenset(
    {
        ATTEMPT_HEADER,
        SENT_AT_HEADER,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-delivery-count",
        "x-acquired-count",
    }
)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as the command shows it."""

    id: str
    queue: str  # the work queue it died in ("" for parked input)
    reason: str
    attempts: int
    deaths: int
    died_at: str | None
    replayed: int
    preview: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue": self.queue,
            "reason": self.reason,
            "attempts": self.attempts,
            "deaths": self.deaths,
            "died_at": self.died_at,
            "replayed": self.replayed,
            "body": self.preview,
        }


def dead_queue_of(queue: str) -> str:
    return f"{queue}{DEAD_SUFFIX}"


def message_key(message: AbstractMessage) -> str:
    """The id an operator chooses a message by: its ``message_id``, else a hash of its body."""
    if message.message_id:
        return str(message.message_id)
    return "sha1:" + hashlib.sha1(message.body, usedforsecurity=False).hexdigest()[:16]


def _deaths(headers: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    value = headers.get("x-death")
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, Mapping)]
    return []


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def why(headers: Mapping[str, Any] | None, limit: int = ATTEMPT_LIMIT) -> str:
    """Why a message was dead-lettered, in words, from its headers."""
    headers = headers or {}
    parked = headers.get("x-dead-letter-reason")
    if parked:
        return f"parked: {_text(parked)}"
    deaths = _deaths(headers)
    if not deaths:
        return "unknown (no x-death header)"
    reason = _text(deaths[0].get("reason", "?"))
    attempts = attempt_of(headers)
    if reason == "rejected":
        if attempts >= limit:
            return f"rejected: failed {attempts} attempts of {limit}"
        return f"rejected: refused by its consumer at attempt {attempts} (malformed or a permanent failure)"
    if reason == "expired":
        return "expired: its caller had stopped waiting"
    if reason == "delivery_limit":
        return "delivery_limit: consumers kept dying (or losing their connection) while holding it"
    return reason


def origin_queue(dead_queue: str, headers: Mapping[str, Any] | None) -> str:
    """The queue a dead letter died in: its newest ``x-death`` entry, else ``q`` of ``q.dead``."""
    for death in _deaths(headers or {}):
        queue = death.get("queue")
        if queue:
            return _text(queue)
    return dead_queue.removesuffix(DEAD_SUFFIX)


def _when(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def describe(dead_queue: str, message: AbstractMessage) -> DeadLetter:
    headers = message.headers or {}
    deaths = _deaths(headers)
    count = deaths[0].get("count") if deaths else None
    died_at = deaths[0].get("time") if deaths else None
    replayed = headers.get(REPLAYED_HEADER)
    return DeadLetter(
        id=message_key(message),
        queue="" if headers.get("x-dead-letter-reason") else origin_queue(dead_queue, headers),
        reason=why(headers),
        attempts=attempt_of(headers),
        deaths=int(count) if isinstance(count, int) else len(deaths),
        died_at=_when(died_at),
        replayed=replayed if isinstance(replayed, int) and not isinstance(replayed, bool) else 0,
        preview=message.body[:200].decode(errors="replace"),
    )


def _properties(message: AbstractMessage, headers: dict[str, Any], *, keep_expiration: bool) -> aio_pika.Message:
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        expiration=message.expiration if keep_expiration else None,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


def replay_copy(message: AbstractMessage) -> aio_pika.Message:
    """The copy that goes back to its work queue: a first attempt, with the same ids."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in DROPPED_HEADERS}
    previous = headers.get(REPLAYED_HEADER)
    headers[REPLAYED_HEADER] = (previous if isinstance(previous, int) and not isinstance(previous, bool) else 0) + 1
    return _properties(message, headers, keep_expiration=False)


def kept_copy(message: AbstractMessage) -> aio_pika.Message:
    """The copy that stays in the dead-letter queue (a listing passes over every message): all of it,
    but the broker's counts, which start again."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in {"x-delivery-count", "x-acquired-count"}}
    return _properties(message, headers, keep_expiration=False)
