"""An ASGI app served by uvicorn on a free loopback port inside the test's own event loop."""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.types import ASGIApp

from shared.health import SidePortServer
from tests.support.ports import free_port


class InProcessServer:
    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on")
        self._server = SidePortServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> InProcessServer:
        self._task = asyncio.create_task(self._server.serve())
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._server.started and not self._task.done():
            assert asyncio.get_running_loop().time() < deadline, "the server did not start"
            await asyncio.sleep(0.02)
        if self._task.done():
            self._task.result()
        assert self._server.started, "the server did not start"
        return self

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=30)
