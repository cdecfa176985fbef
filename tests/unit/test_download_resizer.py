"""One in-flight resize per variant: the download side's coalescing of concurrent requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.download.metrics import Metrics
from services.download.resizer import ResizeCoordinator
from shared.broker import QueueFull
from shared.errors import NotAnImage, ResizeBusy, ResizeTimeout, Unavailable
from shared.keys import VariantKey
from shared.messages import ResizeReply, ResizeRequest

REQUEST = ResizeRequest(key="0" * 32 + "/a.jpg", width=300, format="jpeg")
VARIANT = str(VariantKey("0" * 32, "a.jpg", 300, "jpg"))


class ScriptedRpc:
    """Answers each call with what the test releases, and counts the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, str | None]] = []
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def call(
        self,
        routing_key: str,
        body: bytes,
        *,
        timeout: float,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> bytes:
        self.calls.append((routing_key, body, correlation_id))
        return await asyncio.shield(self.answer)


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_concurrent_requests_share_one_rpc() -> None:
    rpc, metrics = ScriptedRpc(), Metrics()
    coordinator = ResizeCoordinator(rpc, metrics, timeout=5)
    waiters = [
        asyncio.create_task(coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=f"c{i}")) for i in range(5)
    ]
    await asyncio.sleep(0.01)
    assert coordinator.in_flight == 1
    rpc.answer.set_result(ResizeReply.ok(VARIANT, "image/jpeg", 10).to_json())
    await asyncio.gather(*waiters)
    assert len(rpc.calls) == 1
    routing_key, body, correlation_id = rpc.calls[0]
    assert routing_key == "resize.requests"
    assert ResizeRequest.from_json(body) == REQUEST
    assert correlation_id == "c0"
    assert coordinator.in_flight == 0
    assert _sample(metrics, "download_resize_rpcs_total", outcome="ok") == 1
    assert _sample(metrics, "download_resize_coalesced_total") == 4


async def test_error_reply_raises_the_workers_error_for_everyone() -> None:
    rpc = ScriptedRpc()
    coordinator = ResizeCoordinator(rpc, Metrics(), timeout=5)
    waiters = [
        asyncio.create_task(coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None)) for _ in range(2)
    ]
    await asyncio.sleep(0.01)
    rpc.answer.set_result(ResizeReply.error("NOT_AN_IMAGE", "cannot read it").to_json())
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, NotAnImage) and r.status == 422 for r in results)
    # the next request asks again rather than remembering the failure
    rpc.answer = asyncio.get_running_loop().create_future()
    rpc.answer.set_result(ResizeReply.ok(VARIANT, "image/jpeg", 10).to_json())
    await coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None)
    assert len(rpc.calls) == 2


async def test_a_caller_going_away_does_not_cancel_the_resize_for_others() -> None:
    rpc = ScriptedRpc()
    coordinator = ResizeCoordinator(rpc, Metrics(), timeout=5)
    first = asyncio.create_task(coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None))
    second = asyncio.create_task(coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    rpc.answer.set_result(ResizeReply.ok(VARIANT, "image/jpeg", 10).to_json())
    await second
    assert first.cancelled()
    assert len(rpc.calls) == 1


class TimingOutRpc(ScriptedRpc):
    async def call(self, routing_key: str, body: bytes, **_: Any) -> bytes:
        self.calls.append((routing_key, body, None))
        raise TimeoutError


class BrokenRpc(ScriptedRpc):
    async def call(self, routing_key: str, body: bytes, **_: Any) -> bytes:
        raise ConnectionError("channel closed")


async def test_timeout_is_a_retryable_503() -> None:
    metrics = Metrics()
    coordinator = ResizeCoordinator(TimingOutRpc(), metrics, timeout=0.01)
    with pytest.raises(ResizeTimeout) as caught:
        await coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None)
    assert caught.value.status == 503 and caught.value.retryable
    assert _sample(metrics, "download_resize_rpcs_total", outcome="timeout") == 1
    assert coordinator.in_flight == 0


async def test_broker_failure_is_unavailable() -> None:
    coordinator = ResizeCoordinator(BrokenRpc(), Metrics(), timeout=1)
    with pytest.raises(Unavailable) as caught:
        await coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None)
    assert caught.value.status == 503


class FullQueueRpc(ScriptedRpc):
    async def call(self, routing_key: str, body: bytes, **_: Any) -> bytes:
        raise QueueFull(f"{routing_key} refused the request")


async def test_a_full_queue_is_busy_at_once() -> None:
    metrics = Metrics()
    coordinator = ResizeCoordinator(FullQueueRpc(), metrics, timeout=30)
    with pytest.raises(ResizeBusy) as caught:
        await asyncio.wait_for(coordinator.resize(REQUEST, variant_key=VARIANT, correlation_id=None), 1)
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (503, "RESIZE_BUSY", True)
    assert _sample(metrics, "download_resize_rpcs_total", outcome="busy") == 1
    assert coordinator.in_flight == 0
