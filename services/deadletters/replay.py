"""One pass over a dead-letter queue: list every message, move the chosen ones back.

The pass takes the messages that were in ``q.dead`` when it began, one at a time (``basic.get``):
a chosen message is published, as a fresh first attempt (``plan.replay_copy``), to the queue it
died in, and acked off the dead-letter queue only once the broker has confirmed the copy; any other
message is put back at the end of the dead-letter queue the same way (confirmed copy, then ack),
unchanged but for the broker's counts. Nothing is requeued with ``nack``: since RabbitMQ 4.0 a
quorum queue drops a message requeued 20 times, so listing by ``nack`` would lose dead letters.

A crash between the publication and the ack leaves the message in both queues, never in neither;
a second run then finds it still dead and moves it again, and the consumers, idempotent by key
and ``message_id``, do nothing more. A message moved back is in its work queue, no longer dead:
running the command twice moves it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from services.deadletters.plan import DeadLetter, dead_queue_of, describe, kept_copy, replay_copy
from shared.logging import get_logger

log = get_logger(__name__)

Choose = Callable[[DeadLetter], bool]


@dataclass
class Pass:
    """What one pass over ``dead_queue`` saw and did."""

    dead_queue: str
    depth: int = 0
    seen: list[DeadLetter] = field(default_factory=list)
    moved: list[DeadLetter] = field(default_factory=list)


class NotConfirmed(Exception):
    """The broker did not confirm a copy: the original stays where it was (not acked)."""


async def depth(connection: AbstractRobustConnection, queue: str) -> int | None:
    """Messages waiting in ``queue``; None when there is no such queue."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return None
    finally:
        if not channel.is_closed:
            await channel.close()
    return int(declared.declaration_result.message_count or 0)


async def _publish(routing_key: str, message: AbstractIncomingMessage, copy: aio_pika.Message) -> None:
    """Publish ``copy`` on the channel ``message`` came from; return once the broker confirmed it
    (``mandatory``: a copy no queue takes is not confirmed as delivered)."""
    confirmation = await message.channel.basic_publish(
        copy.body, routing_key=routing_key, properties=copy.properties, mandatory=True
    )
    if not isinstance(confirmation, aiormq.spec.Basic.Ack):
        raise NotConfirmed(f"{routing_key} did not take {message.message_id or 'a message'}")


async def sweep(
    connection: AbstractRobustConnection,
    queue: str,
    choose: Choose,
    *,
    rate: float,
    limit: int | None = None,
    movable: bool = True,
) -> Pass:
    """One pass over ``queue.dead``: move what ``choose`` picks (at most ``limit``, at ``rate`` per
    second) back to the queue it died in; keep the rest, in order."""
    dead_queue = dead_queue_of(queue)
    result = Pass(dead_queue)
    count = await depth(connection, dead_queue)
    if not count:
        return result
    result.depth = count
    channel = await connection.channel(publisher_confirms=True)
    try:
        source = await channel.get_queue(dead_queue, ensure=False)
        for _ in range(count):
            message = await source.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = describe(dead_queue, message)
            result.seen.append(letter)
            wanted = movable and bool(letter.queue) and (limit is None or len(result.moved) < limit) and choose(letter)
            if wanted:
                await _publish(letter.queue, message, replay_copy(message))
                await message.ack()
                result.moved.append(letter)
                log.info("dead letter moved back", id=letter.id, queue=letter.queue, reason=letter.reason)
                await asyncio.sleep(1.0 / rate)
            else:
                await _publish(dead_queue, message, kept_copy(message))
                await message.ack()
    finally:
        if not channel.is_closed:
            await channel.close()  # a message taken but not settled goes back to the dead-letter queue
    return result
