"""``python -m services.download``: serve ``/files/{key}`` until SIGTERM."""

from __future__ import annotations

from services.download.app import SERVICE_NAME, build_app
from services.download.settings import Settings
from shared.logging import configure_logging
from shared.runtime import run_http


def main() -> None:
    settings = Settings()
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
    run_http(build_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
