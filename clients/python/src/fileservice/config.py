"""Where the service is and who calls it: arguments, then FILESERVICE_* variables, then ``make run``'s
dev stack (gateway on 127.0.0.1:8000, a dev token signed with the dev secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import urlsplit

DEFAULT_GATEWAY = "http://127.0.0.1:8000"
# The secret `make run` signs tokens with (DEV_MODE only: the services refuse it otherwise).
DEV_SECRET = "dev-secret"
DEV_SCOPE = "files:*"
DEV_SUBJECT = "dev"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def gateway_url(given: str | None = None) -> str:
    """The gateway's base URL (a trailing ``/graphql`` is accepted and dropped)."""
    url = (given or os.environ.get("FILESERVICE_GATEWAY") or DEFAULT_GATEWAY).rstrip("/")
    return url.removesuffix("/graphql")


def token_for(gateway: str, given: str | None = None) -> str | None:
    """The bearer token: given, FILESERVICE_TOKEN, or, for a gateway on this machine only, a dev
    token signed with FILESERVICE_DEV_SECRET (default the dev stack's secret)."""
    token = given or os.environ.get("FILESERVICE_TOKEN")
    if token:
        return token
    if urlsplit(gateway).hostname in LOOPBACK or urlsplit(gateway).netloc.startswith("[::1]"):
        return dev_token(os.environ.get("FILESERVICE_DEV_SECRET") or DEV_SECRET)
    return None


def dev_token(secret: str, *, subject: str = DEV_SUBJECT, scope: str = DEV_SCOPE, ttl: int = 3600) -> str:
    """An HS256 JWT with ``sub``, ``scope``, ``iat``, ``exp`` (what ``make run`` prints)."""
    now = int(time.time())
    header = _b64({"alg": "HS256", "typ": "JWT"})
    claims = _b64({"sub": subject, "scope": scope, "iat": now, "exp": now + ttl})
    signing_input = f"{header}.{claims}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _b64(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
