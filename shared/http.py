"""HTTP plumbing shared by the services: a correlation id per request.

The id comes from the caller's ``x-correlation-id`` when it is safe to log and echo, or is made;
it is bound to every log line of the request, kept in ``request.state.correlation_id`` (to be sent
on over AMQP), and echoed in the response.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logging import CORRELATION_HEADER, bind_correlation_id, clear_context

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def accepted_correlation_id(value: str | None) -> str | None:
    """A caller's id if it is safe to log and echo (short, no spaces or control characters)."""
    if value is None:
        return None
    value = value.strip()
    return value if _VALID_ID.match(value) else None


def correlation_id_of(request: Request) -> str | None:
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) else None


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = accepted_correlation_id(Headers(scope=scope).get(CORRELATION_HEADER))
        correlation_id = bind_correlation_id(incoming)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            clear_context()
