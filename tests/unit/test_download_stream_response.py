"""The S3 body behind a streamed response is closed whatever happens to the client."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.download.responses import ObjectStreamResponse
from shared.s3 import ObjectInfo, ObjectStream


def stream(closed: list[bool]) -> ObjectStream:
    async def chunks() -> AsyncGenerator[bytes, None]:
        yield b"abc"

    info = ObjectInfo("k", 3, "e", "text/plain", datetime.now(UTC))
    return ObjectStream(info=info, chunks=chunks(), close=lambda: closed.append(True), length=3)


async def test_the_body_is_closed_when_the_client_left_before_the_first_chunk() -> None:
    closed: list[bool] = []

    async def gone(_: Any) -> None:
        raise OSError("client went away")

    response = ObjectStreamResponse(stream(closed), status_code=200, headers={})
    with pytest.raises(OSError):
        await response.stream_response(gone)
    assert closed == [True]


async def test_the_body_is_closed_after_a_full_response() -> None:
    closed: list[bool] = []
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await ObjectStreamResponse(stream(closed), status_code=200, headers={}).stream_response(send)
    assert closed == [True] and any(m.get("body") == b"abc" for m in sent)
