"""The container engine of the test session (``devstack.engine``: Docker, or podman set up by us),
shared with the fixtures' testcontainers; the tests here are skipped only where no engine can be
had (``DEVSTACK_ENGINE=none``, or neither Docker nor podman)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.containers import ComposeStack, private_stack
from devstack.engine import SHARED, Engine, NoEngine


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        with SHARED.acquire() as acquired:
            yield acquired
    except NoEngine as exc:
        pytest.skip(f"no container engine: {exc}")


@pytest.fixture(scope="session")
def compose_stack(engine: Engine) -> Iterator[ComposeStack]:
    """compose.yaml up healthy as a private project on free ports (shared by the walkthrough and
    the manifests' containers), taken down at the end."""
    with private_stack(engine) as running:
        yield running
