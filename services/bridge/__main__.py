"""``python -m services.bridge``: object-store notifications -> normalized events on RabbitMQ."""

from __future__ import annotations

from shared.logging import configure_logging, get_logger
from shared.runtime import run_http

from .app import create_app
from .settings import BridgeSettings


def main() -> None:
    settings = BridgeSettings()
    configure_logging("bridge", settings.log_level, settings.log_format)
    get_logger(__name__).info(
        "bridge starting", source=settings.bridge_source, bucket=settings.s3_bucket, port=settings.port
    )
    run_http(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
