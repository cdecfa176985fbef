"""Fixtures shared by every test: a real broker vhost and a real S3 bucket per test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aio_pika.abc import AbstractRobustConnection

from devstack.database import Database, provide_database
from devstack.infra import Infra, provide_infra
from devstack.seaweed import s3_client
from shared.broker import connect
from shared.s3 import ObjectStore
from shared.settings import CommonSettings
from tests.support.servers import InProcessServer

S = TypeVar("S", bound=CommonSettings)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide_infra() as provided:
        yield provided


@pytest.fixture(scope="session")
def database() -> Iterator[Database]:
    """A PostgreSQL server and a migrated template database unique to this test session."""
    with provide_database() as provided:
        yield provided


@pytest.fixture(scope="session")
def session_database_url(database: Database) -> str:
    """The session's shared catalog database (``DATABASE_URL`` of ``service_env``)."""
    return asyncio.run(database.clone(f"{database.prefix}_shared"))


@pytest.fixture
async def database_url(database: Database) -> AsyncIterator[str]:
    """An empty, migrated catalog database of this test alone, dropped afterwards."""
    url = await database.clone()
    try:
        yield url
    finally:
        await database.drop(url)


@pytest.fixture
def amqp_url(infra: Infra) -> Iterator[str]:
    vhost = f"files-test-{uuid.uuid4().hex[:12]}"
    infra.add_vhost(vhost)
    try:
        yield infra.amqp_url(vhost)
    finally:
        infra.delete_vhost(vhost)


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    """A robust broker connection to this test's vhost, closed afterwards."""
    conn = await connect(amqp_url, name="test")
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def bucket(infra: Infra) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:16]}"
    client: Any = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key)
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        try:
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=name):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            client.delete_bucket(Bucket=name)
        except Exception:  # noqa: BLE001 - best effort; the private SeaweedFS goes away anyway
            pass


@pytest.fixture
def service_env(infra: Infra, amqp_url: str, bucket: str, session_database_url: str) -> dict[str, str]:
    return {
        "AMQP_URL": amqp_url,
        "DATABASE_URL": session_database_url,
        "S3_ENDPOINT_URL": infra.s3_endpoint_url,
        "S3_ACCESS_KEY": infra.access_key,
        "S3_SECRET_KEY": infra.secret_key,
        "S3_REGION": "us-east-1",
        "S3_BUCKET": bucket,
        "DEV_MODE": "true",
        "LOG_FORMAT": "json",
    }


@pytest.fixture
def settings_for(service_env: dict[str, str]) -> Callable[..., Any]:
    def build(cls: type[S], **overrides: Any) -> S:
        values: dict[str, Any] = {k.lower(): v for k, v in service_env.items()}
        values.update(overrides)
        return cls(**values)

    return build


@pytest.fixture
def store(settings_for: Callable[..., Any]) -> ObjectStore:
    return ObjectStore.from_settings(settings_for(CommonSettings))


@pytest.fixture
async def serve_app() -> AsyncIterator[Callable[..., Awaitable[InProcessServer]]]:
    """Serve ASGI apps in-process on free ports; every one is stopped after the test."""
    running: list[InProcessServer] = []

    async def serve(app: Any, port: int | None = None) -> InProcessServer:
        server = InProcessServer(app, port)
        await server.start()
        running.append(server)
        return server

    yield serve
    for server in reversed(running):
        await server.stop()
