"""Why a dead letter died, where it goes back, and what the copy that goes back keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from services.deadletters.plan import describe, kept_copy, origin_queue, replay_copy, why

DEATH = {"count": 1, "reason": "rejected", "queue": "cleanup", "time": datetime(2026, 12, 2, tzinfo=UTC),
         "exchange": "", "routing-keys": ["cleanup"]}  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-death": [DEATH], "x-attempt": 5}, "rejected: failed 5 attempts of 5"),
        ({"x-death": [DEATH]}, "rejected: refused by its consumer at attempt 1 (malformed or a permanent failure)"),
        ({"x-death": [{**DEATH, "reason": "expired"}]}, "expired: its caller had stopped waiting"),
        ({"x-death": [{**DEATH, "reason": "delivery_limit"}]},
         "delivery_limit: consumers kept dying (or losing their connection) while holding it"),
        ({"x-dead-letter-reason": "not JSON"}, "parked: not JSON"),
        ({}, "unknown (no x-death header)"),
        (None, "unknown (no x-death header)"),
    ],
)  # fmt: skip
def test_why(headers: dict[str, object] | None, reason: str) -> None:
    assert why(headers) == reason


def test_origin_queue_comes_from_x_death_else_from_the_name() -> None:
    assert origin_queue("anything.dead", {"x-death": [{**DEATH, "queue": "catalog.events"}]}) == "catalog.events"
    assert origin_queue("resize.requests.dead", {}) == "resize.requests"


def message(**headers: Any) -> aio_pika.Message:
    return aio_pika.Message(
        b'{"key": "k"}', headers=dict(headers), message_id="m-1", correlation_id="c", type="object.removed",
        content_type="application/json", expiration=5,
    )  # fmt: skip


def test_a_replayed_copy_is_a_first_attempt_with_the_same_ids() -> None:
    original = message(**{"x-death": [DEATH], "x-attempt": 5, "x-delivery-count": 2, "x-correlation-id": "r",
                          "x-first-death-reason": "rejected", "x-sent-at": 1})  # fmt: skip
    copy = replay_copy(original)
    assert copy.headers == {"x-correlation-id": "r", "x-replayed": 1}
    assert (copy.message_id, copy.correlation_id, copy.type, copy.body) == ("m-1", "c", "object.removed", original.body)
    assert copy.expiration is None and copy.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert replay_copy(copy).headers["x-replayed"] == 2


def test_a_kept_copy_keeps_its_death_record() -> None:
    kept = kept_copy(message(**{"x-death": [DEATH], "x-attempt": 5, "x-delivery-count": 2}))
    assert kept.headers == {"x-death": [DEATH], "x-attempt": 5}


def test_describe() -> None:
    letter = describe("cleanup.dead", message(**{"x-death": [DEATH], "x-attempt": 5}))
    assert (letter.id, letter.queue, letter.attempts, letter.deaths) == ("m-1", "cleanup", 5, 1)
    assert letter.died_at == "2026-12-02T00:00:00+00:00" and letter.preview == '{"key": "k"}'
    anonymous = describe("cleanup.dead", aio_pika.Message(b"x", headers={"x-dead-letter-reason": "bad"}))
    assert anonymous.id.startswith("sha1:") and anonymous.queue == ""
