"""The shared consumer against a real RabbitMQ: explicit outcomes, bounded retries with backoff,
dead-lettering, and a stop that finishes what is in hand."""

from __future__ import annotations

import asyncio
import itertools
import time

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared.broker import DELIVERY_LIMIT, Consumer, Outcome, declare_work_queue
from shared.retry import RetryPolicy
from tests.support.waiting import eventually


async def publish(connection: AbstractRobustConnection, queue: str, body: bytes) -> None:
    channel = await connection.channel()
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def dead_letters(connection: AbstractRobustConnection, queue: str, timeout: float = 10.0) -> list[bytes]:
    """The first message dead-lettered from ``queue``, waiting up to ``timeout`` for it."""
    channel = await connection.channel()
    dead = await channel.get_queue(f"{queue}.dead")
    message = await eventually(lambda: dead.get(no_ack=True, fail=False), timeout, what=f"a message in {queue}.dead")
    return [message.body]


async def no_dead_letters(connection: AbstractRobustConnection, queue: str, wait: float) -> None:
    await asyncio.sleep(wait)
    channel = await connection.channel()
    message = await (await channel.get_queue(f"{queue}.dead")).get(no_ack=True, fail=False)
    assert message is None, f"dead-lettered: {message.body!r}"


async def test_a_message_that_keeps_failing_is_retried_with_growing_waits_then_dead_lettered(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    seen: list[float] = []

    async def always_fails(_: AbstractIncomingMessage) -> Outcome:
        seen.append(time.monotonic())
        return Outcome.RETRY

    consumer = Consumer(queue, always_fails, name="test", retry=RetryPolicy(initial=0.1, maximum=0.4))
    await consumer.start()
    await publish(connection, "work", b"poison")
    assert await dead_letters(connection, "work") == [b"poison"]
    await consumer.stop()
    assert DELIVERY_LIMIT <= len(seen) <= DELIVERY_LIMIT + 1  # bounded: never redelivered for ever
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and all(g >= 0.39 for g in gaps[2:]), gaps


async def test_a_permanent_failure_goes_straight_to_the_dead_letter_queue(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    calls = 0

    async def refuses(_: AbstractIncomingMessage) -> Outcome:
        nonlocal calls
        calls += 1
        return Outcome.DEAD_LETTER

    consumer = Consumer(queue, refuses, name="test")
    await consumer.start()
    await publish(connection, "work", b"malformed")
    assert await dead_letters(connection, "work") == [b"malformed"]
    await consumer.stop()
    assert calls == 1


async def test_stop_finishes_and_acks_the_message_in_hand(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    started, done = asyncio.Event(), []

    async def slow(message: AbstractIncomingMessage) -> Outcome:
        started.set()
        await asyncio.sleep(0.5)
        done.append(message.body)
        return Outcome.ACK

    consumer = Consumer(queue, slow, name="test")
    await consumer.start()
    await publish(connection, "work", b"job")
    await asyncio.wait_for(started.wait(), timeout=10)
    await consumer.stop()
    assert done == [b"job"]
    check = await connection.channel()
    assert (await check.declare_queue("work", passive=True)).declaration_result.message_count == 0
    await no_dead_letters(connection, "work", wait=0.3)
