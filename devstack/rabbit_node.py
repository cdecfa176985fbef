"""A private RabbitMQ node that a test may stop and start again without disturbing anyone.

Debian's ``rabbitmq-server`` run under a node name of its own (``faults-<pid>-<hex>@localhost``),
with its AMQP and distribution ports free loopback ports, and its database, logs, plugins file,
config file and Erlang cookie in a folder of its own. Nothing of the shared node on 5672 is used
but the machine's epmd (which maps node names to ports; the node starts one if none runs).

The scripts in ``/usr/lib/rabbitmq/bin`` are run directly: Debian's wrappers in ``/usr/sbin`` switch
to the ``rabbitmq`` user when called by root, whose cookie and home are the shared node's.
Stopping is ``rabbitmqctl -n <this node> stop``; the process group this module started is killed
only if that does not end it. The data folder is kept across a stop, so durable queues and
persistent messages survive it, as they would a broker restart in production.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from devstack.ports import free_ports, port_open
from devstack.rabbit import install_rabbitmq

SCRIPTS = Path("/usr/lib/rabbitmq/bin")


def _script(name: str) -> str:
    """The script itself (not Debian's wrapper, which would run it as the ``rabbitmq`` user)."""
    direct = SCRIPTS / name
    if direct.exists():
        return str(direct)
    found = shutil.which(name)
    if found is None:
        install_rabbitmq()
        if direct.exists():
            return str(direct)
        found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found even after installing Debian's rabbitmq-server")
    return found


class RabbitNode:
    """One private node: ``start()``, ``stop()``, ``start()`` again on the same ports and data."""

    def __init__(self, base_dir: Path, *, name: str | None = None) -> None:
        self.base_dir = base_dir.resolve()
        self.node = name or f"faults-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        self.port, self.dist_port = free_ports(2)
        self._proc: subprocess.Popen[bytes] | None = None
        self._prepare()

    @property
    def amqp_base_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}"

    def amqp_url(self, vhost: str) -> str:
        return f"{self.amqp_base_url}/{quote(vhost, safe='')}"

    @property
    def pid(self) -> int | None:
        """The pid of the ``rabbitmq-server`` script this object started (the node runs under it)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _prepare(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        cookie = self.base_dir / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20).upper())
            cookie.chmod(0o400)
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        # guest may connect from loopback only by default, which is all we use; said explicitly.
        (self.base_dir / "rabbitmq.conf").write_text("loopback_users.guest = true\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")

    def _env(self) -> dict[str, str]:
        base = self.base_dir
        return {
            **os.environ,
            "HOME": str(base),  # the Erlang cookie of this node and of the rabbitmqctl that talks to it
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 120.0) -> None:
        """Start the node and wait until it accepts AMQP connections."""
        if self.pid is not None:
            return
        log = (self.base_dir / "server.out").open("ab")
        self._proc = subprocess.Popen(
            [_script("rabbitmq-server")],
            cwd=self.base_dir,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = (self.base_dir / "server.out").read_text(errors="replace")[-3000:]
                self._proc = None
                raise RuntimeError(f"RabbitMQ node {self.node} exited; its output ends:\n{tail}")
            if port_open(self.port):
                self.ctl("await_startup", timeout=timeout)
                return
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"RabbitMQ node {self.node} did not answer within {timeout:.0f}s")

    def stop(self, timeout: float = 60.0) -> None:
        """Stop this node (``rabbitmqctl -n <node> stop``) and wait for its process to end."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            self.ctl("stop", timeout=timeout)
            proc.wait(timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <this node> ...``; returns its output."""
        done = subprocess.run(
            [_script("rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        return done.stdout.decode(errors="replace")

    def add_vhost(self, name: str, user: str = "guest") -> None:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")

    def delete_vhost(self, name: str) -> None:
        if self.pid is not None:
            self.ctl("delete_vhost", name)

    def queue_depths(self, vhost: str) -> dict[str, int]:
        """Ready + unacknowledged messages of every queue of ``vhost``."""
        out = self.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages")
        depths: dict[str, int] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[1].strip().isdigit():
                depths[parts[0]] = int(parts[1])
        return depths
