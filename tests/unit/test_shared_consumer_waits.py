"""The consumer's waiting for a dependency, where the timing of a real outage cannot be arranged:
a failure whose dependency's check fails holds the message unspent and stops consuming; a failure
whose check passes is counted; consuming starts again once every dependency answers, even when
another message fails while it starts again."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import aiormq
import pytest

from shared.broker import Consumer, Outcome
from shared.errors import DatabaseUnavailable
from shared.probes import Probes
from shared.retry import RetryPolicy
from shared.settlement import ATTEMPT_HEADER
from tests.unit.test_shared_consumer_settle import FakeChannel, FakeDelivery


class FakeQueue:
    def __init__(self) -> None:
        self.name = "work"
        self.channel = SimpleNamespace(publisher_confirms=True)
        self.tags = 0
        self.cancelled: list[str] = []
        self.on_consume: Any = None

    async def consume(self, callback: Any, no_ack: bool = False) -> str:
        self.tags += 1
        if self.on_consume is not None:
            await self.on_consume()
        return f"t{self.tags}"

    async def cancel(self, tag: str) -> None:
        self.cancelled.append(tag)


class Dependency:
    def __init__(self, up: bool) -> None:
        self.up = up
        self.checks = 0

    async def check(self) -> None:
        self.checks += 1
        if not self.up:
            raise ConnectionRefusedError("down")


def consumer_for(queue: FakeQueue, database: Dependency, handler: Any) -> Consumer:
    probes = Probes({"database": database.check}, policy=RetryPolicy(0.01, 0.02))
    return Consumer(cast(Any, queue), handler, name="t", retry=RetryPolicy(0, 0), probes=probes)


async def database_down(_: Any) -> Outcome:
    raise DatabaseUnavailable()


def confirmed() -> FakeChannel:
    return FakeChannel(confirmation=aiormq.spec.Basic.Ack(delivery_tag=1))


async def test_a_failure_while_the_database_is_down_holds_the_message_unspent_until_it_answers() -> None:
    queue, database = FakeQueue(), Dependency(up=False)
    consumer = consumer_for(queue, database, database_down)
    await consumer.start()
    channel = confirmed()
    delivery = FakeDelivery(channel)

    await consumer._process(cast(Any, delivery))

    assert delivery.settled == ["ack"]  # after its copy was confirmed
    [copy] = channel.published
    assert copy["properties"].headers.get(ATTEMPT_HEADER, 1) == 1  # the attempt is not spent
    assert queue.cancelled == ["t1"] and consumer.waiting_for == {"database"}
    await asyncio.sleep(0.1)
    assert queue.tags == 1  # still waiting
    database.up = True
    for _ in range(100):
        if not consumer.waiting_for:
            break
        await asyncio.sleep(0.01)
    assert consumer.waiting_for == frozenset() and queue.tags == 2
    await consumer.stop(timeout=1)


async def test_a_failure_whose_dependency_answers_spends_an_attempt() -> None:
    queue, database = FakeQueue(), Dependency(up=True)
    consumer = consumer_for(queue, database, database_down)
    await consumer.start()
    channel = confirmed()
    await consumer._process(cast(Any, FakeDelivery(channel)))
    assert channel.published[0]["properties"].headers[ATTEMPT_HEADER] == 2
    assert queue.cancelled == [] and database.checks == 1
    await consumer.stop(timeout=1)


async def test_a_failure_of_its_own_is_counted_without_asking_anyone() -> None:
    async def broken(_: Any) -> Outcome:
        raise ValueError("bad body")

    queue, database = FakeQueue(), Dependency(up=False)
    consumer = consumer_for(queue, database, broken)
    await consumer.start()
    channel = confirmed()
    await consumer._process(cast(Any, FakeDelivery(channel)))
    assert channel.published[0]["properties"].headers[ATTEMPT_HEADER] == 2
    assert database.checks == 0 and consumer.waiting_for == frozenset()
    await consumer.stop(timeout=1)


@pytest.mark.parametrize("fails_while_starting", [True, False])
async def test_a_failure_while_consuming_starts_again_does_not_leave_the_consumer_stopped(
    fails_while_starting: bool,
) -> None:
    queue, database = FakeQueue(), Dependency(up=False)
    consumer = consumer_for(queue, database, database_down)
    await consumer.start()
    await consumer._process(cast(Any, FakeDelivery(confirmed())))
    assert consumer.waiting_for == {"database"}

    async def another_failure() -> None:
        if fails_while_starting and queue.tags == 2:
            database.up = False
            await consumer._process(cast(Any, FakeDelivery(confirmed())))  # a message still in hand fails
            database.up = True

    queue.on_consume = another_failure
    database.up = True
    for _ in range(200):
        if not consumer.waiting_for and consumer._tag is not None:
            break
        await asyncio.sleep(0.01)
    assert consumer.waiting_for == frozenset() and consumer._tag is not None
    assert consumer._tag not in queue.cancelled
    await consumer.stop(timeout=1)
