"""The five services as separate processes (``python -m services.<name>``): started, waited for and
stopped by the same code for ``make run``, the end-to-end tests' stacks and the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SERVICE_NAMES = ("gateway", "download", "resize", "cleanup", "bridge")


@dataclass(frozen=True)
class StackPorts:
    gateway: int = 8000
    download: int = 8001
    resize: int = 8002
    cleanup: int = 8003
    bridge: int = 8004

    def of(self, name: str) -> int:
        port: int = getattr(self, name)
        return port


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path | None = None
    console: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out: Any = self.log_path.open("ab") if self.log_path else None
        if self.console:
            out = subprocess.PIPE
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env={**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"},
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
        )
        if self.console:
            threading.Thread(target=self._relay, daemon=True).start()

    def _relay(self) -> None:
        """Print the service's output with its name in front, as a Procfile runner does."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            sys.stdout.write(f"{self.name:<9}| {line.decode(errors='replace')}")
            sys.stdout.flush()

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 45.0) -> int | None:
        """SIGTERM, wait for a clean exit (SIGKILL only after ``timeout``); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_ready(services: list[ServiceProcess], timeout: float = 60.0, stop: threading.Event | None = None) -> bool:
    """Wait until every service answers ``/readyz``; False if ``stop`` was set meanwhile."""
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending and time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            return False
        for svc in list(pending):
            if not svc.alive():
                where = f"; see {svc.log_path}" if svc.log_path else ""
                raise RuntimeError(f"{svc.name} exited with {svc.proc and svc.proc.returncode}{where}")
            if svc.ready():
                pending.remove(svc)
        if pending:
            time.sleep(0.2)
    if pending:
        names = ", ".join(s.name for s in pending)
        raise TimeoutError(f"not ready within {timeout:.0f}s: {names}")
    return True


def the_five(
    env: dict[str, str], ports: StackPorts, *, log_dir: Path | None = None, console: bool = False
) -> dict[str, ServiceProcess]:
    """One process per service on its port of ``ports``, all with ``env``; each logs to
    ``<log_dir>/<name>.log`` (or, with ``console``, to stdout with its name in front)."""
    return {
        name: ServiceProcess(
            name, ports.of(name), env, log_path=log_dir / f"{name}.log" if log_dir else None, console=console
        )
        for name in SERVICE_NAMES
    }


@contextmanager
def started(
    processes: Iterable[ServiceProcess], timeout: float = 90.0, stop: threading.Event | None = None
) -> Iterator[bool]:
    """Start the processes and wait until each answers ``/readyz`` (yields False when ``stop`` was
    set meanwhile); every one is stopped on leaving, also when one of them did not start."""
    group = list(processes)
    try:
        for process in group:
            process.start()
        yield wait_ready(group, timeout=timeout, stop=stop)
    finally:
        for process in group:
            process.stop()


def stack_env(
    *,
    amqp_url: str,
    s3_endpoint_url: str,
    bucket: str,
    filer_address: str,
    ports: StackPorts,
    data_dir: Path,
    access_key: str,
    secret_key: str,
    database_url: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment every service of a local stack gets (each reads only what it needs)."""
    return {
        "DEV_MODE": "true",
        "LOG_FORMAT": "json",
        "AMQP_URL": amqp_url,
        "S3_ENDPOINT_URL": s3_endpoint_url,
        "S3_ACCESS_KEY": access_key,
        "S3_SECRET_KEY": secret_key,
        "S3_BUCKET": bucket,
        "DATABASE_URL": database_url,
        "DOWNLOAD_BASE_URL": f"http://127.0.0.1:{ports.download}",
        "BRIDGE_SOURCE": "seaweedfs-meta",
        "SEAWEEDFS_FILER": filer_address,
        "BRIDGE_CHECKPOINT_PATH": str(data_dir / f"bridge-checkpoint-{bucket}"),
        "SWEEP_INTERVAL": "600",
        **(extra or {}),
    }
