"""Running a service until SIGTERM: the common loop of every entry point."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.types import ASGIApp

from shared.logging import get_logger

log = get_logger(__name__)


def run_http(app: ASGIApp, *, host: str, port: int, graceful_timeout: int = 25) -> None:
    """Serve an ASGI app; uvicorn stops accepting on SIGTERM, finishes requests, runs the lifespan."""
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
    uvicorn.Server(config).run()


async def run_until_signalled(
    start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
) -> None:
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
