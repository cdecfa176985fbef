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


def test_waiting_for_a_dependency_keeps_the_attempt() -> None:
    from shared.settlement import decide as settle

    for attempt in (1, 3, 5, 9):
        assert settle(Outcome.WAIT, attempt, 5) == Settlement(
            Action.REQUEUE, attempt=attempt, reason="waiting for a dependency"
        )


def test_an_outage_of_any_length_spends_no_attempt() -> None:
    """A message held a thousand times while its database is down, then failing for its own reasons,
    still has all five attempts."""
    attempt = 1
    for _ in range(1000):
        settlement = decide(Outcome.WAIT, attempt)
        assert settlement.action is Action.REQUEUE
        attempt = settlement.attempt
    tries = 0
    while (settlement := decide(Outcome.RETRY, attempt)).action is Action.RETRY:
        tries += 1
        attempt = settlement.attempt
    assert tries == ATTEMPT_LIMIT - 1 and settlement.action is Action.DEAD_LETTER


@pytest.mark.parametrize(
    ("headers", "count"),
    [(None, 0), ({}, 0), ({"x-delivery-count": 2}, 2), ({"x-delivery-count": True}, 0), ({"x-delivery-count": -1}, 0)],
)
def test_delivery_count_of(headers: dict[str, object] | None, count: int) -> None:
    from shared.settlement import delivery_count_of

    assert delivery_count_of(headers) == count


def test_a_delivery_the_broker_counted_often_goes_back_fresh_before_the_queue_limit() -> None:
    from shared.broker import DELIVERY_LIMIT
    from shared.settlement import REFRESH_AT, refresh

    assert REFRESH_AT < DELIVERY_LIMIT
    assert refresh(0, 1) is None and refresh(REFRESH_AT - 1, 1) is None
    assert refresh(REFRESH_AT, 1) == Settlement(Action.RETRY, attempt=2, reason=f"delivered {REFRESH_AT} times")
    at_limit = refresh(REFRESH_AT, ATTEMPT_LIMIT)
    assert at_limit is not None and at_limit.action is Action.DEAD_LETTER


def test_a_message_that_kills_its_consumer_every_time_still_ends() -> None:
    """Each crash raises the broker's count; every REFRESH_AT of them cost one attempt of ours."""
    from shared.settlement import REFRESH_AT, refresh

    attempt, deliveries = 1, 0
    while True:
        count = 0
        while (settlement := refresh(count, attempt)) is None:
            count += 1  # the consumer dies holding it: the broker counts one more delivery
            deliveries += 1
        if settlement.action is Action.DEAD_LETTER:
            break
        attempt = settlement.attempt
    assert deliveries == REFRESH_AT * ATTEMPT_LIMIT
