"""The local RabbitMQ: use the one that answers, or install and start Debian's; vhosts for isolation."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

from devstack.ports import port_open


def ensure_rabbitmq(port: int = 5672, timeout: float = 90.0) -> None:
    """Make sure a broker answers on ``port``: start (and if needed install) Debian's rabbitmq-server."""
    if port_open(port):
        return
    if not shutil.which("rabbitmq-server"):
        install_rabbitmq()
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.5)
    raise TimeoutError(f"RabbitMQ did not answer on 127.0.0.1:{port} within {timeout:.0f}s")


def install_rabbitmq() -> None:
    """Debian's rabbitmq-server (which also starts the shared node on 5672)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "rabbitmq-server"], check=True, env=env)


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def add_vhost(name: str, user: str = "guest") -> None:
    _ctl("add_vhost", name)
    _ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        _ctl("delete_vhost", name)


def vhost_url(vhost: str, base: str = "amqp://guest:guest@127.0.0.1:5672") -> str:
    from urllib.parse import quote

    return f"{base.rstrip('/')}/{quote(vhost, safe='')}"
