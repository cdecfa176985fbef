"""Bearer tokens: verification (HS256 secret or RS256 via JWKS) and scope checks."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from services.gateway.settings import GatewaySettings
from shared.errors import Unauthorized, Unavailable

READ = "files:read"
WRITE = "files:write"
DELETE = "files:delete"
SETTINGS = "files:settings"

KeyResolver = Callable[[str], Any]
"""Given the raw token, the key that verifies it (a secret, a public key or a PyJWK)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do."""

    subject: str
    scopes: frozenset[str]
    name: str | None = None  # the ``name`` claim, shown as ``createdBy.displayName``

    def can(self, needed: str) -> bool:
        return has_scope(self.scopes, needed)


def parse_scopes(claim: object) -> frozenset[str]:
    """The ``scope`` claim: a space-separated string (RFC 8693) or a list of strings."""
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list | tuple):
        return frozenset(s for item in claim if isinstance(item, str) for s in item.split())
    return frozenset()


def has_scope(scopes: Iterable[str], needed: str) -> bool:
    """``needed`` is granted by itself or by the wildcard of its namespace (``files:*``)."""
    granted = set(scopes)
    if needed in granted:
        return True
    namespace, sep, _ = needed.partition(":")
    return bool(sep) and f"{namespace}:*" in granted


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; Unauthorized otherwise."""
    if not authorization:
        raise Unauthorized("A bearer token is required.", data={"reason": "missing"})
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", data={"reason": "malformed"})
    return token


class TokenVerifier:
    """Checks signature, expiry (and audience/issuer when configured) and returns the principal."""

    def __init__(
        self,
        key_resolver: KeyResolver,
        *,
        algorithms: Sequence[str],
        audience: str | None = None,
        issuer: str | None = None,
        leeway: int = 30,
        blocking: bool = False,
        quiet_short_key: bool = False,
    ) -> None:
        self._key_resolver = key_resolver
        self._algorithms = list(algorithms)
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway
        self.blocking = blocking
        """True when resolving a key may do network I/O (JWKS): verify in a thread then."""
        self._quiet_short_key = quiet_short_key

    @classmethod
    def hs256(cls, secret: str, **kwargs: Any) -> TokenVerifier:
        """Settings refuse short secrets outside dev mode, so PyJWT's key-length warning is muted."""
        return cls(lambda _token: secret, algorithms=["HS256"], quiet_short_key=True, **kwargs)

    @classmethod
    def rs256(cls, public_key: Any, **kwargs: Any) -> TokenVerifier:
        return cls(lambda _token: public_key, algorithms=["RS256"], **kwargs)

    @classmethod
    def jwks(cls, client: jwt.PyJWKClient, **kwargs: Any) -> TokenVerifier:
        return cls(
            lambda token: client.get_signing_key_from_jwt(token),
            algorithms=["RS256"],
            blocking=True,
            **kwargs,
        )

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> TokenVerifier:
        common: dict[str, Any] = {
            "audience": settings.jwt_audience,
            "issuer": settings.jwt_issuer,
            "leeway": settings.jwt_leeway,
        }
        if settings.jwt_jwks_url:
            return cls.jwks(jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, timeout=5), **common)
        return cls.hs256(settings.jwt_secret.get_secret_value(), **common)

    def verify(self, token: str) -> Principal:
        if not self._quiet_short_key:
            return self._verify(token)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return self._verify(token)

    def _verify(self, token: str) -> Principal:
        try:
            key = self._key_resolver(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable("The token keys (JWKS) could not be fetched.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", data={"reason": "expired"}) from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized("The token is not valid.", data={"reason": "invalid"}) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("The token has no subject.", data={"reason": "invalid"})
        name = claims.get("name")
        return Principal(
            subject=subject,
            scopes=parse_scopes(claims.get("scope")),
            name=name[:200] if isinstance(name, str) and name.strip() else None,
        )

    async def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        if self.blocking:
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)
