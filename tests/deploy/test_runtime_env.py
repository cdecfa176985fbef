"""What the image installs is enough to run the services: a fresh virtual environment made from
requirements.lock alone (as the Dockerfile does: --no-deps, wheels only), the source copied beside
it, and every module of shared/, services/ and devstack/ imported there. A runtime import of a
package that only the dev extras bring in fails here, not in the cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.entrypoints import ROOT

PACKAGES = ("shared", "services", "devstack")

IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, prefix=top + "."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {exc!r}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runtime")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
            str(ROOT / "requirements.lock"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    app = base / "app"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    return base


def test_every_module_imports_with_the_locked_dependencies_only(runtime: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(runtime / "app"), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [str(runtime / "venv" / "bin" / "python"), "-c", IMPORT_ALL, *PACKAGES],
        cwd=runtime / "app",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_service_refuses_the_dev_secret_in_the_runtime_environment(runtime: Path) -> None:
    """The entry point runs there as in the image (DEV_MODE unset: production)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(runtime / "app"), "HOST": "127.0.0.1", "PORT": "0"}
    result = subprocess.run(
        [str(runtime / "venv" / "bin" / "python"), "-m", "services.gateway"],
        cwd=runtime / "app",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "JWT_SECRET is the public dev secret" in result.stderr
