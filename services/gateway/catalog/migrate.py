"""Versioned SQL migrations of the catalog, applied by the gateway at start and by the command
``python -m services.gateway.migrate``.

The files ``migrations/NNNN_name.sql`` are applied in order, each once, recorded in
``schema_migrations``. Everything runs in one transaction under an advisory lock, so two gateways
(or a gateway and this command) starting together neither apply a file twice nor see half a schema.
``migrate`` creates the database first when asked, it is missing and the server lets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.logging import get_logger

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant shared by every process that migrates this schema ("catalog" in ASCII).
ADVISORY_LOCK_ID = 0x636174616C6F67
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

log = get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; refuses duplicate versions."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        version, name = match.groups()
        if version in found:
            raise ValueError(f"two migrations with version {version}")
        found[version] = Migration(version, name, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def apply_migrations(connection: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing on ``connection``; returns the versions applied now."""
    todo = load_migrations() if migrations is None else migrations
    applied_now: list[str] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_ID)
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    text        PRIMARY KEY,
                   name       text        NOT NULL,
                   applied_on timestamptz NOT NULL DEFAULT clock_timestamp())"""
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        for migration in todo:
            if migration.version in done:
                continue
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
            )
            applied_now.append(migration.version)
    return applied_now


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise ValueError("DATABASE_URL names no database")
    return name


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str, *, maintenance_db: str = "postgres") -> bool:
    """Create the database of ``url`` if it is missing; True when it was created now."""
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await connection.close()
        return False
    admin = await asyncpg.connect(with_database(url, maintenance_db))
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(database_name(url))}")
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        return False  # someone else created it meanwhile (the second error when exactly at once)
    finally:
        await admin.close()
    return True


async def migrate(url: str, *, create_database: bool = True) -> list[str]:
    """Create the database if asked (and missing), then apply the missing migrations."""
    if create_database and await ensure_database(url):
        log.info("database created", database=database_name(url))
    connection = await asyncpg.connect(url)
    try:
        applied = await apply_migrations(connection)
    finally:
        await connection.close()
    log.info("migrations applied" if applied else "schema up to date", applied=applied, database=database_name(url))
    return applied
