"""An ASGI app served by uvicorn on a free loopback port inside the test's own event loop."""

from __future__ import annotations

from starlette.types import ASGIApp

from devstack.ports import free_port
from shared.health import BackgroundServer


class InProcessServer(BackgroundServer):
    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        super().__init__(app, host="127.0.0.1", port=port or free_port(), lifespan="on")
