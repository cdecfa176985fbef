"""Both ways the fixtures get their infrastructure work: testcontainers on the session's engine
(what this run uses wherever an engine can be had), and the local processes, forced here with
``DEVSTACK_ENGINE=none`` in a separate process (a machine without Docker or podman)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from devstack.database import Database
from devstack.engine import ROOT, Engine
from devstack.infra import Infra


def test_the_session_takes_the_container_path_on_an_engine(engine: Engine, infra: Infra, database: Database) -> None:
    assert infra.backend == "testcontainers", infra.reason
    assert database.backend == "testcontainers"
    assert infra.amqp_base_url.startswith("amqp://guest:guest@127.0.0.1:")  # published on loopback only
    assert database.server_url.startswith("postgresql://postgres:postgres@127.0.0.1:")


LOCAL_CHECK = textwrap.dedent(
    """
    import asyncio, asyncpg, uuid
    from devstack.infra import provide_infra
    from devstack.database import provide_database
    from devstack.seaweed import s3_client
    from shared.broker import connect

    async def broker(url):
        connection = await connect(url, name="local-path")
        await connection.close()

    async def catalog(url):
        connection = await asyncpg.connect(url)
        assert await connection.fetchval("SELECT count(*) FROM files") == 0
        await connection.close()

    with provide_infra() as infra, provide_database() as database:
        assert infra.backend == "local" and database.backend == "local", (infra.backend, database.backend)
        assert "DEVSTACK_ENGINE=none" in infra.reason
        vhost = "files-test-local-" + uuid.uuid4().hex[:8]
        infra.add_vhost(vhost)
        try:
            asyncio.run(broker(infra.amqp_url(vhost)))
        finally:
            infra.delete_vhost(vhost)
        s3 = s3_client(infra.s3_endpoint_url)
        s3.create_bucket(Bucket="local-path")
        s3.put_object(Bucket="local-path", Key="k", Body=b"v")
        assert s3.get_object(Bucket="local-path", Key="k")["Body"].read() == b"v"
        asyncio.run(catalog(asyncio.run(database.clone())))
    print("local path ok")
    """
)


@pytest.mark.timeout(300)
def test_the_local_process_path_without_an_engine() -> None:
    env = {**os.environ, "DEVSTACK_ENGINE": "none"}
    env.pop("DOCKER_HOST", None)
    result = subprocess.run(
        [sys.executable, "-c", LOCAL_CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=280
    )
    assert result.returncode == 0 and "local path ok" in result.stdout, result.stdout + result.stderr
