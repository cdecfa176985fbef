"""Running a service until SIGTERM: the common loop of every entry point."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.types import ASGIApp

from shared.health import SidePortServer
from shared.logging import get_logger

log = get_logger(__name__)


def run_http(app: ASGIApp, *, host: str, port: int, graceful_timeout: int = 25) -> None:
    """Serve an ASGI app until SIGTERM/SIGINT: stop accepting, finish requests, run the lifespan's
    shutdown, and exit 0 (uvicorn's own handler would re-raise the signal and exit with -15)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=graceful_timeout,
        proxy_headers=True,
    )
    server = SidePortServer(config)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _request_exit, server)
        await server.serve()

    asyncio.run(serve())
    if not server.started:
        raise SystemExit(3)


def _request_exit(server: uvicorn.Server) -> None:
    log.info("stopping")
    server.should_exit = True


async def run_until_signalled(start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> None:
    """Start, wait for SIGTERM or SIGINT, then stop (which finishes in-flight work)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await start()
    log.info("started")
    await stopping.wait()
    log.info("stopping")
    await stop()
    log.info("stopped")
