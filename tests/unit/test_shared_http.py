"""The request middleware every HTTP service runs: a correlation id per request (the caller's when
it is safe to echo), and the observer (access log, metrics) told how each request ended."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Scope

from shared.http import CorrelationIdMiddleware, correlation_id_of


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float, float]] = []

    def __call__(self, scope: Scope, status: int, header_seconds: float, total_seconds: float) -> None:
        self.calls.append((scope["path"], status, header_seconds, total_seconds))


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(correlation_id_of(request) or "", status_code=201)


async def broken(_: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def client(observer: Any) -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/echo", echo), Route("/broken", broken)],
        middleware=[Middleware(CorrelationIdMiddleware, observer=observer)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_the_callers_id_is_used_and_echoed_and_the_request_observed() -> None:
    seen = Seen()
    async with client(seen) as http:
        resp = await http.get("/echo", headers={"x-correlation-id": "req-42"})
    assert resp.status_code == 201
    assert resp.text == "req-42" and resp.headers["x-correlation-id"] == "req-42"
    ((path, status, header_seconds, total_seconds),) = seen.calls
    assert (path, status) == ("/echo", 201)
    assert 0 <= header_seconds <= total_seconds < 5


@pytest.mark.parametrize("unsafe", ["has space", "x" * 200, "new\tline"])
async def test_an_unsafe_id_is_replaced_by_a_new_one(unsafe: str) -> None:
    async with client(None) as http:
        resp = await http.get("/echo", headers={"x-correlation-id": unsafe})
    made = resp.headers["x-correlation-id"]
    assert made != unsafe and made == resp.text and len(made) == 32


async def test_each_request_gets_its_own_id() -> None:
    async with client(None) as http:
        ids = {(await http.get("/echo")).headers["x-correlation-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_a_request_that_fails_is_observed_as_a_500() -> None:
    seen = Seen()
    async with client(seen) as http:
        resp = await http.get("/broken")
    assert resp.status_code == 500
    assert [(path, status) for path, status, _, _ in seen.calls] == [("/broken", 500)]
