"""The consumer's I/O around a decision, where a real broker cannot easily be made to fail: a retry
whose copy is not confirmed falls back to a requeue the broker counts, and a channel lost while
settling is logged, not raised (the broker redelivers)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import aio_pika
import aiormq
import pytest

from shared.broker import Consumer, Outcome
from shared.retry import RetryPolicy
from shared.settlement import ATTEMPT_HEADER


class FakeChannel:
    def __init__(self, confirmation: object = None, error: Exception | None = None) -> None:
        self.confirmation = confirmation
        self.error = error
        self.published: list[dict[str, Any]] = []

    async def basic_publish(self, body: bytes, **kwargs: Any) -> object:
        self.published.append({"body": body, **kwargs})
        if self.error is not None:
            raise self.error
        return self.confirmation


class FakeDelivery(aio_pika.Message):
    """A delivered message that records how it was settled."""

    def __init__(self, channel: FakeChannel, *, ack_error: Exception | None = None) -> None:
        super().__init__(b"job", headers={"x-correlation-id": "c"}, reply_to="caller", correlation_id="call")
        self.fake_channel = channel
        self.ack_error = ack_error
        self.settled: list[str] = []

    @property
    def channel(self) -> FakeChannel:
        return self.fake_channel

    async def ack(self, multiple: bool = False) -> None:
        if self.ack_error is not None:
            raise self.ack_error
        self.settled.append("ack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append(f"reject(requeue={requeue})")


class FakeQueue:
    def __init__(self, *, publisher_confirms: bool = True) -> None:
        self.name = "work"
        self.channel = SimpleNamespace(publisher_confirms=publisher_confirms)


async def settle(outcome: Outcome, delivery: FakeDelivery) -> None:
    async def handler(_: Any) -> Outcome:
        return outcome

    consumer = Consumer(cast(Any, FakeQueue()), handler, name="test", retry=RetryPolicy(initial=0, maximum=0))
    await consumer._process(cast(Any, delivery))


async def test_a_confirmed_copy_is_published_to_the_same_queue_then_the_delivery_is_acked() -> None:
    channel = FakeChannel(confirmation=aiormq.spec.Basic.Ack(delivery_tag=1))
    delivery = FakeDelivery(channel)
    await settle(Outcome.RETRY, delivery)
    assert delivery.settled == ["ack"]
    [published] = channel.published
    assert (published["routing_key"], published["mandatory"]) == ("work", True)
    properties = published["properties"]
    assert properties.headers == {"x-correlation-id": "c", ATTEMPT_HEADER: 2}
    assert (properties.reply_to, properties.correlation_id) == ("caller", "call")


@pytest.mark.parametrize(
    "channel",
    [
        FakeChannel(error=aiormq.exceptions.DeliveryError(None, aiormq.spec.Basic.Nack(delivery_tag=1))),
        FakeChannel(error=ConnectionResetError("gone")),
        FakeChannel(confirmation=None),  # no confirmation: not known to be taken
        FakeChannel(confirmation=object()),  # returned unroutable (mandatory)
    ],
)
async def test_a_copy_that_is_not_confirmed_falls_back_to_a_counted_requeue(channel: FakeChannel) -> None:
    delivery = FakeDelivery(channel)
    await settle(Outcome.RETRY, delivery)
    assert delivery.settled == ["reject(requeue=True)"]


async def test_a_channel_lost_while_settling_is_left_to_the_broker() -> None:
    delivery = FakeDelivery(FakeChannel(), ack_error=aiormq.exceptions.ChannelInvalidStateError("closed"))
    await settle(Outcome.ACK, delivery)  # does not raise
    assert delivery.settled == []


async def test_a_consumer_refuses_a_channel_without_publisher_confirms() -> None:
    async def handler(_: Any) -> Outcome:
        return Outcome.ACK

    with pytest.raises(ValueError, match="publisher confirms"):
        await Consumer(cast(Any, FakeQueue(publisher_confirms=False)), handler, name="test").start()
