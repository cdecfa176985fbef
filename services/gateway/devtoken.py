"""Mint a development token: ``python -m services.gateway.devtoken`` prints one.

Reads ``JWT_SECRET`` (default: the dev secret) and optionally ``DEV_TOKEN_SCOPE`` / ``DEV_TOKEN_SUB``.
"""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime, timedelta

import jwt

from shared.settings import DEV_JWT_SECRET

DEV_SUBJECT = "dev"
DEV_SCOPE = "files:*"
DEV_TTL = timedelta(hours=24)


def mint_token(
    secret: str,
    *,
    subject: str = DEV_SUBJECT,
    scope: str = DEV_SCOPE,
    ttl: timedelta = DEV_TTL,
    now: datetime | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token with ``sub``, ``scope``, ``iat`` and ``exp``."""
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": subject,
        "scope": scope,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if audience:
        claims["aud"] = audience
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # the dev secret is short
        return jwt.encode(claims, secret, algorithm="HS256")


def main() -> None:
    secret = os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
    scope = os.environ.get("DEV_TOKEN_SCOPE") or DEV_SCOPE
    subject = os.environ.get("DEV_TOKEN_SUB") or DEV_SUBJECT
    audience = os.environ.get("JWT_AUDIENCE") or None
    print(mint_token(secret, subject=subject, scope=scope, audience=audience))


if __name__ == "__main__":
    main()
