"""The CORS rules (pure ``CorsPolicy``) and the settings that feed them: credentialed CORS for
listed origins only, a wildcard never combined with credentials, preflights limited to the
methods and headers listed. Over HTTP: tests/integration/test_gateway_cors.py; in a real browser:
tests/browser/test_browser_cors.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.download.settings import DownloadSettings
from services.gateway.settings import ADMIN_APP_HEADERS, GatewaySettings
from shared.cors import CorsPolicy, parse_origins

ADMIN = "https://admin.example.com"


def _policy(origins: list[str], *, credentials: bool = True) -> CorsPolicy:
    return CorsPolicy(
        origins,
        methods=["GET", "POST"],
        headers=ADMIN_APP_HEADERS,
        expose=["x-correlation-id"],
        credentials=credentials,
    )


def test_a_listed_origin_is_echoed_with_credentials() -> None:
    headers = _policy([ADMIN]).response_headers(ADMIN)
    assert headers == {
        "Vary": "Origin",
        "Access-Control-Allow-Origin": ADMIN,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "x-correlation-id",
    }


# Origins a listed-origin policy must not grant: others, look-alikes, and the opaque "null".
HOSTILE_ORIGINS = [
    "https://evil.example.com",
    "https://admin.example.com.evil.com",
    "https://evil-admin.example.com",
    "http://admin.example.com",  # the scheme is part of the origin
    "https://admin.example.com:8443",
    "https://ADMIN.example.com ",
    "null",
    "",
    "*",
]


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_any_other_origin_gets_no_cors_header(origin: str) -> None:
    policy = _policy([ADMIN])
    assert policy.response_headers(origin) == {"Vary": "Origin"}
    answer = policy.preflight(origin, "POST", "authorization,content-type")
    assert answer.status == 403
    assert not any(name.startswith("Access-Control-Allow") for name in answer.headers)


def test_vary_origin_also_without_an_origin_header() -> None:
    assert _policy([ADMIN]).response_headers(None) == {"Vary": "Origin"}


def test_the_wildcard_never_carries_credentials() -> None:
    policy = _policy(["*"], credentials=True)
    assert not policy.credentials
    for origin in (ADMIN, "https://evil.example.com", None):
        headers = policy.response_headers(origin)
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in headers
        assert "Vary" not in headers  # the same answer for everyone
    answer = policy.preflight(ADMIN, "POST", "authorization")
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_a_preflight_of_the_admin_app_is_allowed() -> None:
    answer = _policy([ADMIN]).preflight(ADMIN, "POST", "authorization, content-type, x-tenant, X-I18N-Locale")
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == ADMIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET, POST"
    allowed = answer.headers["Access-Control-Allow-Headers"].split(", ")
    assert {"authorization", "content-type", "x-tenant", "x-i18n-locale"} <= set(allowed)
    assert "*" not in allowed  # with credentials, "*" would be the literal header name
    assert answer.headers["Access-Control-Max-Age"] == "600"
    assert answer.headers["Vary"].startswith("Origin")


@pytest.mark.parametrize(
    ("method", "headers"),
    [("PUT", None), ("DELETE", "authorization"), ("POST", "x-evil"), ("POST", "authorization, cookie")],
)
def test_other_methods_and_headers_are_refused(method: str, headers: str | None) -> None:
    answer = _policy([ADMIN]).preflight(ADMIN, method, headers)
    assert answer.status == 403
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["*"], ["*"]),
        ([" https://Admin.Example.com/ "], ["https://admin.example.com"]),
        (["https://admin.example.com:443", "http://a.test:80"], ["https://admin.example.com", "http://a.test"]),
        (["http://127.0.0.1:3000", "http://[::1]:3000"], ["http://127.0.0.1:3000", "http://[::1]:3000"]),
        (["https://a.test", "https://a.test"], ["https://a.test"]),
    ],
)
def test_origins_are_read_as_browsers_send_them(given: list[str], expected: list[str]) -> None:
    assert parse_origins(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        ["*", "https://admin.example.com"],  # a wildcard never mixes with credentialed origins
        ["null"],
        ["https://admin.example.com/app"],
        ["admin.example.com"],
        ["ftp://admin.example.com"],
        ["https://*.example.com"],
        [],
    ],
)
def test_origins_that_are_refused_at_start(given: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_origins(given)


def test_the_settings_read_and_check_the_origins() -> None:
    gateway = GatewaySettings.model_validate(
        {"dev_mode": True, "cors_allow_origins": "https://admin.example.com/,http://127.0.0.1:3000"}
    )
    assert gateway.cors_allow_origins == ["https://admin.example.com", "http://127.0.0.1:3000"]
    assert "x-tenant" in GatewaySettings(dev_mode=True).cors_allow_headers
    with pytest.raises(ValidationError, match="not both"):
        GatewaySettings.model_validate({"dev_mode": True, "cors_allow_origins": "*,https://admin.example.com"})
    assert DownloadSettings().download_cors_allow_origins == ["*"]
    with pytest.raises(ValidationError, match="not an origin"):
        DownloadSettings.model_validate({"download_cors_allow_origins": "null"})
