"""``python -m services.bridge``: object-store notifications -> normalized events on RabbitMQ."""

from __future__ import annotations

from services.bridge.app import build
from services.bridge.settings import BridgeSettings
from shared.runtime import serve


def main() -> None:
    serve("bridge", BridgeSettings, build)


if __name__ == "__main__":
    main()
