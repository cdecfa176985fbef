"""``python -m services.gateway``: the GraphQL gateway on HOST:PORT until SIGTERM."""

from __future__ import annotations

from services.gateway.app import build
from services.gateway.settings import GatewaySettings
from shared.runtime import serve


def main() -> None:
    serve("gateway", GatewaySettings, build)


if __name__ == "__main__":
    main()
