"""The one adapter from an event handler to a ``Consumer`` handler: a body that is no event is
dead-lettered (and reported), anything else reaches the handler parsed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from aio_pika.abc import AbstractIncomingMessage

from shared.broker import Outcome, event_handler
from shared.events import OBJECT_REMOVED, ObjectEvent

EVENT = ObjectEvent(
    type=OBJECT_REMOVED,
    bucket="files",
    key="abc/a.jpg",
    size=None,
    etag=None,
    sequencer="1",
    time="2026-01-01T00:00:00Z",
    source="test",
)


def message(body: bytes) -> AbstractIncomingMessage:
    return cast(AbstractIncomingMessage, SimpleNamespace(body=body, message_id="m"))


async def test_the_handler_gets_the_parsed_event_and_decides() -> None:
    seen: list[ObjectEvent] = []

    async def handle(event: ObjectEvent) -> Outcome:
        seen.append(event)
        return Outcome.RETRY

    assert await event_handler(handle)(message(EVENT.to_json())) is Outcome.RETRY
    assert seen == [EVENT]


async def test_a_malformed_body_is_dead_lettered_without_the_handler() -> None:
    malformed: list[bool] = []

    async def handle(event: ObjectEvent) -> Outcome:
        raise AssertionError("not an event")

    on_message = event_handler(handle, on_malformed=lambda: malformed.append(True))
    assert await on_message(message(b"{not json")) is Outcome.DEAD_LETTER
    assert await event_handler(handle)(message(b"[]")) is Outcome.DEAD_LETTER
    assert malformed == [True]
