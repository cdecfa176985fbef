"""``FileService``: RabbitMQ, SeaweedFS, PostgreSQL and the file service's five services in
containers on a network of their own, started in order, each waited for; hands back the URLs a
client needs and mints tokens the gateway accepts.

    with FileService() as fs:
        token = fs.token("files:*")
        httpx.post(fs.graphql_url, json={"query": "..."}, headers={"Authorization": f"Bearer {token}"})

Works with any Docker-compatible engine testcontainers reaches (``DOCKER_HOST``). Everything it
starts is stopped and removed on leaving (also when a start fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import jwt
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

SERVICES = ("gateway", "download", "resize", "cleanup", "bridge")
PORTS = {"gateway": 8000, "download": 8001, "resize": 8002, "cleanup": 8003, "bridge": 8004}


@dataclass(frozen=True)
class Images:
    """The images to run; each defaults to its environment variable (the names compose.yaml reads),
    else the upstream image."""

    app: str = field(default_factory=lambda: os.environ.get("FILESERVICE_IMAGE", "fileservice:dev"))
    rabbitmq: str = field(default_factory=lambda: os.environ.get("RABBITMQ_IMAGE", "rabbitmq:4.1-management"))
    seaweedfs: str = field(default_factory=lambda: os.environ.get("SEAWEEDFS_IMAGE", "chrislusf/seaweedfs:4.48"))
    postgres: str = field(default_factory=lambda: os.environ.get("POSTGRES_IMAGE", "postgres:16-bookworm"))


class FileService:
    """The whole file service, or a subset: ``services`` names which of the five to start (the
    gateway needs nothing else of ours; ``?width=`` needs download and resize; clean-up after a
    delete needs bridge and cleanup). ``settings``: extra environment for every service
    (docs/configuration.md), e.g. ``{"UPLOAD_MAX_SIZE": "1048576"}``."""

    def __init__(
        self,
        images: Images | None = None,
        *,
        services: tuple[str, ...] = SERVICES,
        settings: dict[str, str] | None = None,
        jwt_secret: str = "dev-secret",
        bucket: str = "files",
        timeout: float = 180.0,
    ) -> None:
        unknown = set(services) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {SERVICES}")
        self.images = images or Images()
        self.services = tuple(s for s in SERVICES if s in services)
        self.settings = dict(settings or {})
        self.jwt_secret = jwt_secret
        self.bucket = bucket
        self.timeout = timeout
        self.access_key, self.secret_key = "fileservice", uuid.uuid4().hex
        self._webhook_token = uuid.uuid4().hex
        self._network: Network | None = None
        self._started: list[DockerContainer] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._urls: dict[str, str] = {}

    # --- what a client needs ---------------------------------------------------------------
    @property
    def graphql_url(self) -> str:
        return self._urls["gateway"] + "/graphql"

    @property
    def gateway_url(self) -> str:
        return self._urls["gateway"]

    @property
    def download_url(self) -> str:
        """``{download_url}/files/{key}`` (add ``?width=300`` for an image variant)."""
        return self._urls["download"]

    @property
    def s3_endpoint_url(self) -> str:
        return self._urls["s3"]

    def token(self, scope: str = "files:*", *, subject: str = "tester", ttl: int = 3600) -> str:
        """A bearer token the gateway accepts (HS256 with this stack's secret)."""
        now = int(time.time())
        claims = {"sub": subject, "scope": scope, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> FileService:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> FileService:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for container in reversed(self._started):
            with contextlib.suppress(Exception):  # remove the rest whatever happens
                container.stop()
        self._started.clear()
        if self._network is not None:
            with contextlib.suppress(Exception):
                self._network.remove()
            self._network = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _run(self, container: DockerContainer, alias: str) -> DockerContainer:
        assert self._network is not None
        container.with_network(self._network).with_network_aliases(alias)
        container.ports = {port: ("127.0.0.1",) for port in container.ports}  # published on loopback only
        self._started.append(container)
        container.start()
        return container

    def _url(self, container: DockerContainer, port: int) -> str:
        host = container.get_container_host_ip()
        host = "127.0.0.1" if host == "localhost" else host
        return f"http://{host}:{container.get_exposed_port(port)}"

    def _start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="fileservice-tc-")
        config = Path(self._tmp.name)
        config.chmod(0o755)
        self._write_seaweed_config(config)
        self._network = Network().create()
        rabbit = self._run(
            DockerContainer(self.images.rabbitmq)
            .with_env("RABBITMQ_DEFAULT_USER", "fileservice")
            .with_env("RABBITMQ_DEFAULT_PASS", "fileservice")
            .with_exposed_ports(5672),
            "rabbitmq",
        )
        seaweed = self._run(
            DockerContainer(self.images.seaweedfs)
            .with_volume_mapping(str(config), "/etc/seaweedfs", "ro")
            .with_command(
                "server -dir=/data -ip=seaweedfs -ip.bind=0.0.0.0 -filer -s3 -s3.port=8333"
                " -s3.config=/etc/seaweedfs/s3.json -master.volumeSizeLimitMB=256 -volume.max=0"
            )
            .with_exposed_ports(8333),
            "seaweedfs",
        )
        postgres = self._run(
            DockerContainer(self.images.postgres)
            .with_env("POSTGRES_DB", "files")
            .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
            .with_command("postgres -c fsync=off"),
            "postgres",
        )
        self._urls["s3"] = self._url(seaweed, 8333)
        self._wait_exec(postgres, "pg_isready -h 127.0.0.1 -U postgres -d files", "PostgreSQL")
        self._wait_exec(rabbit, "rabbitmq-diagnostics -q check_port_connectivity", "RabbitMQ")
        env = self._env()
        self._one_shot(["python", "-m", "devstack", "bucket"], env, "create-bucket")
        self._one_shot(["python", "-m", "services.gateway.migrate"], env, "migrate")
        order = [s for s in SERVICES if s != "gateway"] + ["gateway"]  # the gateway links to download
        for name in order:
            if name not in self.services:
                continue
            if name == "gateway" and "download" in self._urls:
                env = {**env, "DOWNLOAD_BASE_URL": self._urls["download"]}
            port = PORTS[name]
            container = self._run(
                self._app(env, ["python", "-m", f"services.{name}"])
                .with_env("PORT", str(port))
                .with_exposed_ports(port),
                name,
            )
            self._urls[name] = self._url(container, port)
        for name in self.services:
            self._wait_ready(name)

    def _env(self) -> dict[str, str]:
        return {
            "DEV_MODE": "true",
            "JWT_SECRET": self.jwt_secret,
            "LOG_FORMAT": "json",
            "HOST": "0.0.0.0",
            "AMQP_URL": "amqp://fileservice:fileservice@rabbitmq:5672/",
            "S3_ENDPOINT_URL": "http://seaweedfs:8333",
            "S3_PUBLIC_ENDPOINT_URL": self._urls["s3"],
            "S3_ACCESS_KEY": self.access_key,
            "S3_SECRET_KEY": self.secret_key,
            "S3_BUCKET": self.bucket,
            "DATABASE_URL": "postgresql://postgres@postgres:5432/files",
            "BRIDGE_SOURCE": "webhook",
            "BRIDGE_WEBHOOK_TOKEN": self._webhook_token,
            "BRIDGE_CHECKPOINT_PATH": "/tmp/bridge-checkpoint",
            **self.settings,
        }

    def _app(self, env: dict[str, str], command: list[str]) -> DockerContainer:
        container = DockerContainer(self.images.app).with_command(command)
        for key, value in env.items():
            container.with_env(key, value)
        container.tmpfs = {"/tmp": ""}
        return container.with_kwargs(read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"])

    def _one_shot(self, command: list[str], env: dict[str, str], alias: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            container = self._run(self._app(env, command), alias)
            wrapped = container.get_wrapped_container()
            code = wrapped.wait(timeout=self.timeout)["StatusCode"]
            if code == 0:
                return
            if time.monotonic() > deadline:
                logs = wrapped.logs().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{alias} exited with {code}:\n{logs}")
            time.sleep(1)

    def _wait_exec(self, container: DockerContainer, command: str, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while container.exec(["sh", "-c", command]).exit_code != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready within {self.timeout:.0f}s")
            time.sleep(0.5)

    def _wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + self.timeout
        url = self._urls[name] + "/readyz"
        while True:
            try:
                if httpx.get(url, timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer {url} within {self.timeout:.0f}s")
            time.sleep(0.5)

    def _write_seaweed_config(self, config: Path) -> None:
        identities: dict[str, Any] = {
            "identities": [
                {
                    "name": self.access_key,
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (config / "s3.json").write_text(json.dumps(identities))
        (config / "notification.toml").write_text(
            "[notification.webhook]\n"
            "enabled = true\n"
            'endpoint = "http://bridge:8004/events/seaweedfs"\n'
            f'bearer_token = "{self._webhook_token}"\n'
            "timeout_seconds = 10\nmax_retries = 5\nbackoff_seconds = 2\nmax_backoff_seconds = 30\n"
            f'path_prefixes = ["/buckets/{self.bucket}"]\n'
        )
        for path in config.iterdir():
            path.chmod(0o644)
