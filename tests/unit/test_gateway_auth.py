"""Tokens and scopes: what the gateway lets through and what it refuses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from services.gateway.auth import TokenVerifier, bearer_token, has_scope, parse_scopes
from services.gateway.devtoken import mint_token
from services.gateway.settings import GatewaySettings
from shared.errors import Unauthorized

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": "alice", "scope": "files:read", "exp": now + timedelta(minutes=5)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("scopes", "needed", "granted"),
    [
        ({"files:read"}, "files:read", True),
        ({"files:read"}, "files:write", False),
        ({"files:*"}, "files:delete", True),
        ({"files:*"}, "files:settings", True),
        ({"files:write"}, "files:delete", False),
        ({"other:*"}, "files:read", False),
        (set(), "files:read", False),
        ({"files:readx"}, "files:read", False),
    ],
)
def test_has_scope(scopes: set[str], needed: str, granted: bool) -> None:
    assert has_scope(scopes, needed) is granted


def test_parse_scopes_accepts_space_separated_string_and_list() -> None:
    assert parse_scopes("files:read  files:write") == {"files:read", "files:write"}
    assert parse_scopes(["files:read", "files:delete"]) == {"files:read", "files:delete"}
    assert parse_scopes(None) == frozenset()
    assert parse_scopes(42) == frozenset()


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "token"])
def test_bearer_token_refuses_missing_or_malformed_headers(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        bearer_token(header)


def test_bearer_token_is_case_insensitive_on_the_scheme() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"


def test_hs256_token_gives_the_principal() -> None:
    verifier = TokenVerifier.hs256(SECRET)
    principal = verifier.verify(jwt.encode(_claims(scope="files:read files:write"), SECRET, algorithm="HS256"))
    assert principal.subject == "alice"
    assert principal.can("files:write")
    assert not principal.can("files:delete")


def test_expired_token_is_refused_as_expired() -> None:
    verifier = TokenVerifier.hs256(SECRET, leeway=0)
    token = jwt.encode(_claims(exp=datetime.now(UTC) - timedelta(minutes=1)), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(token)
    assert caught.value.data == {"reason": "expired"}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_claims(), "another-secret-that-is-long-enough-for-hs256", algorithm="HS256"),
        jwt.encode(_claims(exp=None), SECRET, algorithm="HS256"),
        jwt.encode(_claims(sub=None), SECRET, algorithm="HS256"),
        jwt.encode(_claims(), "", algorithm="none"),
        "not-a-jwt",
    ],
    ids=["wrong-secret", "no-exp", "no-sub", "alg-none", "garbage"],
)
def test_invalid_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        TokenVerifier.hs256(SECRET).verify(token)
    assert caught.value.status == 401


def test_audience_is_checked_when_configured() -> None:
    verifier = TokenVerifier.hs256(SECRET, audience="files-api")
    good = jwt.encode(_claims(aud="files-api"), SECRET, algorithm="HS256")
    other = jwt.encode(_claims(aud="someone-else"), SECRET, algorithm="HS256")
    assert verifier.verify(good).subject == "alice"
    with pytest.raises(Unauthorized):
        verifier.verify(other)
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(_claims(), SECRET, algorithm="HS256"))


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_with_an_injected_public_key() -> None:
    key = _rsa_key()
    verifier = TokenVerifier.rs256(key.public_key())
    token = jwt.encode(_claims(scope="files:*"), key, algorithm="RS256")
    assert verifier.verify(token).can("files:delete")
    forged = jwt.encode(_claims(scope="files:*"), _rsa_key(), algorithm="RS256")
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


def test_rs256_verifier_refuses_an_hs256_token_signed_with_the_public_key() -> None:
    """The classic algorithm-confusion attack: the public key used as an HMAC secret."""
    key = _rsa_key()
    verifier = TokenVerifier.rs256(key.public_key())
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode(_claims(), "public-key-as-secret-xxxxxxxxxxxxxx", algorithm="HS256"))


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = _rsa_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key
    finally:
        server.shutdown()
        server.server_close()


async def test_rs256_via_a_jwks_url(jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks_server
    settings = GatewaySettings(jwt_jwks_url=url, dev_mode=False)
    verifier = TokenVerifier.from_settings(settings)
    token = jwt.encode(_claims(scope="files:write"), key, algorithm="RS256", headers={"kid": "k1"})
    principal = await verifier.authenticate(f"Bearer {token}")
    assert principal.can("files:write")
    unknown_kid = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": "nope"})
    with pytest.raises(Unauthorized):
        await verifier.authenticate(f"Bearer {unknown_kid}")


def test_settings_refuse_the_dev_secret_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="dev secret"):
        GatewaySettings(dev_mode=False)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings(dev_mode=False, jwt_secret=SecretStr("short"))
    assert GatewaySettings(dev_mode=True).jwt_secret.get_secret_value() == "dev-secret"
    assert GatewaySettings(dev_mode=False, jwt_secret=SecretStr(SECRET)).port == 8000


def test_settings_parse_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_TYPES", "image/*, application/pdf")
    monkeypatch.setenv("DEV_MODE", "true")
    monkeypatch.setenv("UPLOAD_MAX_SIZE", "5000000000")
    settings = GatewaySettings()
    assert settings.allowed_types == ["image/*", "application/pdf"]
    assert settings.upload_max_size == 5_000_000_000


def test_dev_token_is_accepted_by_the_dev_verifier() -> None:
    token = mint_token("dev-secret")
    principal = TokenVerifier.hs256("dev-secret").verify(token)
    assert principal.subject == "dev"
    assert principal.can("files:delete") and principal.can("files:settings")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 24 * 3600
