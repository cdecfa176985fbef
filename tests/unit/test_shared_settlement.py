"""How a delivery is settled: the attempt it is on, the decision, and the copy a retry publishes."""

from __future__ import annotations

from datetime import UTC, datetime

import aio_pika
import pytest

from shared.settlement import (
    ATTEMPT_HEADER,
    ATTEMPT_LIMIT,
    Action,
    Outcome,
    Settlement,
    attempt_of,
    decide,
    retry_copy,
)


@pytest.mark.parametrize(
    ("headers", "attempt"),
    [
        (None, 1),
        ({}, 1),
        ({"x-attempt": 1}, 1),
        ({"x-attempt": 3}, 3),
        ({"x-attempt": 0}, 1),  # nonsense from a publisher: a first attempt, still bounded
        ({"x-attempt": -7}, 1),
        ({"x-attempt": True}, 1),
        ({"x-attempt": "3"}, 1),
        ({"x-attempt": 3.0}, 1),
        ({"x-delivery-count": 4}, 1),  # the broker's count (of crashes, since 4.3) is not ours
    ],
)
def test_attempt_of(headers: dict[str, object] | None, attempt: int) -> None:
    assert attempt_of(headers) == attempt


@pytest.mark.parametrize(
    ("outcome", "attempt", "limit", "settlement"),
    [
        (Outcome.ACK, 1, 5, Settlement(Action.ACK)),
        (Outcome.ACK, 5, 5, Settlement(Action.ACK)),  # success at the last attempt
        (Outcome.DEAD_LETTER, 1, 5, Settlement(Action.DEAD_LETTER, reason="refused by its handler")),
        (Outcome.RETRY, 1, 5, Settlement(Action.RETRY, attempt=2)),
        (Outcome.RETRY, 4, 5, Settlement(Action.RETRY, attempt=5)),
        (Outcome.RETRY, 5, 5, Settlement(Action.DEAD_LETTER, reason="failed 5 attempts of 5")),
        (Outcome.RETRY, 9, 5, Settlement(Action.DEAD_LETTER, reason="failed 9 attempts of 5")),
        (Outcome.RETRY, 1, 1, Settlement(Action.DEAD_LETTER, reason="failed 1 attempts of 1")),
    ],
)
def test_decide(outcome: Outcome, attempt: int, limit: int, settlement: Settlement) -> None:
    assert decide(outcome, attempt, limit) == settlement


def test_a_message_that_always_fails_has_exactly_the_limit_of_attempts() -> None:
    attempts, settlement = [1], decide(Outcome.RETRY, 1)
    while settlement.action is Action.RETRY:
        attempts.append(settlement.attempt)
        settlement = decide(Outcome.RETRY, settlement.attempt)
    assert attempts == list(range(1, ATTEMPT_LIMIT + 1))
    assert settlement.action is Action.DEAD_LETTER


def test_the_copy_keeps_everything_but_the_counts() -> None:
    original = aio_pika.Message(
        b"body",
        headers={"x-correlation-id": "c-1", "x-sent-at": 17, "x-delivery-count": 2, "x-acquired-count": 3},
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        priority=3,
        correlation_id="call-1",
        reply_to="amq.gen-reply",
        expiration=60,
        message_id="m-1",
        timestamp=datetime(2024, 5, 1, tzinfo=UTC),
        type="object.created",
        user_id="guest",
        app_id="bridge",
    )

    copy = retry_copy(original, 3)

    assert copy.body == b"body"
    assert copy.headers == {"x-correlation-id": "c-1", "x-sent-at": 17, ATTEMPT_HEADER: 3}
    expected = original.properties
    expected.headers = copy.headers
    expected.user_id = None  # RabbitMQ checks it against the publishing user
    assert copy.properties == expected
    assert original.headers["x-delivery-count"] == 2  # the original is left as it was
