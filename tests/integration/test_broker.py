"""The shared consumer against a real RabbitMQ: explicit outcomes, retries counted by the consumer
(the same on RabbitMQ 3.x and 4.x) with backoff, dead-lettering, what a retry keeps of a message,
the broker's delivery limit as the backstop for consumers that die, and a stop that finishes what
is in hand."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared.broker import (
    DEAD_LETTER_EXCHANGE,
    DELIVERY_LIMIT,
    Consumer,
    Handler,
    Outcome,
    RpcClient,
    connect,
    declare_dead_letter_queue,
    declare_work_queue,
    reply,
)
from shared.retry import RetryPolicy
from shared.settlement import ATTEMPT_HEADER, ATTEMPT_LIMIT, attempt_of
from tests.support.waiting import eventually

FAST = RetryPolicy(initial=0.01, maximum=0.02)


async def publish(connection: AbstractRobustConnection, queue: str, body: bytes) -> None:
    channel = await connection.channel()
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def dead_letter(
    connection: AbstractRobustConnection, queue: str, timeout: float = 10.0
) -> AbstractIncomingMessage:
    """The first message to reach ``queue.dead`` within ``timeout`` seconds (taken off it)."""
    channel = await connection.channel()
    dead = await channel.get_queue(f"{queue}.dead")
    return await eventually(lambda: dead.get(no_ack=True, fail=False), timeout, what=f"a message in {queue}.dead")


async def dead_letters(connection: AbstractRobustConnection, queue: str, timeout: float = 10.0) -> list[bytes]:
    return [(await dead_letter(connection, queue, timeout)).body]


async def no_dead_letters(connection: AbstractRobustConnection, queue: str, wait: float) -> None:
    await asyncio.sleep(wait)
    channel = await connection.channel()
    message = await (await channel.get_queue(f"{queue}.dead")).get(no_ack=True, fail=False)
    assert message is None, f"dead-lettered: {message.body!r}"


def always_fails(attempts: list[int]) -> Handler:
    """A handler that says RETRY to everything, noting the attempt of each delivery."""

    async def handle(message: AbstractIncomingMessage) -> Outcome:
        attempts.append(attempt_of(message.headers))
        return Outcome.RETRY

    return handle


async def ready_count(connection: AbstractRobustConnection, queue: str) -> int:
    channel = await connection.channel()
    count = (await channel.declare_queue(queue, passive=True)).declaration_result.message_count
    await channel.close()
    return int(count or 0)


async def test_a_message_that_keeps_failing_is_retried_with_growing_waits_then_dead_lettered(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    seen: list[float] = []
    attempts: list[int] = []

    async def always_fails(message: AbstractIncomingMessage) -> Outcome:
        seen.append(time.monotonic())
        attempts.append(attempt_of(message.headers))
        return Outcome.RETRY

    consumer = Consumer(queue, always_fails, name="test", retry=RetryPolicy(initial=0.1, maximum=0.4))
    await consumer.start()
    await publish(connection, "work", b"poison")
    dead = await dead_letter(connection, "work")
    await consumer.stop()
    assert dead is not None and dead.body == b"poison"
    # Exactly the limit of attempts, each one visible to the handler and the last one in q.dead.
    assert attempts == list(range(1, ATTEMPT_LIMIT + 1))
    assert DELIVERY_LIMIT <= len(seen) <= DELIVERY_LIMIT + 1  # bounded: never redelivered for ever
    assert (dead.headers or {})[ATTEMPT_HEADER] == ATTEMPT_LIMIT
    deaths: Any = (dead.headers or {})["x-death"]
    assert (deaths[0]["reason"], deaths[0]["queue"]) == ("rejected", "work")
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and all(g >= 0.39 for g in gaps[2:]), gaps
    assert await ready_count(connection, "work") == 0


async def test_a_consumer_with_a_lower_limit_dead_letters_sooner(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    attempts: list[int] = []
    consumer = Consumer(queue, always_fails(attempts), name="test", retry=FAST, attempts=2)
    await consumer.start()
    await publish(connection, "work", b"poison")
    assert await dead_letters(connection, "work") == [b"poison"]
    await consumer.stop()
    assert attempts == [1, 2]


async def test_the_count_does_not_depend_on_the_broker_counting(connection: AbstractRobustConnection) -> None:
    """A classic queue counts no deliveries at all, as a 4.3 quorum queue does not count a nack: the
    attempts are still bounded, because the consumer counts them."""
    channel = await connection.channel()
    await declare_dead_letter_queue(channel, "plain")
    queue = await channel.declare_queue(
        "plain",
        durable=True,
        arguments={"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE, "x-dead-letter-routing-key": "plain"},
    )
    attempts: list[int] = []
    consumer = Consumer(queue, always_fails(attempts), name="test", retry=FAST)
    await consumer.start()
    await publish(connection, "plain", b"poison")
    dead = await dead_letter(connection, "plain")
    await consumer.stop()
    assert dead is not None and dead.body == b"poison"
    assert attempts == list(range(1, ATTEMPT_LIMIT + 1))
    assert (dead.headers or {})[ATTEMPT_HEADER] == ATTEMPT_LIMIT


async def test_a_message_that_succeeds_at_its_third_attempt_is_acked_once_and_not_dead_lettered(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    attempts: list[int] = []
    done = asyncio.Event()

    async def third_time_lucky(message: AbstractIncomingMessage) -> Outcome:
        attempts.append(attempt_of(message.headers))
        if len(attempts) < 3:
            return Outcome.RETRY
        done.set()
        return Outcome.ACK

    consumer = Consumer(queue, third_time_lucky, name="test", retry=FAST)
    await consumer.start()
    await publish(connection, "work", b"flaky")
    await asyncio.wait_for(done.wait(), timeout=10)
    await asyncio.sleep(0.3)  # time for a wrong redelivery to show up
    await consumer.stop()
    await channel.close()  # anything left unacked would be back in the queue now
    assert attempts == [1, 2, 3]
    assert await ready_count(connection, "work") == 0
    await no_dead_letters(connection, "work", wait=0.3)


async def test_a_retry_keeps_the_message_properties(connection: AbstractRobustConnection) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    deliveries: list[AbstractIncomingMessage] = []
    done = asyncio.Event()

    async def fails_once(message: AbstractIncomingMessage) -> Outcome:
        deliveries.append(message)
        if len(deliveries) == 1:
            return Outcome.RETRY
        done.set()
        return Outcome.ACK

    consumer = Consumer(queue, fails_once, name="test", retry=FAST)
    await consumer.start()
    sent = aio_pika.Message(
        b'{"key": "k"}',
        headers={"x-correlation-id": "corr-1", "x-sent-at": 1_700_000_000_000_000, "x-custom": "kept"},
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        correlation_id="call-1",
        reply_to="somebody.waiting",
        expiration=600,
        message_id="m-1",
        timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        type="resize.request",
        app_id="download",
    )
    await channel.default_exchange.publish(sent, routing_key="work")
    await asyncio.wait_for(done.wait(), timeout=10)
    await consumer.stop()

    first, second = deliveries
    assert first.body == second.body == sent.body
    assert second.headers == {**(first.headers or {}), ATTEMPT_HEADER: 2}
    for name in (
        "content_type",
        "content_encoding",
        "delivery_mode",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "app_id",
    ):
        assert getattr(second, name) == getattr(first, name) == getattr(sent, name), name


async def test_an_rpc_reply_reaches_its_caller_after_a_transient_failure(
    connection: AbstractRobustConnection,
) -> None:
    channel = await connection.channel()
    queue = await declare_work_queue(channel, "work")
    replies = await connection.channel()
    calls = 0

    async def answers_the_second_time(message: AbstractIncomingMessage) -> Outcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Outcome.RETRY
        await reply(replies, message, b"answer:" + message.body)
        return Outcome.ACK

    consumer = Consumer(queue, answers_the_second_time, name="test", retry=FAST)
    await consumer.start()
    rpc = await RpcClient.create(connection)
    assert await rpc.call("work", b"question", timeout=10) == b"answer:question"
    await consumer.stop()
    assert calls == 2


async def test_a_message_whose_consumer_dies_is_delivered_again(amqp_url: str) -> None:
    """The broker's side: a consumer that dies with the message in hand (connection closed without an
    ack) leaves it to the next consumer, on the same attempt (a crash is not a handler's verdict)."""
    dying = await connect(amqp_url, name="dying")
    queue = await declare_work_queue(await dying.channel(), "work")
    taken, release = asyncio.Event(), asyncio.Event()

    async def hangs(_: AbstractIncomingMessage) -> Outcome:
        taken.set()
        await release.wait()
        return Outcome.ACK

    await Consumer(queue, hangs, name="dying").start()
    await publish(dying, "work", b"job")
    await asyncio.wait_for(taken.wait(), timeout=10)
    await dying.close()
    release.set()  # its ack now fails on a closed channel: logged, nothing else

    survivor = await connect(amqp_url, name="survivor")
    try:
        queue = await declare_work_queue(await survivor.channel(), "work")
        seen: list[tuple[bytes, bool | None, int]] = []
        done = asyncio.Event()

        async def handles(message: AbstractIncomingMessage) -> Outcome:
            seen.append((message.body, message.redelivered, attempt_of(message.headers)))
            done.set()
            return Outcome.ACK

        consumer = Consumer(queue, handles, name="survivor")
        await consumer.start()
        await asyncio.wait_for(done.wait(), timeout=10)
        await consumer.stop()
        assert seen == [(b"job", True, 1)]
        assert await ready_count(survivor, "work") == 0
    finally:
        await survivor.close()


async def test_the_delivery_limit_dead_letters_a_message_that_kills_every_consumer(
    connection: AbstractRobustConnection,
) -> None:
    """The backstop: a message whose consumers all die before they can settle it is never counted by
    a handler, so the queue's own delivery limit (which counts a lost channel on every version)
    dead-letters it."""
    await declare_work_queue(await connection.channel(), "work")
    await publish(connection, "work", b"kills its consumer")
    deliveries = 0
    for _ in range(DELIVERY_LIMIT + 3):
        channel = await connection.channel()
        message = await (await channel.get_queue("work")).get(no_ack=False, fail=False, timeout=5)
        if message is None:
            await channel.close()
            break
        deliveries += 1
        await channel.close()  # dies holding it: no ack, no reject
    assert DELIVERY_LIMIT <= deliveries <= DELIVERY_LIMIT + 1
    assert await dead_letters(connection, "work") == [b"kills its consumer"]


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
