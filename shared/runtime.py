"""Running a service until SIGTERM: the one sequence of every entry point.

``python -m services.<name>`` calls ``serve``: read the typed settings (a bad value is a clean exit
message, not a traceback), configure logging, log a start line, build the service, and run it until
SIGTERM or SIGINT. An HTTP service is an ASGI app served by uvicorn; a worker is a ``WorkerProcess``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvicorn
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp

from shared.health import SidePortServer
from shared.logging import configure_logging, get_logger
from shared.settings import ServiceSettings
from shared.worker import WorkerProcess

log = get_logger(__name__)


S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T", bound=BaseSettings)


def load_settings(name: str, settings_class: type[T]) -> T:
    """The service's settings from the environment; exits with one readable line if they are invalid."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        sys.exit(f"{name}: refusing to start: {problems}")


def serve(name: str, settings_class: type[S], build: Callable[[S], ASGIApp | WorkerProcess]) -> None:
    """Settings, logging, build, run until SIGTERM: the whole of every ``__main__``."""
    settings = load_settings(name, settings_class)
    configure_logging(name, settings.log_level, settings.log_format)
    log.info("starting", service=name, bucket=settings.s3_bucket, host=settings.host, port=settings.port)
    built = build(settings)
    if isinstance(built, WorkerProcess):
        asyncio.run(run_until_signalled(built.start, built.stop))
    else:
        run_http(built, host=settings.host, port=settings.port)


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
