"""The five services as separate processes against a fresh vhost and bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.infra import Infra
from devstack.stack import RunningStack, running_stack

PRESIGN_EXPIRES = 5


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


@pytest.fixture(scope="module")
def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    with running_stack(infra, log_dir, {"PRESIGN_EXPIRES": str(PRESIGN_EXPIRES)}) as running:
        yield Stack(**vars(running))
