"""The File Manager page: ``/`` and its files under ``/app/``, plain ES modules, no build step.

The page talks to ``/graphql`` on this origin, uploads straight to S3 and shows pictures from the
download service, and nothing else: the Content-Security-Policy names exactly those origins (S3's
as its signed URLs have it, the download service's as ``srcPrefix`` has it) and allows no inline
script or style. ``/app/config.json`` tells the page what it cannot ask GraphQL: whether this is
a dev deployment, the allowed image widths and the size from which it uploads in parts.

In dev mode only, ``GET /app/dev-token`` mints a token for the dev user (the page signs itself in
with it); elsewhere the page asks for a bearer token and keeps it in the tab's sessionStorage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.gateway.devtoken import mint_token

WEB_DIR = Path(__file__).parent / "web"
MULTIPART_THRESHOLD = 16 * 1024**2  # the page uploads larger files in parts (docs/decisions.md)
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}  # fmt: skip


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, s3_origins: Sequence[str], download_origins: Sequence[str]) -> str:
    """The page's policy: its own scripts and styles only; pictures from the download service;
    connections to this origin, S3 (uploads) and the download service (size checks)."""
    downloads = " ".join(dict.fromkeys(download_origins))
    connect = " ".join(dict.fromkeys([*s3_origins, *download_origins]))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {downloads}".strip(),
            f"connect-src 'self' {connect}".strip(),
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), clipboard-write=(self)",
    }


@dataclass(frozen=True)
class PageConfig:
    dev_mode: bool
    widths: tuple[int, ...]
    s3_origin: str | None  # where the signed upload URLs point
    default_download_origin: str | None
    jwt_secret: str | None  # the dev secret, to mint the dev token (dev mode only, never JWKS)
    jwt_audience: str | None = None
    multipart_threshold: int = MULTIPART_THRESHOLD


def web_routes(
    config: PageConfig, src_prefix: Callable[[], Awaitable[str]], web_dir: Path = WEB_DIR
) -> list[BaseRoute]:
    """``/``, ``/app/{file}``, ``/app/config.json`` and (dev mode) ``/app/dev-token``."""
    files = {path.name: path for path in web_dir.iterdir() if path.is_file() and path.suffix in _TYPES}

    async def policy() -> str:
        origins = [config.default_download_origin]
        # the page must load (and say "try again") while the catalog is down
        with contextlib.suppress(Exception):
            origins.append(origin_of(await src_prefix()))
        return content_security_policy(
            s3_origins=[config.s3_origin] if config.s3_origin else [],
            download_origins=[o for o in origins if o],
        )

    def send(path: Path, csp: str, *, cache: str) -> Response:
        headers = {**security_headers(csp), "Cache-Control": cache}
        return FileResponse(path, media_type=_TYPES[path.suffix], headers=headers)

    async def index(_: Request) -> Response:
        return send(files["index.html"], await policy(), cache="no-cache")

    async def asset(request: Request) -> Response:
        path = files.get(request.path_params["name"])
        if path is None or path.name == "index.html":
            return JSONResponse({"error": {"code": "NOT_FOUND", "message": "No such file.", "data": None}}, 404)
        return send(path, "default-src 'none'; frame-ancestors 'none'", cache="no-cache")

    async def page_config(_: Request) -> Response:
        body = {
            "graphql": "/graphql",
            "devMode": config.dev_mode,
            "widths": list(config.widths),
            "multipartThreshold": config.multipart_threshold,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/app/config.json", page_config, methods=["GET"]),
    ]
    if config.dev_mode and config.jwt_secret:
        secret = config.jwt_secret

        async def dev_token(_: Request) -> Response:
            token = mint_token(secret, audience=config.jwt_audience)
            return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

        routes.append(Route("/app/dev-token", dev_token, methods=["GET"]))
    routes.append(Route("/app/{name:str}", asset, methods=["GET", "HEAD"]))
    return routes
