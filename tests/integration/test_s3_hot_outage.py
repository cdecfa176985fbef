"""The hot S3 calls (obstore) report an unreachable store as the dependency's failure, which
consumers wait out, and a refused credential as a plain refusal, against a real SeaweedFS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devstack.ports import free_port
from shared.errors import StorageUnavailable, Unavailable
from shared.outage import STORAGE, dependency_of
from shared.s3 import ObjectStore
from shared.settings import CommonSettings


async def test_an_unreachable_store_is_storage_unavailable(settings_for: Callable[..., Any]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = ObjectStore.from_settings(settings_for(CommonSettings, s3_endpoint_url=nowhere))
    try:
        for call in (store.head("a/b.jpg"), store.get_bytes("a/b.jpg")):
            with pytest.raises(StorageUnavailable) as caught:
                await call
            assert dependency_of(caught.value) == STORAGE
        with pytest.raises(StorageUnavailable):
            await store.put_bytes("a/c.jpg", b"x", content_type="image/jpeg")
    finally:
        store.close()


async def test_a_refused_credential_is_not_waited_out(settings_for: Callable[..., Any], store: ObjectStore) -> None:
    await store.put_bytes("k/there.jpg", b"x", content_type="image/jpeg")
    wrong = ObjectStore.from_settings(settings_for(CommonSettings, s3_secret_key="not-the-secret"))
    try:
        with pytest.raises(Unavailable) as caught:
            await wrong.get_bytes("k/there.jpg")
        assert not isinstance(caught.value, StorageUnavailable)
        assert dependency_of(caught.value) is None
    finally:
        wrong.close()
