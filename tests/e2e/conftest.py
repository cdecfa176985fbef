"""The five services as separate processes against a fresh vhost and bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from devstack.infra import Infra
from devstack.stack import RunningStack, running_stack
from tests.support.waiting import eventually_blocking

PRESIGN_EXPIRES = 5
T = TypeVar("T")


class Stack(RunningStack):
    def graphql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(
            f"{self.gateway_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )

    def object_keys(self, prefix: str = "") -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in resp.get("Contents", [])]

    def eventually(
        self, check: Callable[[], T], timeout: float = 15.0, *, until: Callable[[T], bool] = bool, what: str
    ) -> T:
        """``eventually_blocking``; a failure shows the services' logs too."""
        try:
            return eventually_blocking(check, timeout, until=until, what=what)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{self.logs()}") from None


@contextmanager
def e2e_stack(infra: Infra, log_dir: Path) -> Iterator[Stack]:
    with running_stack(infra, log_dir, {"PRESIGN_EXPIRES": str(PRESIGN_EXPIRES)}) as running:
        yield Stack(**vars(running))


@pytest.fixture(scope="module")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack the module's tests share: none of them stops a service of it."""
    with e2e_stack(infra, tmp_path_factory.mktemp("e2e-logs")) as running:
        yield running


@pytest.fixture
def own_stack(infra: Infra, tmp_path: Path) -> Iterator[Stack]:
    """A stack of one test alone, for a test that stops its services."""
    with e2e_stack(infra, tmp_path) as running:
        yield running
