"""One stack of the five services (real broker, SeaweedFS and PostgreSQL, on free ports) for the
client's tests, and clients pointed at it, as an outside program would use them."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fileservice import Client

from devstack.infra import Infra
from devstack.stack import RunningStack, running_stack
from tests.support.tokens import token

MAX_PENDING = 5
# The download service gives up on a resize after this long (503 RESIZE_TIMEOUT + Retry-After),
# so that the retry test sees one quickly; the client retries it, so other tests do not notice.
RESIZE_TIMEOUT = 5
# Low limits of the resize workers, so that SOURCE_TOO_LARGE and TOO_MANY_SCANS are cheap to reach.
MAX_SOURCE_BYTES = 2 * 1024**2
MAX_JPEG_SCANS = 5
# One waiting resize request at most: a second one while the workers are away is RESIZE_BUSY.
RESIZE_QUEUE_MAX_LENGTH = 1


@pytest.fixture(scope="session")
def client_stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env = {
        "MAX_PENDING_UPLOADS_PER_USER": str(MAX_PENDING),
        "RESIZE_TIMEOUT": str(RESIZE_TIMEOUT),
        "MAX_SOURCE_BYTES": str(MAX_SOURCE_BYTES),
        "MAX_JPEG_SCANS": str(MAX_JPEG_SCANS),
        "RESIZE_QUEUE_MAX_LENGTH": str(RESIZE_QUEUE_MAX_LENGTH),
    }
    with running_stack(infra, tmp_path_factory.mktemp("client-stack"), env) as stack:
        yield stack


@pytest.fixture
def user() -> str:
    """A user of one test alone, so that listing sees only that test's files."""
    return f"user-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(client_stack: RunningStack, user: str) -> Iterator[Client]:
    with Client(client_stack.gateway_url, token("files:read:own files:write:own files:delete:own", sub=user)) as c:
        yield c


@pytest.fixture
def cli_env(client_stack: RunningStack, user: str) -> dict[str, str]:
    """The environment of the ``fileservice`` command: gateway and token from FILESERVICE_*."""
    return {
        **os.environ,
        "FILESERVICE_GATEWAY": client_stack.gateway_url,
        "FILESERVICE_TOKEN": token("files:read:own files:write:own files:delete:own", sub=user),
    }


@pytest.fixture(scope="session")
def cli() -> str:
    """The ``fileservice`` command installed in the venv by ``make install``."""
    path = Path(sys.executable).with_name("fileservice")
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/bootstrap.sh (make install) to install clients/python")
    return str(path)
