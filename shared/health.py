"""``/healthz``, ``/readyz`` and ``/metrics``: the same three routes on every service.

HTTP services mount these routes in their own app; workers serve them on a small side port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

Check = Callable[[], Awaitable[object]]
CHECK_TIMEOUT = 3.0


def health_routes(checks: dict[str, Check], registry: CollectorRegistry) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(_: Request) -> Response:
        results: dict[str, str] = {}
        ready = True
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                ready = False
                results[name] = f"{type(exc).__name__}: {exc}"[:200]
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


class SidePortServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that embeds it."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BackgroundServer:
    """An ASGI app served by uvicorn as a task of the current event loop (a worker's side port)."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, lifespan: Literal["auto", "on", "off"] = "off") -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan=lifespan)
        self._server = SidePortServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, timeout: float = 10.0) -> None:
        """Serve, and return once the port is listening (raises what stopped it otherwise)."""
        self._task = asyncio.create_task(self._server.serve(), name=f"http {self.host}:{self.port}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"{self.url} did not start")
            if loop.time() > deadline:
                raise RuntimeError(f"{self.url} did not start within {timeout:.0f}s")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=30)
        self._task = None


def side_port(checks: dict[str, Check], registry: CollectorRegistry, *, host: str, port: int) -> BackgroundServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` of a worker, on its own small port."""
    return BackgroundServer(Starlette(routes=health_routes(checks, registry)), host=host, port=port)
