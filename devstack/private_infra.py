"""A broker, an object store and a database of one's own, each of which may be stopped and started
again: what the fault suite runs the five services against (``tests/faults``).

A private RabbitMQ node (``devstack.rabbit_node``), a private PostgreSQL cluster
(``devstack.postgres.PostgresCluster``) and a private SeaweedFS (``devstack.seaweed``), each on free
loopback ports with its data in one temporary folder. Stopping one of them disturbs no other test
run on the machine (the shared RabbitMQ on 5672 and PostgreSQL on 5432 are never touched). Each
keeps its ports and its data across a stop, as a restarted server in production does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.infra import Infra
from devstack.ports import free_port
from devstack.postgres import PostgresCluster
from devstack.rabbit_node import RabbitNode
from devstack.seaweed import SeaweedFS, SeaweedPorts, weed_binary
from services.gateway.catalog.migrate import migrate, with_database


@dataclass
class PrivateInfra:
    rabbit: RabbitNode
    postgres: PostgresCluster
    seaweed: SeaweedFS

    @property
    def infra(self) -> Infra:
        """The broker and S3 in the shape ``devstack.stack.running_stack`` takes."""
        return Infra(
            backend="private",
            reason="a private RabbitMQ node, SeaweedFS and PostgreSQL cluster on free loopback ports",
            amqp_base_url=self.rabbit.amqp_base_url,
            s3_endpoint_url=self.seaweed.ports.s3_endpoint_url,
            filer_address=self.seaweed.ports.filer_address,
            weed_binary=weed_binary(),
            add_vhost=self.rabbit.add_vhost,
            delete_vhost=self.rabbit.delete_vhost,
        )

    def new_database(self) -> str:
        """A new, migrated catalog database on the private cluster; returns its URL."""
        url = with_database(self.postgres.server_url, f"faults_{uuid.uuid4().hex[:12]}")
        asyncio.run(migrate(url))
        return url

    def ensure_running(self) -> None:
        """Start whichever of the three is stopped (after a test that failed while one was down)."""
        if self.rabbit.pid is None:
            self.rabbit.start()
        if not self.postgres.running:
            self.postgres.start()
        if self.seaweed.pid is None:
            self.seaweed.start()


@contextmanager
def private_infra() -> Iterator[PrivateInfra]:
    """Start the three in a new temporary folder; stop them and remove it on leaving."""
    base = Path(tempfile.mkdtemp(prefix="files-faults-"))
    # The PostgreSQL server runs as ``postgres`` when we are root: it must traverse this folder.
    os.chmod(base, 0o755)
    try:
        with ExitStack() as stack:
            rabbit = RabbitNode(base / "rabbitmq")
            stack.callback(rabbit.stop)
            rabbit.start()
            postgres = PostgresCluster(base / "postgres" / "data", free_port())
            stack.callback(postgres.stop)
            postgres.start()
            seaweed = SeaweedFS(base / "seaweedfs", SeaweedPorts.free())
            stack.callback(seaweed.stop)
            seaweed.start()
            yield PrivateInfra(rabbit=rabbit, postgres=postgres, seaweed=seaweed)
    finally:
        shutil.rmtree(base, ignore_errors=True)
