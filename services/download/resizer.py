"""Asking the resize workers for a missing variant, once per variant per process.

Concurrent requests for the same missing variant share one in-flight RPC: the first one sends
the request, the others wait on the same task (keyed by the variant key). The task runs apart
from the HTTP requests, so one client hanging up does not cancel the resize for the others.
"""

from __future__ import annotations

import asyncio
import time

from services.download.metrics import Metrics
from shared.broker import RESIZE_QUEUE, QueueFull, RpcCaller
from shared.errors import Internal, ResizeBusy, ResizeTimeout, ServiceError, Unavailable, error_from_code
from shared.logging import get_logger
from shared.messages import NOT_RESIZED, SENT_AT_HEADER, MalformedMessage, ResizeReply, ResizeRequest

log = get_logger(__name__)


class ResizeCoordinator:
    def __init__(self, rpc: RpcCaller, metrics: Metrics, *, timeout: float, queue: str = RESIZE_QUEUE) -> None:
        self._rpc = rpc
        self._metrics = metrics
        self._timeout = timeout
        self._queue = queue
        self._in_flight: dict[str, asyncio.Task[ResizeReply]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def resize(
        self, request: ResizeRequest, *, variant_key: str, correlation_id: str | None
    ) -> ResizeReply | None:
        """The worker's ``ok`` reply once it has stored the variant (with its bytes when the request
        asked for them); None when the original has no variants (``NOT_RESIZED``, answered only to
        a ``source_unchecked`` request); raise the worker's error otherwise.

        Raises ``ResizeTimeout`` (503) when no reply comes within the timeout, ``ResizeBusy`` (503)
        when the queue of resize requests is full, ``Unavailable`` when the request cannot be
        sent, and the error of an error reply (e.g. 422 NOT_AN_IMAGE).
        """
        task = self._in_flight.get(variant_key)
        if task is None:
            task = asyncio.create_task(self._call(request, correlation_id), name=f"resize {variant_key}")
            self._in_flight[variant_key] = task
            task.add_done_callback(lambda done: self._finished(variant_key, done))
        else:
            self._metrics.resize_coalesced.inc()
            log.debug("waiting on a resize in flight", variant_key=variant_key)
        reply = await asyncio.shield(task)
        if reply.status == "ok":
            return reply
        if reply.code == NOT_RESIZED:
            return None
        raise error_from_code(reply.code or "INTERNAL", reply.message or None)

    def _finished(self, variant_key: str, task: asyncio.Task[ResizeReply]) -> None:
        if self._in_flight.get(variant_key) is task:
            del self._in_flight[variant_key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a task nobody awaits any more is not reported

    async def _call(self, request: ResizeRequest, correlation_id: str | None) -> ResizeReply:
        started = time.monotonic()
        try:
            body = await self._rpc.call(
                self._queue,
                request.to_json(),
                timeout=self._timeout,
                correlation_id=correlation_id,
                headers={SENT_AT_HEADER: time.time_ns() // 1000},
            )
        except TimeoutError as exc:
            self._metrics.resize_rpcs.labels(outcome="timeout").inc()
            log.warning("resize request unanswered", key=request.key, width=request.width)
            raise ResizeTimeout() from exc
        except QueueFull as exc:
            self._metrics.resize_rpcs.labels(outcome="busy").inc()
            log.warning("resize queue full; answering busy", key=request.key, width=request.width)
            raise ResizeBusy("The image service is busy; try again shortly.") from exc
        except ServiceError:
            self._metrics.resize_rpcs.labels(outcome="failed").inc()
            raise
        except Exception as exc:
            self._metrics.resize_rpcs.labels(outcome="failed").inc()
            log.warning("could not send the resize request", key=request.key, error=repr(exc))
            raise Unavailable("The image service cannot be reached; try again.") from exc
        finally:
            self._metrics.resize_rpc_seconds.observe(time.monotonic() - started)
        try:
            reply = ResizeReply.from_wire(body)
        except MalformedMessage as exc:
            self._metrics.resize_rpcs.labels(outcome="failed").inc()
            log.error("malformed resize reply", key=request.key, error=str(exc))
            raise Internal("The image service sent an answer that cannot be read.") from exc
        self._metrics.resize_rpcs.labels(outcome=reply.status).inc()
        if reply.status != "ok" and reply.code != NOT_RESIZED:
            log.info("resize refused", key=request.key, width=request.width, code=reply.code)
        return reply

    async def close(self) -> None:
        """Cancel the resizes still waiting for a reply (at shutdown)."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
