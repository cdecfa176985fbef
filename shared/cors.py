"""Cross-origin access for browsers: which origins may read a service's answers, and with what.

Two modes, never mixed (``parse_origins`` refuses a list that has ``*`` and origins):

- ``*``: every origin may read, never with credentials: ``Access-Control-Allow-Origin: *`` on every
  answer and no ``Access-Control-Allow-Credentials``. A browser that sends credentials
  (``fetch(..., {credentials: "include"})``) is then refused by the browser itself, as the Fetch
  standard requires: a wildcard can never be combined with credentials.
- listed origins: an origin on the list is echoed, with ``Access-Control-Allow-Credentials: true``
  when the service takes credentials; any other origin gets no CORS header at all. Every answer
  carries ``Vary: Origin``, so that a cache never hands one origin's answer to another.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered here,
before routing: ``204`` with the allowed methods and headers (always a list: ``*`` means the
literal name ``*`` to a browser sending credentials), or ``403`` naming what is not allowed.
``CorsPolicy`` decides (pure); ``CorsMiddleware`` applies it to an ASGI app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import parse_str_list

WILDCARD = "*"
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?")
_DEFAULT_PORTS = (("https://", ":443"), ("http://", ":80"))
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def parse_origins(values: Iterable[str]) -> list[str]:
    """``["*"]``, or origins as browsers send them (``scheme://host[:port]``, lowercase, no path).

    A trailing ``/`` and the scheme's default port are dropped (``https://admin.example.com/`` or
    ``:443`` would never match what a browser sends); ``null`` (sent by sandboxed frames and local
    files) is refused, as is a list mixing ``*`` with origins.
    """
    origins: list[str] = []
    for value in values:
        origin = value.strip().lower().rstrip("/")
        if origin == WILDCARD:
            origins.append(origin)
            continue
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{value!r} is not an origin (scheme://host[:port], without a path)")
        for scheme, port in _DEFAULT_PORTS:  # browsers leave the scheme's own port out
            if origin.startswith(scheme) and origin.endswith(port):
                origin = origin.removesuffix(port)
        origins.append(origin)
    if not origins:
        raise ValueError("list at least one origin, or *")
    if WILDCARD in origins and len(origins) > 1:
        raise ValueError("either * (any origin, never with credentials) or a list of origins, not both")
    return list(dict.fromkeys(origins))


# A settings field of origins: ``*`` or ``https://a.example.com,http://127.0.0.1:3000`` in the environment.
Origins = Annotated[list[str], NoDecode, BeforeValidator(parse_str_list), AfterValidator(parse_origins)]


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip().lower() for value in values if value.strip()))


@dataclass(frozen=True)
class Preflight:
    """The answer to a preflight: ``status`` 204 (allowed) or 403 (``reason`` says why)."""

    status: int
    headers: dict[str, str]
    reason: str = ""


class CorsPolicy:
    def __init__(
        self,
        origins: Iterable[str],
        *,
        methods: Iterable[str],
        headers: Iterable[str],
        expose: Iterable[str] = (),
        credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        self.origins = tuple(parse_origins(origins))
        self.wildcard = self.origins == (WILDCARD,)
        self.credentials = credentials and not self.wildcard
        self.methods = tuple(dict.fromkeys(method.strip().upper() for method in methods))
        self.headers = _names(headers)
        self.expose = _names(expose)
        self.max_age = max_age

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.wildcard or origin in self.origins)

    def _granted(self, origin: str) -> dict[str, str]:
        """What tells the browser that ``origin`` (an allowed one) may read the answer."""
        granted = {"Access-Control-Allow-Origin": WILDCARD if self.wildcard else origin}
        if self.credentials:
            granted["Access-Control-Allow-Credentials"] = "true"
        return granted

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) answer to a request from ``origin``."""
        headers: dict[str, str] = {}
        if self.wildcard:  # the same for everyone: no Vary, and cacheable for every origin
            headers.update(self._granted(WILDCARD))
        else:
            headers["Vary"] = "Origin"
            if origin is not None and self.allows(origin):
                headers.update(self._granted(origin))
        if self.expose and "Access-Control-Allow-Origin" in headers:
            headers["Access-Control-Expose-Headers"] = ", ".join(self.expose)
        return headers

    def preflight(self, origin: str, method: str, requested_headers: str | None) -> Preflight:
        vary = {"Vary": _PREFLIGHT_VARY}
        if not self.allows(origin):
            return Preflight(403, vary, f"CORS: origin {origin} is not allowed")
        if method.strip().upper() not in self.methods:
            return Preflight(403, vary, f"CORS: method {method} is not allowed")
        refused = [name for name in _names((requested_headers or "").split(",")) if name not in self.headers]
        if refused:
            return Preflight(403, vary, f"CORS: header(s) {', '.join(refused)} not allowed")
        headers = {
            **self._granted(origin),
            "Access-Control-Allow-Methods": ", ".join(self.methods),
            "Access-Control-Allow-Headers": ", ".join(self.headers),
            "Access-Control-Max-Age": str(self.max_age),
            **vary,
        }
        return Preflight(204, headers)


class CorsMiddleware:
    """Answers preflights and adds the policy's headers to every other answer."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self._app = app
        self._policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        method = request_headers.get("access-control-request-method")
        if scope["method"] == "OPTIONS" and origin is not None and method is not None:
            answer = self._policy.preflight(origin, method, request_headers.get("access-control-request-headers"))
            response: Response
            if answer.status == 204:
                response = Response(status_code=204, headers=answer.headers)
            else:
                response = PlainTextResponse(answer.reason, status_code=answer.status, headers=answer.headers)
            await response(scope, receive, send)
            return

        extra = self._policy.response_headers(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name == "Vary":
                        headers.add_vary_header(value)
                    else:
                        headers[name] = value
            await send(message)

        await self._app(scope, receive, send_with_cors)
