"""The five services as separate processes against a fresh vhost and bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.seaweed import s3_client
from devstack.services import SERVICE_NAMES, ServiceProcess, StackPorts, stack_env, wait_ready
from tests.support.infra import Infra
from tests.support.ports import free_ports

PRESIGN_EXPIRES = 5


@dataclass
class Stack:
    gateway_url: str
    download_url: str
    bucket: str
    s3: Any
    services: dict[str, ServiceProcess]
    log_dir: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(
            f"{self.gateway_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )

    def object_keys(self, prefix: str = "") -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in resp.get("Contents", [])]

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture(scope="module")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    vhost = f"files-e2e-{uuid.uuid4().hex[:12]}"
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    infra.add_vhost(vhost)
    s3 = s3_client(infra.s3_endpoint_url, infra.access_key, infra.secret_key)
    s3.create_bucket(Bucket=bucket)
    log_dir = tmp_path_factory.mktemp("e2e-logs")
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
        extra={"PRESIGN_EXPIRES": str(PRESIGN_EXPIRES), "WEED_BINARY": infra.weed_binary},
    )
    services = {
        name: ServiceProcess(name, ports.of(name), env, log_path=log_dir / f"{name}.log") for name in SERVICE_NAMES
    }
    for svc in services.values():
        svc.start()
    stack = Stack(
        gateway_url=services["gateway"].base_url,
        download_url=services["download"].base_url,
        bucket=bucket,
        s3=s3,
        services=services,
        log_dir=log_dir,
    )
    try:
        try:
            wait_ready(list(services.values()), timeout=90)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{stack.logs()}") from exc
        yield stack
    finally:
        for svc in services.values():
            svc.stop()
        infra.delete_vhost(vhost)
