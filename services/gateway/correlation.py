"""Bind a correlation id per HTTP request: taken from ``x-correlation-id`` or made, and echoed."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HEADER = CORRELATION_HEADER.encode()


def incoming_id(value: str | None) -> str | None:
    """A client's id is kept only if it is short and harmless in logs and headers."""
    if value and _SAFE_ID.match(value):
        return value
    return None


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == _HEADER), None)
        correlation_id = bind_correlation_id(incoming_id(given))
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            clear_context()
