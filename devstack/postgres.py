"""The local PostgreSQL: use the one that answers, or install Debian's and start a private cluster.

A private cluster (``initdb -A trust`` into a data folder of ours, listening on loopback only)
rather than Debian's default one, whose ``pg_hba.conf`` asks TCP clients for a password: the
local default URL ``postgresql://postgres@127.0.0.1:5432/files`` carries none.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from devstack.ports import port_open


def _bin_dir() -> Path | None:
    """Debian keeps the server programs in /usr/lib/postgresql/<version>/bin; newest first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _install() -> Path:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
    found = _bin_dir()
    if found is None:
        raise RuntimeError("installed Debian's postgresql but found no initdb")
    return found


def _as_server_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def ensure_postgresql(data_dir: Path, port: int = 5432, timeout: float = 60.0) -> bool:
    """Make sure a server answers on 127.0.0.1:``port``; True when this call started one."""
    if port_open(port):
        return False
    bin_dir = _bin_dir() or _install()
    data_dir = data_dir.resolve()
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data_dir, "postgres", "postgres")
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data_dir),
                "-l",
                str(data_dir / "server.log"),
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {data_dir}",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.3)
    raise TimeoutError(f"PostgreSQL did not answer on 127.0.0.1:{port} within {timeout:.0f}s")


def stop_private(data_dir: Path) -> None:
    """Stop a cluster ``ensure_postgresql`` started in ``data_dir``."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (data_dir / "postmaster.pid").exists():
        return
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir.resolve()), "-m", "fast", "stop"]),
        check=False,
        capture_output=True,
    )


class PostgresCluster:
    """A private cluster of our own (``initdb`` into ``data_dir``) on a loopback ``port``, which a
    test may stop (``pg_ctl -m fast stop``) and start again on the same port and data folder."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self._bin = _bin_dir() or _install()

    @property
    def server_url(self) -> str:
        """The maintenance database (``postgres``) of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return port_open(self.port)

    def _pg_ctl(self, *args: str, timeout: float = 120.0) -> None:
        subprocess.run(
            _as_server_user([str(self._bin / "pg_ctl"), "-D", str(self.data_dir), *args]),
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster on first use, then start it; returns once it accepts connections."""
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                # The server runs as ``postgres``: it must reach the folder through its parents.
                for folder in (self.data_dir.parent, self.data_dir):
                    shutil.chown(folder, "postgres", "postgres")
            subprocess.run(
                _as_server_user(
                    [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
                ),
                check=True,
                capture_output=True,
            )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir}"
        self._pg_ctl("-l", str(self.data_dir / "server.log"), "-o", options, "-w", "-t", str(int(timeout)), "start")
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL did not answer on 127.0.0.1:{self.port} within {timeout:.0f}s")
            time.sleep(0.2)

    def stop(self) -> None:
        """``pg_ctl -m fast stop``: open connections are closed, the data stays."""
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "-w", "stop")
