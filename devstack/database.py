"""Where the tests' and benchmarks' PostgreSQL comes from, and databases of their own on it.

With a container engine (``devstack.engine``): a testcontainers PostgreSQL (``$POSTGRES_IMAGE``, the
upstream image or a local stand-in; ``devstack.images``), one per process, shared by every caller
until the last is done. Without one (``DEVSTACK_ENGINE=none``, or no Docker nor podman): the server
on 127.0.0.1:5432 (started, and installed if needed, by ``devstack.postgres``). Either way a session
(a test run, a benchmark, a stack of ``devstack.stack``) makes a migrated template database with a
unique name, clones it for every database it asks for (``CREATE DATABASE ... TEMPLATE``), and
drops all of them at the end, so that parallel runs on one server never meet.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from devstack.engine import SHARED, Engine, NoEngine
from devstack.postgres import ensure_postgresql
from services.gateway.catalog.migrate import apply_migrations, database_name, quote_ident, with_database

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ABANDONED_AFTER = 12 * 3600  # seconds; a whole test session takes minutes
_SESSION_NAME = re.compile(r"^files_test_(\d{10})_[0-9a-f]{8}(_|$)")
PRIVATE_DATA_DIR = Path(__file__).resolve().parents[1] / ".data" / "postgres"


@dataclass(frozen=True)
class Database:
    backend: str  # "testcontainers" or "local"
    server_url: str  # the maintenance database ("postgres") on the server
    template: str  # migrated, never connected to by tests
    prefix: str  # every database of this session starts with it

    def url(self, name: str) -> str:
        return with_database(self.server_url, name)

    async def clone(self, name: str | None = None) -> str:
        """A new database (a copy of the migrated template); returns its URL."""
        name = name or f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        async with _connected(self.server_url) as admin:
            await admin.execute(f"CREATE DATABASE {quote_ident(name)} TEMPLATE {quote_ident(self.template)}")
        return self.url(name)

    async def drop(self, url: str) -> None:
        async with _connected(self.server_url) as admin:
            await _drop(admin, database_name(url))


@asynccontextmanager
async def _connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(url)
    try:
        yield connection
    finally:
        await connection.close()


async def _drop(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")


async def _make_template(server_url: str, template: str) -> None:
    async with _connected(server_url) as admin:
        await admin.execute(f"CREATE DATABASE {quote_ident(template)}")
    async with _connected(with_database(server_url, template)) as connection:
        await apply_migrations(connection)


async def _drop_abandoned(server_url: str, now: float) -> None:
    """Drop what sessions killed before their clean-up left behind (their prefix carries their
    start time), once far older than any test session runs."""
    async with _connected(server_url) as admin:
        for row in await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'files\\_test\\_%'"):
            match = _SESSION_NAME.match(row["datname"])
            if match is not None and now - int(match.group(1)) > ABANDONED_AFTER:
                await _drop(admin, row["datname"])


async def _drop_session(server_url: str, prefix: str) -> None:
    async with _connected(server_url) as admin:
        names = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix.replace("_", "\\_") + "%"
        )
        for row in names:
            await _drop(admin, row["datname"])


@contextmanager
def provide_database() -> Iterator[Database]:
    started = int(time.time())
    prefix = f"files_test_{started}_{uuid.uuid4().hex[:8]}"
    with _server() as (backend, server_url):
        database = Database(backend, server_url, f"{prefix}_template", prefix)
        try:
            asyncio.run(_drop_abandoned(server_url, started))
            asyncio.run(_make_template(server_url, database.template))
            yield database
        finally:
            asyncio.run(_drop_session(server_url, prefix))


@contextmanager
def _server() -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        try:
            engine = stack.enter_context(SHARED.acquire())
        except NoEngine:
            engine = None
        if engine is not None:
            yield "testcontainers", stack.enter_context(_CONTAINER.acquire(engine))
            return
    # Starts a private cluster (data under .data/postgres) only when nothing answers on 5432; it
    # is then left running, as the local RabbitMQ is: other runs on this machine may be using it.
    ensure_postgresql(PRIVATE_DATA_DIR)
    yield "local", LOCAL_SERVER_URL


class _SharedContainer:
    """One PostgreSQL container per process: the test session and every stack of ``devstack.stack``
    make their own databases on it (unique names) instead of starting a server each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._container: object | None = None
        self._url = ""

    @contextmanager
    def acquire(self, engine: Engine) -> Iterator[str]:
        with self._lock:
            if self._holders == 0:
                from testcontainers.community.postgres import PostgresContainer

                from devstack.images import image_for
                from devstack.infra import loopback_only

                container = PostgresContainer(
                    image_for(engine, "postgres"),
                    username="postgres",
                    password="postgres",
                    dbname="postgres",
                    driver=None,
                )
                # Throw-away data: no fsync, so that creating and dropping databases is quick.
                container.with_command("postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
                loopback_only(container).start()
                self._container = container
                self._url = container.get_connection_url().replace("@localhost:", "@127.0.0.1:")
            self._holders += 1
            url = self._url
        try:
            yield url
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._container is not None:
                    self._container.stop()  # type: ignore[attr-defined]
                    self._container = None


_CONTAINER = _SharedContainer()
