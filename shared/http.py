"""HTTP plumbing shared by the services: a correlation id per request.

The id comes from the caller's ``x-correlation-id`` when it is safe to log and echo, or is made;
it is bound to every log line of the request, kept in ``request.state.correlation_id`` (to be sent
on over AMQP), and echoed in the response.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

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


class RequestObserver(Protocol):
    """Told about every answered HTTP request (metrics, an access log), from inside the
    correlation id middleware so it costs no middleware layer of its own."""

    def __call__(self, scope: Scope, status: int, header_seconds: float, total_seconds: float) -> None:
        """``status`` is 500 when no response was started; ``header_seconds`` is the time to the
        response headers, ``total_seconds`` the time to the end of the body."""


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp, observer: RequestObserver | None = None) -> None:
        self._app = app
        self._observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500
        header_seconds = 0.0
        incoming = accepted_correlation_id(Headers(scope=scope).get(CORRELATION_HEADER))
        correlation_id = bind_correlation_id(incoming)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            nonlocal status, header_seconds
            if message["type"] == "http.response.start":
                status = int(message["status"])
                header_seconds = time.monotonic() - started
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            if self._observer is not None:
                self._observer(scope, status, header_seconds or time.monotonic() - started, time.monotonic() - started)
            clear_context()
