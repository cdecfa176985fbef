"""Events anyone could forge, against the real gateway, catalog, broker, bridge and SeaweedFS.

A forged ``object.removed`` for a live file (published on the broker, or posted to a webhook
bridge) must not make it vanish from the catalog, nor make its key refused for good: S3 has the
last word. A webhook bridge refuses senders without its token (compared in constant time; any
header that is not the token is a 401), and one configured without a token does not start
outside dev mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from services.bridge.settings import BridgeSettings
from shared.broker import EVENTS_EXCHANGE, EventPublisher
from shared.events import OBJECT_CREATED, OBJECT_REMOVED, ObjectEvent
from shared.s3 import ObjectStore
from tests.support.gateway import CREATE, GET, LIST, Gateway, Start, start_gateway
from tests.support.hostile import png, serve_bridge
from tests.support.servers import InProcessServer
from tests.support.waiting import eventually

__all__ = ["start_gateway"]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "webhook-token-for-the-hostile-tests-0123456789"


@pytest.fixture
async def forge(connection: AbstractRobustConnection, store: ObjectStore) -> Callable[..., Awaitable[None]]:
    """Publish an event straight onto files.events, as anyone holding broker credentials could."""
    publisher = await EventPublisher.declare(connection)

    async def send(kind: str, key: str, **fields: Any) -> None:
        event = ObjectEvent(
            type=kind,
            bucket=store.bucket,
            key=key,
            size=fields.get("size"),
            etag=fields.get("etag"),
            sequencer=str(datetime.now(UTC).timestamp()),
            time=datetime.now(UTC).isoformat(),
            source="forged",
        )
        await publisher.publish(event)

    return send


async def gone(gateway: Gateway, file_id: str) -> bool:
    return bool((await gateway.gql(GET, {"id": file_id}))["getFile"]["error"])


async def still_there(gateway: Gateway, record: dict[str, Any], store: ObjectStore) -> None:
    """The file answers as before: getFile, the listing, createFile on its key, its bytes."""
    got = (await gateway.gql(GET, {"id": record["id"]}))["getFile"]
    assert got["error"] is None and got["data"]["size"] == record["size"], got
    listed = (await gateway.gql(LIST, {"ids": [record["id"]]}))["listFiles"]["data"]
    assert [item["id"] for item in listed] == [record["id"]]
    again = (await gateway.gql(CREATE, {"data": {"key": record["key"]}}))["createFile"]
    assert again["error"] is None, "the key is not refused"
    assert await store.head(record["key"]) is not None


async def test_forged_removals_on_the_broker_leave_a_live_file_alone(
    start_gateway: Start, store: ObjectStore, forge: Callable[..., Awaitable[None]]
) -> None:
    gateway = await start_gateway(amqp_prefetch=1)  # one event at a time, in order
    live = await gateway.upload_file("live.png", png(), "image/png")
    marker = await gateway.upload_file("marker.png", png("red"), "image/png")
    variant = f"variants/{live['id']}/live.png/w100.png"
    await store.put_bytes(variant, png(size=8), content_type="image/png")

    for _ in range(3):  # the forgery, repeated
        await forge(OBJECT_REMOVED, live["key"])
    await forge(OBJECT_CREATED, live["key"], size=1, etag="0" * 32)  # lies about size and ETag
    await forge(OBJECT_REMOVED, live["key"])
    # a real removal published after them: once it is handled, so were they
    await store.delete(marker["key"])
    await forge(OBJECT_REMOVED, marker["key"])
    await eventually(lambda: gone(gateway, marker["id"]))

    await still_there(gateway, live, store)
    assert await store.head(variant) is not None
    # and a real deletion still works and is final
    deleted = await gateway.gql(
        "mutation D($id: ID!) { fileManager { deleteFile(id: $id) { data error { code } } } }", {"id": live["id"]}
    )
    assert deleted["deleteFile"]["data"] is True
    assert (await gateway.gql(GET, {"id": live["id"]}))["getFile"]["error"]["code"] == "NOT_FOUND"


@pytest.fixture
async def webhook_bridge(settings_for: Callable[..., Any]) -> AsyncIterator[InProcessServer]:
    """A webhook bridge as deployed: not in dev mode, so it needs (and has) a token."""
    settings: BridgeSettings = settings_for(
        BridgeSettings,
        host="127.0.0.1",
        dev_mode=False,
        bridge_source="webhook",
        bridge_webhook_token=TOKEN,
    )
    async with serve_bridge(settings) as server:
        yield server


def notification(bucket: str, key: str, name: str = "ObjectRemoved:Delete") -> bytes:
    record = {"eventName": f"s3:{name}", "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}
    return json.dumps({"Records": [record]}).encode()


FORGED_AUTHORIZATIONS: list[dict[bytes, bytes]] = [
    {},
    {b"authorization": b""},
    {b"authorization": b"Bearer"},
    {b"authorization": b"Bearer wrong"},
    {b"authorization": f"Basic {TOKEN}".encode()},
    {b"authorization": f"Bearer {TOKEN[:-1]}".encode()},
    {b"authorization": f"Bearer {TOKEN}0".encode()},
    {b"authorization": f"Bearer {TOKEN.upper()}".encode()},
    {b"authorization": f"Bearer {TOKEN[:-1]}\u00e9".encode("latin-1")},
    {b"authorization": f"Bearer {TOKEN}".encode() + b"\xc3\xa9"},
    {b"x-token": TOKEN.encode()},
]


async def test_a_webhook_bridge_takes_notifications_only_with_its_token(
    start_gateway: Start, webhook_bridge: InProcessServer, connection: AbstractRobustConnection, store: ObjectStore
) -> None:
    gateway = await start_gateway(amqp_prefetch=1)
    live = await gateway.upload_file("live.png", png(), "image/png")
    marker = await gateway.upload_file("marker.png", png("red"), "image/png")
    # everything that reaches files.events, seen from a queue of the test's own
    channel = await connection.channel()
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    seen = await channel.declare_queue(exclusive=True)
    await seen.bind(exchange, routing_key="#")

    async with httpx.AsyncClient(base_url=webhook_bridge.url, timeout=10) as client:
        for headers in FORGED_AUTHORIZATIONS:
            for path, body in (
                ("/events/s3", notification(store.bucket, live["key"])),
                ("/events/seaweedfs", json.dumps({"directory": "/", "old_entry": {"name": "x"}}).encode()),
            ):
                response = await client.post(path, content=body, headers=headers)
                assert response.status_code == 401, (headers, response.text)
        assert await seen.get(timeout=1, fail=False) is None, "nothing was published"

        # the real sender, with the token: even then a removal of an object that is there is stale
        authorized = {"authorization": f"Bearer {TOKEN}"}
        sent = await client.post("/events/s3", content=notification(store.bucket, live["key"]), headers=authorized)
        assert sent.status_code == 204
        await store.delete(marker["key"])
        sent = await client.post("/events/s3", content=notification(store.bucket, marker["key"]), headers=authorized)
        assert sent.status_code == 204
    await eventually(lambda: gone(gateway, marker["id"]))
    await still_there(gateway, live, store)
    await channel.close()


def test_a_webhook_bridge_without_a_token_does_not_start_outside_dev_mode(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "BRIDGE_SOURCE": "webhook", "PORT": "0"}
    for extra in ({}, {"BRIDGE_WEBHOOK_TOKEN": "  "}, {"DEV_MODE": "false"}):
        result = subprocess.run(
            [sys.executable, "-m", "services.bridge"],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0, extra
        assert "refusing to start" in result.stderr and "BRIDGE_WEBHOOK_TOKEN" in result.stderr, result.stderr
