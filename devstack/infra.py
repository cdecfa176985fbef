"""Where the real broker and S3 come from, for the tests, the benchmarks and anything else that
needs a private pair of them.

With a container engine (a Docker engine that answers, or podman set up by ``devstack.engine``):
testcontainers (RabbitMQ and SeaweedFS containers, of the images ``devstack.images`` picks:
``$RABBITMQ_IMAGE`` / ``$SEAWEEDFS_IMAGE``, the upstream ones, or local stand-ins). Without one
(``DEVSTACK_ENGINE=none``, or a machine with neither Docker nor podman): the local RabbitMQ
(started if needed) and a private SeaweedFS on free loopback ports. Callers see the same ``Infra``
either way.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from devstack import rabbit
from devstack.engine import SHARED, Engine, NoEngine
from devstack.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS, SeaweedPorts, s3_client, weed_binary


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
    with ExitStack() as stack:
        try:
            engine = stack.enter_context(SHARED.acquire())
        except NoEngine as exc:
            reason = str(exc)
        else:
            yield stack.enter_context(_containers(engine))
            return
        yield stack.enter_context(_local(reason))


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


def _s3_identities() -> str:
    return json.dumps(
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


def wait_for_s3(endpoint_url: str, container: Any, timeout: float = 60.0) -> None:
    """Until SeaweedFS's S3 answers a signed ListBuckets (its log lines are no contract to wait on)."""
    client = s3_client(endpoint_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            return
        except Exception as exc:
            container.reload()
            if container.status not in {"created", "running"} or time.monotonic() > deadline:
                logs = container.logs(tail=40).decode(errors="replace")
                raise TimeoutError(
                    f"SeaweedFS ({container.status}) did not answer at {endpoint_url}: {exc}\n{logs}"
                ) from exc
        time.sleep(0.2)


def loopback_only(container: Any) -> Any:
    """Publish the container's ports on 127.0.0.1 only (random host ports), not on every address."""
    container.ports = {port: ("127.0.0.1",) for port in container.ports}
    return container


def host_of(container: Any) -> str:
    host: str = container.get_container_host_ip()
    return "127.0.0.1" if host == "localhost" else host


class Vhosts:
    """Vhosts through RabbitMQ's management API (milliseconds), or ``rabbitmqctl`` in the container
    (seconds each) for an image without the management plugin."""

    def __init__(self, broker: Any, api: str | None) -> None:
        self.broker = broker
        self.api = api

    def add(self, name: str) -> None:
        if self.api is not None:
            vhost = quote(name, safe="")
            httpx.put(f"{self.api}/vhosts/{vhost}", auth=("guest", "guest"), timeout=30).raise_for_status()
            httpx.put(
                f"{self.api}/permissions/{vhost}/guest",
                json={"configure": ".*", "write": ".*", "read": ".*"},
                auth=("guest", "guest"),
                timeout=30,
            ).raise_for_status()
            return
        _exec_ok(self.broker, ["rabbitmqctl", "-q", "add_vhost", name])
        _exec_ok(self.broker, ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"])

    def delete(self, name: str) -> None:
        if self.api is not None:
            httpx.delete(f"{self.api}/vhosts/{quote(name, safe='')}", auth=("guest", "guest"), timeout=30)
            return
        self.broker.exec(["rabbitmqctl", "-q", "delete_vhost", name])


def management_api(broker: Any, timeout: float = 30.0) -> str | None:
    """The management API's base URL once it answers; None when the image has no such plugin."""
    try:
        api = f"http://{host_of(broker)}:{broker.get_exposed_port(15672)}/api"
    except Exception:  # noqa: BLE001 - the port is not published: no management plugin
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/overview", auth=("guest", "guest"), timeout=5).status_code == 200:
                return api
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return None


def _exec_ok(container: Any, command: list[str]) -> None:
    result = container.exec(command)
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {result.exit_code}: {result.output.decode(errors='replace')}")


@contextmanager
def _containers(engine: Engine) -> Iterator[Infra]:
    from testcontainers.community.rabbitmq import RabbitMqContainer
    from testcontainers.core.container import DockerContainer

    from devstack.images import image_for

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="files-test-tc-") as tmp:
        config = Path(tmp) / "s3.json"
        config.write_text(_s3_identities())
        config.chmod(0o644)
        Path(tmp).chmod(0o755)
        broker = loopback_only(RabbitMqContainer(image_for(engine, "rabbitmq")).with_exposed_ports(15672))
        seaweed = loopback_only(
            DockerContainer(image_for(engine, "seaweedfs"))
            .with_volume_mapping(str(config), "/etc/seaweedfs/s3.json", "ro")
            .with_command(
                "mini -dir=/data -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3.config=/etc/seaweedfs/s3.json"
                " -admin.ui=false -webdav=false -master.telemetry=false"
            )
            .with_exposed_ports(8333, 8888, 18888, SeaweedPorts.admin)  # admin: its metrics
        )
        # Both start at once (RabbitMQ takes the longer); each is stopped and removed on leaving.
        stack.callback(seaweed.stop)
        stack.callback(broker.stop)
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(broker.start), pool.submit(seaweed.start)]:
                future.result()
        host = host_of(seaweed)
        s3_endpoint_url = f"http://{host}:{seaweed.get_exposed_port(8333)}"
        wait_for_s3(s3_endpoint_url, seaweed.get_wrapped_container())
        amqp_host = host_of(broker)
        amqp_port = broker.get_exposed_port(5672)
        vhosts = Vhosts(broker, management_api(broker))

        yield Infra(
            backend="testcontainers",
            reason=f"a container engine answers ({engine.kind}): RabbitMQ and SeaweedFS run in containers",
            amqp_base_url=f"amqp://guest:guest@{amqp_host}:{amqp_port}",
            s3_endpoint_url=s3_endpoint_url,
            filer_address=f"{host}:{seaweed.get_exposed_port(8888)}.{seaweed.get_exposed_port(18888)}",
            weed_binary=weed_binary(),
            add_vhost=vhosts.add,
            delete_vhost=vhosts.delete,
            s3_metrics_url=f"http://{host}:{seaweed.get_exposed_port(SeaweedPorts.admin)}/metrics",
        )
