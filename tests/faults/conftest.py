"""The fault suite's fixtures: a private broker, store and database for the whole session (tests
stop and start them), a fresh stack of the five services per test, and the figures file.

Every test here is marked ``faults``; the long ones also ``long_fault``, which the default
``pytest`` run (``make test``) deselects (pyproject.toml's ``addopts``); ``make faults`` runs all.
Each test's figures are appended, one JSON object a line, to ``FAULTS_REPORT`` (default
``.data/faults/report.jsonl``): docs/RELIABILITY.md is written from them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.private_infra import PrivateInfra, private_infra
from tests.faults.harness import FaultStack, fault_stack

REPORT = Path(
    os.environ.get("FAULTS_REPORT", Path(__file__).resolve().parents[2] / ".data" / "faults" / "report.jsonl")
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "faults" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def private() -> Iterator[PrivateInfra]:
    with private_infra() as infra:
        yield infra


@pytest.fixture
def fstack(private: PrivateInfra, tmp_path: Path) -> Iterator[FaultStack]:
    with fault_stack(private, tmp_path) as stack:
        yield stack


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``report(fault=..., seconds=..., **figures)``: one line of the figures file, also printed."""

    def write(**figures: Any) -> None:
        entry = {"test": request.node.name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        with REPORT.open("a") as out:
            out.write(json.dumps(entry, default=str) + "\n")
        print(json.dumps(entry, default=str, indent=1))

    return write
