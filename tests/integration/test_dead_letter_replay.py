"""``python -m services.deadletters`` against a real broker and a real dead letter: an upload's
object.created that the catalog could not handle (its database not migrated yet: the message's
failure, not an outage, so it was dead-lettered after its attempts) is listed with its reason,
moved back once the cause is mended, and processed; a second replay moves nothing."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection
from PIL import Image

from devstack.database import Database
from services.gateway.app import build_catalog
from services.gateway.catalog.migrate import apply_migrations, quote_ident
from services.gateway.catalog.model import NewFile
from services.gateway.catalog.service import CatalogService
from services.gateway.settings import GatewaySettings
from shared.broker import CATALOG_QUEUE, EventPublisher
from shared.events import OBJECT_CREATED, ObjectEvent
from shared.keys import new_file_id
from shared.s3 import ObjectStore
from tests.support.waiting import eventually

DEAD = f"{CATALOG_QUEUE}.dead"


@pytest.fixture
async def unmigrated_url(database: Database) -> AsyncIterator[str]:
    """An empty database: a gateway deployed before its migrations ran."""
    name = f"{database.prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database.server_url)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await admin.close()
    url = database.url(name)
    try:
        yield url
    finally:
        await database.drop(url)


@pytest.fixture
async def catalog(
    settings_for: Callable[..., Any], unmigrated_url: str, store: ObjectStore
) -> AsyncIterator[CatalogService]:
    settings: GatewaySettings = settings_for(
        GatewaySettings,
        database_url=unmigrated_url,
        database_migrate_on_start=False,
        expiry_interval=0,
        retry_delay_initial=0.05,
        retry_delay_max=0.1,
    )
    service = build_catalog(settings, store)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def deadletters(amqp_url: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run the command as an operator would; its JSON lines, parsed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.deadletters",
        *args,
        env={**os.environ, "AMQP_URL": amqp_url, "LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    return process.returncode or 0, lines, err.decode()


async def dead_depth(connection: AbstractRobustConnection) -> int:
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(DEAD, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await channel.close()


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    return buf.getvalue()


async def test_a_real_dead_letter_is_listed_replayed_and_processed_and_a_second_replay_moves_nothing(
    catalog: CatalogService,
    unmigrated_url: str,
    amqp_url: str,
    connection: AbstractRobustConnection,
    store: ObjectStore,
) -> None:
    file_id = new_file_id()
    key = f"{file_id}/late.png"
    await store.put_bytes(key, png_bytes(), content_type="image/png")
    event = ObjectEvent(
        type=OBJECT_CREATED, bucket=store.bucket, key=key, size=None, etag=None, sequencer="1",
        time=datetime.now(UTC).isoformat(), source="test",
    )  # fmt: skip
    await (await EventPublisher.declare(connection)).publish(event)
    await eventually(lambda: dead_depth(connection), 30, until=lambda n: n == 1, what="the event to be dead-lettered")

    code, lines, err = await deadletters(amqp_url, "list", "--queue", CATALOG_QUEUE)
    assert code == 0, err
    [letter, summary] = lines
    assert letter["dead_queue"] == DEAD and letter["queue"] == CATALOG_QUEUE
    assert letter["id"] == event.message_id and letter["attempts"] == 5
    assert letter["reason"] == "rejected: failed 5 attempts of 5" and letter["moved"] is False
    assert summary == {"summary": {DEAD: {"depth": 1, "moved": 0}}}
    assert await dead_depth(connection) == 1  # listing moves nothing
    code, everything, _ = await deadletters(amqp_url, "list")  # every dead-letter queue
    assert code == 0 and [line["id"] for line in everything if "id" in line] == [event.message_id]

    # The cause is mended: the migrations run, and the upload's record is there.
    db = await asyncpg.connect(unmigrated_url)
    try:
        await apply_migrations(db)
    finally:
        await db.close()
    await catalog.catalog.register_pending(
        NewFile(id=file_id, key=key, name="late.png", type="image/png", size=10_000, created_by="alice")
    )

    code, lines, err = await deadletters(amqp_url, "replay", "--queue", CATALOG_QUEUE, "--id", event.message_id)
    assert code == 0, err
    assert lines[0]["moved"] is True and lines[-1] == {"summary": {DEAD: {"depth": 1, "moved": 1}}}
    record = await eventually(
        lambda: catalog.catalog.find_by_key(key), 30, until=lambda r: r is not None and r.status == "ready",
        what="the replayed event to confirm the upload",
    )  # fmt: skip
    assert record is not None and record.size == len(png_bytes())
    assert await dead_depth(connection) == 0

    code, lines, err = await deadletters(amqp_url, "replay", "--all")
    assert code == 0 and all(counts["moved"] == 0 for counts in lines[-1]["summary"].values())
    code, _, err = await deadletters(amqp_url, "replay", "--id", event.message_id)
    assert code == 1 and event.message_id in err  # not dead any more: nothing to move


async def test_replay_keeps_the_messages_it_does_not_move_in_order(
    amqp_url: str, connection: AbstractRobustConnection
) -> None:
    from aio_pika import Message

    from shared.broker import declare_work_queue

    channel = await connection.channel()
    await declare_work_queue(channel, "cleanup")
    for number in range(5):
        await channel.default_exchange.publish(
            Message(f"m{number}".encode(), message_id=f"m{number}", headers={"x-dead-letter-reason": "test"}),
            routing_key="cleanup.dead",
        )
    code, lines, err = await deadletters(amqp_url, "replay", "--queue", "cleanup", "--id", "m2", "--rate", "50")
    # parked input (x-dead-letter-reason, no x-death) names no queue to go back to: it stays, and
    # the operator is told that what was asked for was not moved
    assert code == 1 and "m2" in err
    assert [line["id"] for line in lines[:-1]] == ["m0", "m1", "m2", "m3", "m4"]
    assert not any(line["moved"] for line in lines[:-1])
    code, lines, _ = await deadletters(amqp_url, "list", "--queue", "cleanup")
    assert [line["id"] for line in lines[:-1]] == ["m0", "m1", "m2", "m3", "m4"]
    assert lines[0]["reason"] == "parked: test"
    await channel.close()
