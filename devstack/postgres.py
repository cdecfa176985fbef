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
