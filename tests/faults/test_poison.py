"""Poison messages: a message that fails for a reason of its own is dead-lettered at once (on its
first attempt), the workers go on with the rest, and no service restarts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import aio_pika

from tests.faults.harness import FaultStack

QUEUES = ("cleanup", "catalog.events", "resize.requests")
BODIES = (b"not json {", b'{"type": "object.removed"}', b"\xff\xfe\x00binary")


async def _publish(url: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        for queue in QUEUES:
            for n, body in enumerate(BODIES):
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        message_id=f"poison-{queue}-{n}",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=queue,
                )
    finally:
        await connection.close()


async def _attempts(url: str, queue: str) -> list[Any]:
    """The ``x-attempt`` of every message in ``queue`` (each put back afterwards)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        q = await channel.get_queue(queue, ensure=False)
        seen: list[Any] = []
        held = []
        while (message := await q.get(no_ack=False, fail=False)) is not None:
            seen.append((message.headers or {}).get("x-attempt"))
            held.append(message)
        for message in held:
            await message.nack(requeue=True)
        return seen
    finally:
        await connection.close()


def test_poison_messages_are_dead_lettered_at_once(fstack: FaultStack, report: Any) -> None:
    files = fstack.seed(3)
    url = fstack.running.services["gateway"].env["AMQP_URL"]
    started = time.monotonic()
    asyncio.run(_publish(url))
    expected = {f"{q}.dead": len(BODIES) for q in QUEUES}
    fstack.wait_until(lambda: fstack.dead_letters() == expected, 30, f"dead letters {expected}")
    seconds = time.monotonic() - started
    attempts = {q: asyncio.run(_attempts(url, f"{q}.dead")) for q in QUEUES}

    # the workers go on: a delete and a new width after the poison are handled
    with fstack.clients(1) as (client,):
        assert client.delete_file(files[0].id).ok
        fstack.ledger.add_delete(files[0])
        assert client.download(files[1].key, 300).ok
    replay = _replay_one(fstack, url)
    counts = fstack.settled(timeout=60)
    counts.dead_lettered -= sum(expected.values())
    report(
        fault="poison messages (3 malformed in each of cleanup, catalog.events, resize.requests)",
        seconds_to_dead_letter_all=round(seconds, 1),
        attempts_seen_on_dead_letters=attempts,
        replay=replay,
        **counts.figures(),
        details=counts.details,
    )
    assert all(a in (None, 1) for seen in attempts.values() for a in seen), attempts
    assert counts.figures() == dict.fromkeys(counts.figures(), 0), counts.details


def _deadletters(url: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "services.deadletters", *args],
        env={**os.environ, "AMQP_URL": url, "LOG_FORMAT": "json"},
        capture_output=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.startswith("{")]


def _replay_one(stack: FaultStack, url: str) -> dict[str, Any]:
    """The operator's command on the real dead letters: list them with their reasons, move one back;
    a poison message stays poison, so it is dead-lettered again at once, marked as replayed."""
    listed = [line for line in _deadletters(url, "list") if "dead_queue" in line]
    assert {line["id"] for line in listed} >= {f"poison-{q}-{n}" for q in QUEUES for n in range(len(BODIES))}
    assert all(line["reason"] for line in listed), listed
    moved = _deadletters(url, "replay", "--queue", "cleanup", "--id", "poison-cleanup-0")
    assert moved[-1]["summary"]["cleanup.dead"]["moved"] == 1, moved

    def replayed_again() -> list[dict[str, Any]]:
        again = _deadletters(url, "list", "--queue", "cleanup")
        return [line for line in again if line.get("id") == "poison-cleanup-0" and line.get("replayed") == 1]

    back = stack.wait_until(replayed_again, 60, "the replayed poison message to be dead-lettered again")
    return {"listed": len(listed), "reasons": sorted({line["reason"] for line in listed}), "moved_back": back}
