"""JWTs for tests, signed with the dev secret the local stack uses."""

from __future__ import annotations

import time

import jwt

DEV_SECRET = "dev-secret"


def token(scope: str = "files:*", *, sub: str = "tester", secret: str = DEV_SECRET, ttl: int = 3600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "scope": scope, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")
