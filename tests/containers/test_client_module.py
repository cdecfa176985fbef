"""The testcontainers module for client teams (clients/testcontainers): its example test, run as a
client team would run it (its own pytest, the package on the path, the images from the
environment), against the session's engine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.engine import ROOT, Engine
from devstack.images import stack_images

MODULE = ROOT / "clients" / "testcontainers"


@pytest.mark.timeout(900)
def test_the_example_a_client_team_copies_passes(engine: Engine) -> None:
    env = {**os.environ, **engine.env, **stack_images(engine), "PYTHONPATH": str(MODULE / "src")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(MODULE),
            str(MODULE / "examples" / "test_with_fileservice.py"),
        ],
        cwd=MODULE,
        env=env,
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
