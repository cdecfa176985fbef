"""``python -m services.resize``: the resize worker, until SIGTERM."""

from __future__ import annotations

import asyncio

from shared.logging import configure_logging, get_logger
from shared.runtime import run_until_signalled

from .app import ResizeService
from .settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging("resize", settings.log_level, settings.log_format)
    get_logger(__name__).info("resize worker starting", bucket=settings.s3_bucket, side_port=settings.port)
    service = ResizeService(settings)
    asyncio.run(run_until_signalled(service.start, service.stop))


if __name__ == "__main__":
    main()
