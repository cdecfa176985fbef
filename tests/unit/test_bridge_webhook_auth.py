"""Who may post notifications to a webhook bridge: a bridge that would accept anyone's refuses to
start outside dev mode, and the bearer token is compared in constant time, as bytes, so that no
header (wrong, missing, not ASCII) gets further than a 401."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette

from services.bridge.metrics import Metrics
from services.bridge.settings import BridgeSettings
from services.bridge.webhook import WebhookReceiver
from shared.events import ObjectEvent

TOKEN = "a-webhook-token-of-some-length-0123456789"
REMOVED = b'{"Records": [{"eventName": "s3:ObjectRemoved:Delete", "s3": {"bucket": {"name": "files"}, "object": {"key": "0123456789abcdef0123456789abcdef/a.png"}}}]}'  # noqa: E501


class Recording:
    def __init__(self) -> None:
        self.published: list[ObjectEvent] = []

    async def publish(self, events: Sequence[ObjectEvent], *, correlation_id: str | None) -> None:
        self.published.extend(events)

    async def dead_letter(self, body: bytes, *, reason: str, source: str) -> bool:
        return True


def test_a_webhook_bridge_without_a_token_refuses_to_start_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="BRIDGE_WEBHOOK_TOKEN"):
        BridgeSettings(bridge_source="webhook", dev_mode=False)
    with pytest.raises(ValidationError, match="BRIDGE_WEBHOOK_TOKEN"):
        BridgeSettings(bridge_source="webhook", dev_mode=False, bridge_webhook_token=SecretStr("   "))


def test_with_a_token_or_in_dev_mode_or_another_source_it_starts() -> None:
    assert BridgeSettings(bridge_source="webhook", bridge_webhook_token=SecretStr(TOKEN)).bridge_webhook_token
    assert BridgeSettings(bridge_source="webhook", dev_mode=True).dev_mode
    assert BridgeSettings(bridge_source="seaweedfs-meta").bridge_source == "seaweedfs-meta"


def receiver_app() -> tuple[httpx.AsyncClient, Recording]:
    publisher = Recording()
    receiver = WebhookReceiver(publisher=publisher, bucket="files", metrics=Metrics(), token=TOKEN)
    app = Starlette(routes=receiver.routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge"), publisher


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        b"",
        b"Bearer",
        b"Bearer ",
        f"Basic {TOKEN}".encode(),
        f"Bearer {TOKEN[:-1]}".encode(),
        f"Bearer {TOKEN}x".encode(),
        f"Bearer {TOKEN.upper()}".encode(),
        "Bearer \u00e9t\u00e9-not-ascii".encode("latin-1"),
        f"Bearer {TOKEN[:-1]}\u00ff".encode("latin-1"),
        f"Bearer {TOKEN}".encode() + b"\xc3\xa9",
    ],
)
async def test_anything_but_the_token_is_a_401_and_publishes_nothing(authorization: bytes | None) -> None:
    client, publisher = receiver_app()
    headers: dict[bytes, bytes] = {} if authorization is None else {b"authorization": authorization}
    async with client:
        for path in ("/events/s3", "/events/seaweedfs"):
            response = await client.post(path, content=REMOVED, headers=headers)
            assert response.status_code == 401, (authorization, response.text)
            assert response.json()["code"] == "UNAUTHORIZED"
    assert publisher.published == []


async def test_the_token_is_accepted() -> None:
    client, publisher = receiver_app()
    async with client:
        response = await client.post("/events/s3", content=REMOVED, headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 204, response.text
    assert [event.type for event in publisher.published] == ["object.removed"]
