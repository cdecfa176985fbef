"""``python -m services.gateway.migrate``: create the catalog's database if missing and apply the
missing migrations (what a deployment runs before the gateways start; see catalog/migrate.py)."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from services.gateway.catalog.config import CatalogConfig
from services.gateway.catalog.migrate import migrate
from shared.logging import configure_logging, get_logger
from shared.runtime import load_settings
from shared.settings import CommonSettings

log = get_logger(__name__)


class MigrateSettings(CommonSettings, CatalogConfig):
    """What the command reads: ``DATABASE_URL`` and the logging settings."""


def main() -> int:
    settings = load_settings("gateway-migrate", MigrateSettings)
    configure_logging("gateway-migrate", settings.log_level, settings.log_format)
    try:
        asyncio.run(migrate(settings.database_url.get_secret_value()))
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("migration failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
