"""``python -m services.gateway``: the GraphQL gateway on HOST:PORT until SIGTERM."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from services.gateway.app import build_app
from services.gateway.settings import GatewaySettings
from shared.logging import configure_logging
from shared.runtime import run_http


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        sys.exit(f"gateway: refusing to start: {problems}")
    configure_logging("gateway", settings.log_level, settings.log_format)
    run_http(build_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
