"""The gateway's CORS over real HTTP: the preflights and answers a browser gets. Webiny's admin app
(5.39 and later) sends ``credentials: "include"`` with a bearer token, the tenant and the locale;
a listed origin must get credentialed CORS, any other none, and ``*`` never credentials.
The same in a real browser: tests/browser/test_browser_cors.py."""

from __future__ import annotations

import httpx

from tests.support.gateway import SETTINGS, Gateway, Start, start_gateway

__all__ = ["start_gateway"]  # the fixture

ADMIN = "http://admin.localtest:3001"
OTHER = "http://evil.localtest:3001"
ADMIN_APP_HEADERS = "authorization,content-type,x-i18n-locale,x-tenant"


def _preflight(gateway: Gateway, origin: str, method: str = "POST", headers: str = ADMIN_APP_HEADERS) -> httpx.Request:
    return gateway.http.build_request(
        "OPTIONS",
        "/graphql",
        headers={"origin": origin, "access-control-request-method": method, "access-control-request-headers": headers},
    )


async def _ask(gateway: Gateway, origin: str, **headers: str) -> httpx.Response:
    return await gateway.post(
        {"query": SETTINGS}, origin=origin, **{"x-tenant": "root", "x-i18n-locale": "content:en-US;"}, **headers
    )


async def test_a_listed_origin_gets_credentialed_cors(start_gateway: Start) -> None:
    gateway = await start_gateway(cors_allow_origins=ADMIN)

    preflight = await gateway.http.send(_preflight(gateway, ADMIN))
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ADMIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert {"GET", "POST"} <= set(preflight.headers["access-control-allow-methods"].split(", "))
    allowed = set(preflight.headers["access-control-allow-headers"].split(", "))
    assert {"authorization", "content-type", "x-tenant", "x-i18n-locale"} <= allowed
    assert "Origin" in preflight.headers["vary"]

    answer = await _ask(gateway, ADMIN)
    assert answer.status_code == 200
    assert answer.json()["data"]["fileManager"]["getSettings"]["error"] is None
    assert answer.headers["access-control-allow-origin"] == ADMIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "x-correlation-id" in answer.headers["access-control-expose-headers"]
    assert "Origin" in answer.headers["vary"]

    refused = await _ask(gateway, ADMIN, authorization="Bearer not-a-token")
    assert refused.status_code == 401  # and readable by the app, which then signs in again
    assert refused.headers["access-control-allow-origin"] == ADMIN
    assert refused.headers["access-control-allow-credentials"] == "true"


async def test_hostile_origins_methods_and_headers_are_refused(start_gateway: Start) -> None:
    gateway = await start_gateway(cors_allow_origins=f"{ADMIN},http://127.0.0.1:3002")
    hostile_preflights = [
        _preflight(gateway, OTHER),
        _preflight(gateway, "null"),
        _preflight(gateway, "http://admin.localtest:3001.evil.localtest"),
        _preflight(gateway, "https://admin.localtest:3001"),
        _preflight(gateway, "http://127.0.0.1:3003"),
        _preflight(gateway, ADMIN, method="PUT"),
        _preflight(gateway, ADMIN, method="DELETE"),
        _preflight(gateway, ADMIN, headers=f"{ADMIN_APP_HEADERS},x-evil"),
        _preflight(gateway, ADMIN, headers="cookie"),
    ]
    for request in hostile_preflights:
        response = await gateway.http.send(request)
        assert response.status_code == 403, (request.headers, response.text)
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers

    for origin in (OTHER, "null", "http://127.0.0.1:3003"):
        answer = await _ask(gateway, origin)
        assert answer.status_code == 200  # served, but the browser keeps it from the page
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-credentials" not in answer.headers
        assert "Origin" in answer.headers["vary"]


async def test_a_wildcard_never_allows_credentials(start_gateway: Start) -> None:
    gateway = await start_gateway(cors_allow_origins="*")

    preflight = await gateway.http.send(_preflight(gateway, OTHER))
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers

    for origin in (ADMIN, OTHER):
        answer = await _ask(gateway, origin, cookie="wby-id-token=x")
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
