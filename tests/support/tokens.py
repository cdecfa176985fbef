"""JWTs for tests, signed with the dev secret the local stack uses."""

from __future__ import annotations

import time
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

DEV_SECRET = "dev-secret"


def token(scope: str = "files:*", *, sub: str = "tester", secret: str = DEV_SECRET, ttl: int = 3600) -> str:
    now = int(time.time())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the dev secret is short on purpose
        return jwt.encode({"sub": sub, "scope": scope, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")
