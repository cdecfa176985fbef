"""Declaring ``resize.requests`` with its bound, also where an older release declared it without
(both sides declare it: the resize workers, and the download service so that requests sent before
any worker ever started are kept).

RabbitMQ refuses to declare an existing queue with other arguments (PRECONDITION_FAILED, and the
channel is closed), and a queue's arguments never change once it exists. So the bound is tried
on a channel of its own first: when the queue is new (or already bounded alike), it is declared
on the caller's channel as every release did; when the queue is older, it is used as it is, with
a warning at start that it is unbounded until an operator applies the policy of docs/deploy.md
(a policy changes a live queue; the queue need not be deleted).
"""

from __future__ import annotations

from aio_pika.abc import AbstractChannel, AbstractQueue
from aiormq.exceptions import ChannelPreconditionFailed

from shared.broker import (
    RESIZE_DEAD_MAX_LENGTH,
    RESIZE_QUEUE,
    dead_letter_queue_arguments,
    declare_resize_queue,
    work_queue_arguments,
)
from shared.logging import get_logger

log = get_logger(__name__)


async def declare_requests_queue(channel: AbstractChannel, max_length: int) -> AbstractQueue:
    underlay = await channel.get_underlay_channel()
    probe = await underlay.connection.channel()
    try:
        await probe.queue_declare(
            f"{RESIZE_QUEUE}.dead",
            durable=True,
            arguments=dead_letter_queue_arguments(max_length=RESIZE_DEAD_MAX_LENGTH),
        )
        await probe.queue_declare(
            RESIZE_QUEUE, durable=True, arguments=work_queue_arguments(RESIZE_QUEUE, max_length=max_length)
        )
    except ChannelPreconditionFailed as exc:
        log.warning(
            "resize.requests was declared with other arguments (an older release): consuming it as it "
            "is; bound it with the policy in docs/deploy.md",
            error=str(exc),
            max_length=max_length,
        )
        return await channel.declare_queue(RESIZE_QUEUE, passive=True)
    finally:
        if not probe.is_closed:
            await probe.close()
    return await declare_resize_queue(channel, max_length)
