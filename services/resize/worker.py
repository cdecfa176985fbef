"""One resize request, from the queue to a stored variant and a reply.

The steps: parse the request -> name the variant -> answer at once if it is already stored ->
read the original -> run the kernel in the pool -> store the variant -> reply ``ok``.

The ack/nack decision is explicit:

- a malformed message is answered (when it has a ``reply_to``) and dead-lettered;
- a permanent refusal (``ServiceError`` that is not retryable: NOT_AN_IMAGE, TOO_MANY_PIXELS,
  SOURCE_TOO_LARGE, NOT_FOUND, ...) is answered with its code and acked: the request was
  answered, it is not a poison message;
- anything else (S3 unavailable, an unexpected exception) is retried (``Outcome.RETRY``); after
  its last attempt the consumer dead-letters it into ``resize.requests.dead``, and that last
  attempt answers the caller with an error so it is not left waiting.

The pool: a ``ThreadPoolExecutor`` with one thread per CPU. Pillow releases the GIL while it
decodes, resamples and encodes, so threads run in parallel. Measured on 2 cores (12 MP JPEG ->
300 px: 37 ms/job with 1 thread, 19-21 ms/job with 2 threads, 23 ms/job with 2 processes; a 12 MP
RGBA PNG -> 300 px: 128 / 64 / 79 ms/job): threads scale as well as processes and are faster,
since a process pool pickles the source bytes (MBs) to the child and the variant back.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from services.resize.content_gate import refuse_rejected_content
from services.resize.kernel import Resized, make_variant
from services.resize.metrics import Metrics
from shared import broker
from shared.broker import Outcome
from shared.errors import BadRequest, ResizeTimeout, ServiceError, Unavailable
from shared.keys import InvalidKey, parse_original_key, variant_key
from shared.logging import get_logger
from shared.messages import EXTENSIONS, SENT_AT_HEADER, MalformedMessage, ResizeReply, ResizeRequest
from shared.s3 import ObjectStore
from shared.settlement import ATTEMPT_LIMIT, attempt_of

CACHE_CONTROL = "public, max-age=31536000, immutable"

log = get_logger(__name__)


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_source_bytes: int
    jpeg_quality: int
    webp_quality: int
    job_timeout: float
    avif_quality: int = 60

    def quality(self, fmt: str) -> int:
        if fmt == "webp":
            return self.webp_quality
        if fmt == "avif":
            return self.avif_quality
        return self.jpeg_quality


class _Caller:
    """Whoever waits for this request's reply; answered at most once."""

    def __init__(self, channel: AbstractChannel, message: AbstractIncomingMessage) -> None:
        self._channel = channel
        self._message = message
        self.answered = False

    async def answer(self, reply: ResizeReply) -> None:
        if self.answered:
            return
        await broker.reply(self._channel, self._message, reply.to_json())
        self.answered = True


def is_last_attempt(headers: Mapping[str, Any] | None) -> bool:
    """Whether a failure now dead-letters this request instead of retrying it, so the caller must be
    answered now or never: the consumer counts attempts in ``x-attempt`` (``shared.settlement``)."""
    return attempt_of(headers) >= ATTEMPT_LIMIT


class ResizeWorker:
    def __init__(
        self,
        store: ObjectStore,
        reply_channel: AbstractChannel,
        executor: Executor,
        limits: Limits,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._reply_channel = reply_channel
        self._executor = executor
        self._limits = limits
        self._metrics = metrics

    async def handle(self, message: AbstractIncomingMessage) -> Outcome:
        """The handler for ``shared.broker.Consumer``."""
        started = time.perf_counter()
        self._metrics.in_progress.inc()
        label = "retry"
        try:
            outcome, label = await self._handle(message, _Caller(self._reply_channel, message))
            return outcome
        finally:
            self._metrics.in_progress.dec()
            elapsed = time.perf_counter() - started
            self._metrics.jobs.labels(outcome=label).inc()
            self._metrics.duration.labels(outcome=label).observe(elapsed)
            log.info("resize request handled", outcome=label, seconds=round(elapsed, 4))

    async def _handle(self, message: AbstractIncomingMessage, caller: _Caller) -> tuple[Outcome, str]:
        try:
            request = ResizeRequest.from_json(message.body)
        except MalformedMessage as exc:
            log.warning("malformed resize request", error=str(exc))
            await caller.answer(ResizeReply.error(BadRequest.code, f"Malformed resize request: {exc}"))
            return Outcome.DEAD_LETTER, "malformed"
        structlog.contextvars.bind_contextvars(key=request.key, width=request.width, format=request.format)
        self._observe_queue_wait(message.headers)
        try:
            reply, label = await self._resize(request, caller)
        except ServiceError as exc:
            if exc.retryable:
                return await self._retry(message, caller, exc)
            log.info("resize refused", code=exc.code, reason=exc.message)
            await caller.answer(ResizeReply.error(exc.code, exc.message))
            return Outcome.ACK, exc.code.lower()
        except Exception as exc:  # noqa: BLE001 - any other failure is retried, then dead-lettered
            return await self._retry(message, caller, exc)
        await caller.answer(reply)
        return Outcome.ACK, label

    def _observe_queue_wait(self, headers: Mapping[str, Any] | None) -> None:
        sent_at = (headers or {}).get(SENT_AT_HEADER)
        if isinstance(sent_at, int) and not isinstance(sent_at, bool):
            waited = (time.time_ns() // 1000 - sent_at) / 1e6
            self._metrics.stage.labels(stage="queue").observe(max(0.0, waited))

    async def _retry(self, message: AbstractIncomingMessage, caller: _Caller, exc: Exception) -> tuple[Outcome, str]:
        last = is_last_attempt(message.headers)
        log.warning(
            "resize failed",
            error=f"{type(exc).__name__}: {exc}"[:300],
            attempt=attempt_of(message.headers),
            last_attempt=last,
        )
        if last:
            error = exc if isinstance(exc, ServiceError) else Unavailable()
            try:
                await caller.answer(ResizeReply.error(error.code, error.message))
            except Exception as reply_exc:  # noqa: BLE001 - the consumer still settles the message
                log.warning("could not answer the caller", error=repr(reply_exc))
        return Outcome.RETRY, "retry"

    async def _resize(self, request: ResizeRequest, caller: _Caller) -> tuple[ResizeReply, str]:
        try:
            original = parse_original_key(request.key)
        except InvalidKey as exc:
            raise BadRequest(f"{request.key!r} is not the key of an original file.") from exc
        variant = str(variant_key(original, request.width, EXTENSIONS[request.format]))

        existing = await self._store.head(variant)
        if existing is not None:
            return ResizeReply.ok(variant, existing.content_type, existing.size), "cached"

        stage = self._metrics.stage
        with stage.labels(stage="read").time():
            source, data = await self._store.get_bytes(request.key, max_bytes=self._limits.max_source_bytes)
        refuse_rejected_content(source.content_type, data)  # before any variant exists
        with stage.labels(stage="kernel").time():
            result = await self._run_kernel(data, request, caller)
        del data
        with stage.labels(stage="write").time():
            await self._store.put_bytes(
                variant, result.data, content_type=result.content_type, cache_control=CACHE_CONTROL
            )
        self._metrics.variant_bytes.observe(len(result.data))
        log.info("variant stored", variant_key=variant, size=len(result.data), dimensions=result.size)
        return ResizeReply.ok(variant, result.content_type, len(result.data)), "resized"

    async def _run_kernel(self, data: bytes, request: ResizeRequest, caller: _Caller) -> Resized:
        """The CPU work, in the pool; past ``job_timeout`` the caller is told RESIZE_TIMEOUT.

        A thread cannot be stopped, so the job still finishes and its variant is stored: the
        caller's retry ("try again shortly") then finds it. The message stays unacked meanwhile,
        so the prefetch still bounds how much work this worker holds.
        """
        job = functools.partial(
            make_variant,
            data,
            request.width,
            request.format,
            max_pixels=self._limits.max_pixels,
            quality=self._limits.quality(request.format),
        )
        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=self._limits.job_timeout)
        except TimeoutError:
            self._metrics.timeouts.inc()
            log.warning("resize outlived the job timeout; answering RESIZE_TIMEOUT", timeout=self._limits.job_timeout)
            await caller.answer(ResizeReply.error(ResizeTimeout.code, ResizeTimeout.public_message))
            return await future
