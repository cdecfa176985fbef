"""The container engine of the test session (``devstack.engine``: Docker, or podman set up by us),
shared with the fixtures' testcontainers; the tests here are skipped only where no engine can be
had (``DEVSTACK_ENGINE=none``, or neither Docker nor podman)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.engine import SHARED, Engine, NoEngine


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        with SHARED.acquire() as acquired:
            yield acquired
    except NoEngine as exc:
        pytest.skip(f"no container engine: {exc}")
