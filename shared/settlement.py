"""How a delivered message is settled: the handler's outcome and the attempts the message has had
decide between ack, a retry and the dead-letter queue.

Why the attempts are counted here and not by the broker: a quorum queue's ``x-delivery-limit`` used
to count every requeue, but since RabbitMQ 4.3 a ``basic.nack`` with requeue no longer counts
towards it (only ``basic.reject``, a client crash or a connection loss do), so a message nacked back
on every failure would loop for ever there. A retry is therefore a copy of the message, published
back to its queue with the attempt number in ``x-attempt`` (a header of ours, which no broker
version touches), after which the delivery in hand is acked; at the last attempt a failure is
rejected without requeue, into the queue's dead-letter route. That behaves the same on 3.x and 4.x,
and on classic queues too. The queue keeps its ``x-delivery-limit``, as a backstop for the one case
this cannot count: a consumer that dies while it holds the message (docs/decisions.md, Broker).

A failure because a dependency is down (``shared.outage``) is not the message's: ``WAIT`` puts the
message back with the attempt it had, and the consumer stops taking work until the dependency
answers again, so an outage of any length spends no attempt. The broker's own count, which a lost
connection raises, is kept from reaching the queue's limit by ``refresh``: a delivery the broker
has handed out ``REFRESH_AT`` times is put back as a fresh copy, for one of our attempts.

Everything here is pure: ``shared.broker.Consumer`` does the I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractMessage

ATTEMPT_HEADER = "x-attempt"
# A handler's transient failure is retried until its message has had this many attempts.
ATTEMPT_LIMIT = 5
# The broker's count of a delivery (``x-delivery-count``: lost connections, crashed consumers, rejects)
# at which the consumer puts back a fresh copy, before the queue's x-delivery-limit (5) is reached.
DELIVERY_COUNT_HEADER = "x-delivery-count"
REFRESH_AT = 3
# Headers the broker sets on a delivery, which a copy must not carry as if they were its own.
BROKER_HEADERS = frozenset({"x-delivery-count", "x-acquired-count"})


class Outcome(enum.Enum):
    """What a handler decided; ``decide`` turns it, with the attempt, into a ``Settlement``."""

    ACK = "ack"  # done (or nothing to do)
    DEAD_LETTER = "dead_letter"  # permanent failure: reject without requeue -> q.dead
    RETRY = "retry"  # transient failure: try again later; spends one of the message's attempts
    WAIT = "wait"  # a dependency is down: back to the queue with its attempts unspent


class Action(enum.Enum):
    ACK = "ack"  # basic.ack
    RETRY = "retry"  # publish a copy carrying the next attempt (confirmed), then basic.ack
    REQUEUE = "requeue"  # publish a copy carrying the same attempt (confirmed), then basic.ack
    DEAD_LETTER = "dead_letter"  # basic.reject without requeue -> the queue's dead-letter route


@dataclass(frozen=True)
class Settlement:
    """What to do with a delivery. For ``RETRY`` and ``REQUEUE``, ``attempt`` is the number its
    copy carries."""

    action: Action
    attempt: int = 0
    reason: str = ""


def attempt_of(headers: Mapping[str, Any] | None) -> int:
    """Which attempt this delivery is, from 1. A message without the header (or with a value that is
    not a positive integer: anyone may publish) is on its first attempt; the limit still bounds it."""
    value = (headers or {}).get(ATTEMPT_HEADER)
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return value
    return 1


def decide(outcome: Outcome, attempt: int, limit: int = ATTEMPT_LIMIT) -> Settlement:
    """Settle a delivery that is on its ``attempt``-th attempt (of at most ``limit``).

    The number a retry's copy carries comes from here: ``WAIT`` (a dependency that is down rather
    than a message that fails) keeps it.
    """
    match outcome:
        case Outcome.ACK:
            return Settlement(Action.ACK)
        case Outcome.WAIT:
            return Settlement(Action.REQUEUE, attempt=attempt, reason="waiting for a dependency")
        case Outcome.DEAD_LETTER:
            return Settlement(Action.DEAD_LETTER, reason="refused by its handler")
        case Outcome.RETRY if attempt >= limit:
            return Settlement(Action.DEAD_LETTER, reason=f"failed {attempt} attempts of {limit}")
        case Outcome.RETRY:
            return Settlement(Action.RETRY, attempt=attempt + 1)


def delivery_count_of(headers: Mapping[str, Any] | None) -> int:
    """How often the broker has handed this message out before (0 for a first delivery)."""
    value = (headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def refresh(delivery_count: int, attempt: int, limit: int = ATTEMPT_LIMIT) -> Settlement | None:
    """Before handling: a delivery the broker has counted ``REFRESH_AT`` times goes back as a fresh
    copy (the broker counts a copy from 0) that carries the next attempt, so that lost connections
    (a broker restarting, a network cut) never reach the queue's ``x-delivery-limit``, and a message
    that kills its consumer every time still ends in the dead-letter queue: it spends one attempt
    per ``REFRESH_AT`` deliveries. None: handle it."""
    if delivery_count < REFRESH_AT:
        return None
    if attempt >= limit:
        reason = f"delivered {delivery_count} times at attempt {attempt} of {limit}"
        return Settlement(Action.DEAD_LETTER, reason=reason)
    return Settlement(Action.RETRY, attempt=attempt + 1, reason=f"delivered {delivery_count} times")


def retry_copy(message: AbstractMessage, attempt: int) -> aio_pika.Message:
    """The message as it was published, carrying ``attempt``: the body, every header, and the
    properties a handler or a caller relies on (``reply_to`` and ``correlation_id`` for an RPC's
    reply, ``message_id`` for idempotence, ``expiration``, the content type and encoding).

    Left out: the broker's own counting headers, and ``user_id``, which RabbitMQ checks against the
    publishing connection's user (a copy published by the consumer's user would be refused).
    """
    headers = {key: value for key, value in (message.headers or {}).items() if key not in BROKER_HEADERS}
    headers[ATTEMPT_HEADER] = attempt
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=message.delivery_mode,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        expiration=message.expiration,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )
