"""Where the real broker and S3 come from, for the tests, the benchmarks and anything else that
needs a private pair of them.

With a Docker engine: testcontainers (RabbitMQ and SeaweedFS containers). Without one (these
machines): the local RabbitMQ (started if needed) and a private SeaweedFS on free loopback ports.
Callers see the same ``Infra`` either way.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack import rabbit
from devstack.containers import docker_unavailable_reason
from devstack.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS, SeaweedPorts, weed_binary

SEAWEED_IMAGE = "chrislusf/seaweedfs:4.48"
RABBIT_IMAGE = "rabbitmq:3.13"


@dataclass(frozen=True)
class Infra:
    backend: str  # "testcontainers" or "local"
    reason: str
    amqp_base_url: str
    s3_endpoint_url: str
    filer_address: str
    weed_binary: str
    add_vhost: Callable[[str], None]
    delete_vhost: Callable[[str], None]
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    # SeaweedFS's Prometheus metrics (``SeaweedFS_s3_request_total`` per bucket); None where unknown
    s3_metrics_url: str | None = None

    def amqp_url(self, vhost: str) -> str:
        return rabbit.vhost_url(vhost, self.amqp_base_url)


@contextmanager
def provide_infra() -> Iterator[Infra]:
    reason = docker_unavailable_reason()
    if reason is None:
        with _containers() as infra:
            yield infra
    else:
        with _local(reason) as infra:
            yield infra


@contextmanager
def _local(reason: str) -> Iterator[Infra]:
    rabbit.ensure_rabbitmq()
    with tempfile.TemporaryDirectory(prefix="files-test-weed-") as tmp:
        ports = SeaweedPorts.free()
        seaweed = SeaweedFS(Path(tmp), ports)
        seaweed.start()
        try:
            yield Infra(
                backend="local",
                reason=f"{reason}: using the local RabbitMQ and a private SeaweedFS",
                amqp_base_url="amqp://guest:guest@127.0.0.1:5672",
                s3_endpoint_url=ports.s3_endpoint_url,
                filer_address=ports.filer_address,
                weed_binary=weed_binary(),
                add_vhost=rabbit.add_vhost,
                delete_vhost=rabbit.delete_vhost,
                s3_metrics_url=f"http://127.0.0.1:{ports.admin}/metrics",  # `weed mini` serves them there
            )
        finally:
            seaweed.stop()


@contextmanager
def _containers() -> Iterator[Infra]:  # pragma: no cover - needs a Docker engine
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.rabbitmq import RabbitMqContainer

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="files-test-tc-") as tmp:
        broker = stack.enter_context(RabbitMqContainer(RABBIT_IMAGE))
        config = Path(tmp) / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": ACCESS_KEY,
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        seaweed = (
            DockerContainer(SEAWEED_IMAGE)
            .with_volume_mapping(str(config), "/etc/seaweedfs/s3.json", "ro")
            .with_command("mini -dir=/data -s3.config=/etc/seaweedfs/s3.json -admin.ui=false")
            .with_exposed_ports(8333, 8888, 18888)
        )
        stack.enter_context(seaweed)
        wait_for_logs(seaweed, "Press Ctrl+C", timeout=60)
        host = seaweed.get_container_host_ip()
        amqp_host = broker.get_container_host_ip()
        amqp_port = broker.get_exposed_port(5672)

        def add(name: str) -> None:
            broker.exec(["rabbitmqctl", "add_vhost", name])
            broker.exec(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"])

        def delete(name: str) -> None:
            broker.exec(["rabbitmqctl", "delete_vhost", name])

        yield Infra(
            backend="testcontainers",
            reason="a Docker engine answers: RabbitMQ and SeaweedFS run in containers",
            amqp_base_url=f"amqp://guest:guest@{amqp_host}:{amqp_port}",
            s3_endpoint_url=f"http://{host}:{seaweed.get_exposed_port(8333)}",
            filer_address=f"{host}:{seaweed.get_exposed_port(8888)}.{seaweed.get_exposed_port(18888)}",
            weed_binary=weed_binary(),
            add_vhost=add,
            delete_vhost=delete,
        )
