"""The container engine of a session: the Docker engine that answers, or podman set up by us.

Where a Docker engine answers (``DOCKER_HOST`` or the default socket), everything uses it unchanged.
Where none does, podman (Debian's, installed by ``scripts/install-podman.sh``) serves the
Docker-compatible API on a socket of this session, with the project's ``containers.conf`` (runc,
rlimits a root without CAP_SYS_RESOURCE may set); a health ticker runs ``podman healthcheck run``
for the containers of this session, because podman 4.3 schedules health checks with systemd timers
and there is no systemd here. Only what the session started is stopped at its end.

``DEVSTACK_ENGINE``: ``auto`` (the default), ``docker`` (fail unless one answers), ``podman`` (always
podman), ``none`` (no engine: the fixtures take the local-process path).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack.pids import alive

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS_CONF = ROOT / "deploy" / "images" / "containers.conf"
# testcontainers: no Ryuk (its image cannot be pulled here, and every container of ours is removed
# by the code that started it), and the published port on the host, even though this VM has a
# /.dockerenv that makes testcontainers believe it runs inside a container.
TESTCONTAINERS_ENV = {"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_CONNECTION_MODE": "docker_host"}


class NoEngine(RuntimeError):
    """No container engine here (and none may be set up); the message says why."""


@dataclass
class Engine:
    kind: str  # "docker" or "podman"
    docker_host: str  # for the Docker SDK, compose and testcontainers
    env: dict[str, str] = field(default_factory=dict)  # what child processes and SDKs need

    def cli(self) -> list[str]:
        """The engine's own command line (``docker`` or ``podman``), with ``self.env`` for podman."""
        return ["podman"] if self.kind == "podman" else ["docker"]

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.cli(), *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """``os.environ`` carries ``self.env`` meanwhile (for in-process SDKs: testcontainers, docker)."""
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def docker_answers(docker_host: str | None = None) -> str | None:
    """None when a Docker engine answers at ``docker_host`` (default: the environment), else why not."""
    try:
        import docker  # a dev extra (testcontainers brings it)

        client = docker.DockerClient(base_url=docker_host, timeout=3) if docker_host else docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means no engine
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"


def choice() -> str:
    value = os.environ.get("DEVSTACK_ENGINE", "auto").strip().lower() or "auto"
    if value not in {"auto", "docker", "podman", "none"}:
        raise NoEngine(f"DEVSTACK_ENGINE={value!r}: use auto, docker, podman or none")
    return value


def podman_env(docker_host: str) -> dict[str, str]:
    return {"CONTAINERS_CONF": str(CONTAINERS_CONF), "DOCKER_HOST": docker_host, **TESTCONTAINERS_ENV}


def install_podman() -> None:
    """Debian's podman, runc, buildah and debootstrap (idempotent; nothing when they are there)."""
    result = subprocess.run([str(ROOT / "scripts" / "install-podman.sh")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NoEngine(f"podman could not be installed: {(result.stderr or result.stdout).strip()[-400:]}")


def podman_usable() -> str | None:
    """None when podman is installed (or can be, as root on Debian); else why not."""
    if shutil.which("podman"):
        return None
    if sys.platform == "linux" and os.geteuid() == 0 and shutil.which("apt-get"):
        return None
    return "podman is not installed and cannot be installed here (not root on Debian)"


class PodmanService:
    """``podman system service`` on a socket of ours, plus the health ticker; started and stopped
    by pid (never by name), so other sessions' services on this machine are left alone."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.socket = state_dir / "podman.sock"
        self.docker_host = f"unix://{self.socket}"
        self.service: subprocess.Popen[bytes] | None = None
        self.ticker: subprocess.Popen[bytes] | None = None

    def start(self, *, detached: bool = False, timeout: float = 30.0) -> Engine:
        install_podman()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **podman_env(self.docker_host)}
        log = (self.state_dir / "podman-service.log").open("ab")
        self.service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.docker_host],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detached,
        )
        deadline = time.monotonic() + timeout
        while docker_answers(self.docker_host) is not None:
            if self.service.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.state_dir / "podman-service.log").read_text(errors="replace")[-1500:]
                raise NoEngine(f"podman's API did not answer on {self.socket}:\n{tail}")
            time.sleep(0.1)
        self.ticker = subprocess.Popen(
            [sys.executable, "-m", "devstack.healthticker", "--parent", str(self.service.pid)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=detached,
        )
        (self.state_dir / "engine.json").write_text(
            json.dumps({"service": self.service.pid, "ticker": self.ticker.pid, "docker_host": self.docker_host})
        )
        return Engine("podman", self.docker_host, podman_env(self.docker_host))

    def stop(self) -> None:
        for proc in (self.ticker, self.service):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.ticker = self.service = None
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "engine.json").unlink()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()


def _from_state(state_dir: Path) -> Engine | None:
    """The detached podman service that ``make up`` left in ``state_dir``, if it still answers."""
    try:
        state = json.loads((state_dir / "engine.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if docker_answers(state["docker_host"]) is None:
        return Engine("podman", state["docker_host"], podman_env(state["docker_host"]))
    return None


def stop_detached(state_dir: Path) -> bool:
    """Stop the podman service and ticker recorded in ``state_dir`` (by their pids); True if any."""
    try:
        state = json.loads((state_dir / "engine.json").read_text())
    except (FileNotFoundError, ValueError):
        return False
    for key in ("ticker", "service"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(state[key]), signal.SIGTERM)
    for _ in range(100):
        if not any(alive(int(state[k])) for k in ("ticker", "service")):
            break
        time.sleep(0.1)
    (state_dir / "engine.json").unlink(missing_ok=True)
    (state_dir / "podman.sock").unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def engine_session(state_dir: Path | None = None, *, detached: bool = False) -> Iterator[Engine]:
    """The engine for this session (see the module's docstring); raises ``NoEngine``.

    ``detached``: a podman service started here outlives the session (``make up``; ``make down``
    stops it with ``stop_detached``); one already recorded in ``state_dir`` is reused.
    """
    wanted = choice()
    if wanted == "none":
        raise NoEngine("DEVSTACK_ENGINE=none")
    if wanted in {"auto", "docker"}:
        reason = docker_answers()
        if reason is None:
            host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            yield Engine("docker", host, {})
            return
        if wanted == "docker":
            raise NoEngine(reason)
    why_not = podman_usable()
    if why_not is not None:
        raise NoEngine(why_not)
    if detached and state_dir is not None:
        existing = _from_state(state_dir)
        if existing is not None:
            yield existing
            return
    own_dir = state_dir or Path(tempfile.mkdtemp(prefix="fileservice-podman-"))
    service = PodmanService(own_dir)
    engine = service.start(detached=detached)
    try:
        yield engine
    finally:
        if not detached:
            service.stop()
            if state_dir is None:
                shutil.rmtree(own_dir, ignore_errors=True)


class SharedEngine:
    """One engine session per process, shared by the fixtures that need one (the broker and S3 of
    ``devstack.infra``, PostgreSQL of ``devstack.database``): started by the first ``acquire``,
    stopped when the last holder releases it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._stack: contextlib.ExitStack | None = None
        self._engine: Engine | None = None
        self._error: NoEngine | None = None

    @contextlib.contextmanager
    def acquire(self) -> Iterator[Engine]:
        with self._lock:
            if self._holders == 0:
                stack = contextlib.ExitStack()
                try:
                    self._engine = stack.enter_context(engine_session())
                    stack.enter_context(self._engine.activated())
                except NoEngine:
                    stack.close()
                    raise
                self._stack = stack
            self._holders += 1
            engine = self._engine
        assert engine is not None
        try:
            yield engine
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._stack is not None:
                    self._stack.close()
                    self._stack = None
                    self._engine = None


SHARED = SharedEngine()
