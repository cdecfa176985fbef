"""The five services as separate processes on free ports, against a fresh vhost and bucket of the
given infrastructure and a fresh catalog database: what the end-to-end tests and the benchmarks run
against (``make run`` starts the same five, with ``devstack.services``, on its fixed ports)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.database import provide_database
from devstack.infra import Infra
from devstack.ports import free_ports
from devstack.seaweed import s3_client
from devstack.services import ServiceProcess, StackPorts, stack_env, started, the_five


@dataclass
class RunningStack:
    ports: StackPorts
    bucket: str
    s3: Any
    services: dict[str, ServiceProcess]
    log_dir: Path

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].base_url

    @property
    def download_url(self) -> str:
        return self.services["download"].base_url

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )


@contextmanager
def running_stack(
    infra: Infra, log_dir: Path, extra_env: dict[str, str] | None = None, *, database_url: str | None = None
) -> Iterator[RunningStack]:
    """``database_url``: the catalog's database; by default a fresh migrated one, dropped afterwards."""
    with ExitStack() as resources:
        if database_url is None:
            database = resources.enter_context(provide_database())
            database_url = asyncio.run(database.clone())
        vhost = f"files-stack-{uuid.uuid4().hex[:12]}"
        bucket = f"stack-{uuid.uuid4().hex[:12]}"
        infra.add_vhost(vhost)
        resources.callback(infra.delete_vhost, vhost)
        s3 = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key)
        s3.create_bucket(Bucket=bucket)
        ports = StackPorts(*free_ports(5))
        env = stack_env(
            amqp_url=infra.amqp_url(vhost),
            s3_endpoint_url=infra.s3_endpoint_url,
            bucket=bucket,
            filer_address=infra.filer_address,
            ports=ports,
            data_dir=log_dir,
            access_key=infra.access_key,
            secret_key=infra.secret_key,
            database_url=database_url,
            extra={"WEED_BINARY": infra.weed_binary, **(extra_env or {})},
        )
        services = the_five(env, ports, log_dir=log_dir)
        stack = RunningStack(ports=ports, bucket=bucket, s3=s3, services=services, log_dir=log_dir)
        try:
            resources.enter_context(started(services.values(), timeout=90))
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{stack.logs()}") from exc
        yield stack
