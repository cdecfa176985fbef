"""A real browser for the tests here: Debian's Chromium (/usr/bin/chromium, installed by
scripts/install-chromium.sh from scripts/bootstrap.sh), driven headless by Playwright for Python
(the ``playwright`` dev extra; its own browser download is never used), and the pages it opens,
served from loopback origins of their own.

The tests skip, saying why, only when Chromium or Playwright is not installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from devstack.infra import Infra
from devstack.stack import RunningStack, running_stack
from tests.support.servers import InProcessServer

MiB = 1024**2
UPLOAD_MAX = 20 * MiB  # the stack's UPLOAD_MAX_SIZE
PRESIGN_EXPIRES = 4  # seconds: a form held longer is refused by S3

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: Debian's chromium could not be installed here "
            "(scripts/install-chromium.sh needs root and apt-get)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (the dev extra: scripts/bootstrap.sh)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _unavailable()
    for item in items:
        if Path(str(item.fspath)).parent.name == "browser":
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium for the session; each test opens its own context (cookies, cache)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(chromium: Any) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """``open(url)``: a new page in a fresh context, loaded from ``url``."""
    contexts: list[Any] = []

    async def open_page(url: str) -> Any:
        context = await chromium.new_context()
        contexts.append(context)
        page = await context.new_page()
        response = await page.goto(url)
        assert response is not None and response.ok, url
        return page

    yield open_page
    for context in contexts:
        await context.close()


@pytest.fixture
def serve_page(serve_app: Callable[..., Awaitable[InProcessServer]]) -> Callable[[str], Awaitable[str]]:
    """``serve(html)``: an origin of its own (a free loopback port) serving ``html`` at ``/``."""

    async def serve(html: str) -> str:
        async def page(_: Request) -> Response:
            return HTMLResponse(html)

        server = await serve_app(Starlette(routes=[Route("/", page)]))
        return server.url

    return serve


@pytest.fixture(scope="session")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The five services (devstack) on free ports, with a fresh vhost, bucket and catalog, for the
    pages tested here: the gateway serves the File Manager at its root."""
    env = {"UPLOAD_MAX_SIZE": str(UPLOAD_MAX), "PRESIGN_EXPIRES": str(PRESIGN_EXPIRES)}
    with running_stack(infra, tmp_path_factory.mktemp("browser-stack"), env) as running:
        yield running
