"""One resize request, from the queue to a stored variant and a reply.

The steps: parse the request -> skip it if its caller has given up (``expiry``) -> name the
variant -> answer at once if it is already stored (not asked on a first attempt whose caller
found none a moment ago: ``variant_absent``), or if its original was stopped at the deadline a
short while ago (``remembered``) -> wait for the original's turn (``gate``) -> read the original
(for a caller that has not looked at it, ``source_unchecked``: answer ``NOT_RESIZED`` for a type
without variants, and take the original's own format for a guessed one) -> run the kernel in a
kernel process (``pool``) -> store the variant -> reply ``ok``, with the variant's bytes when
the caller takes them (``inline_max``). A cold request thus costs S3 three operations in all:
the caller's HEAD of the variant, the worker's GET of the original and PUT of the variant.

The ack/nack decision is explicit:

- a malformed message is answered (when it has a ``reply_to``) and dead-lettered;
- a request whose caller has given up is acked unanswered (nobody reads the reply);
- a permanent refusal (``ServiceError`` that is not retryable: NOT_AN_IMAGE, TOO_MANY_PIXELS,
  TOO_MANY_SCANS, SOURCE_TOO_LARGE, NOT_FOUND, IMAGE_TOO_COMPLEX, ...) is answered with its
  code and acked: the request was answered, it is not a poison message;
- a job stopped at ``job_timeout`` (its process killed) is answered IMAGE_TOO_COMPLEX (422)
  when it had most of a CPU for that time, else RESIZE_TIMEOUT (503: the machine was too busy
  to tell), and acked: run again it would be stopped again. RESIZE_BUSY (another job of the
  original is slow) is answered and acked too;
- S3 that does not answer (``shared.outage``) is answered at once with its retryable error
  (STORAGE_UNAVAILABLE) and raised: the consumer holds the request, without spending its attempts,
  until S3 answers again;
- anything else (a kernel process that died, an unexpected exception) is
  retried (``Outcome.RETRY``); after its last attempt the consumer dead-letters it into
  ``resize.requests.dead``, and that last attempt answers the caller with an error so it is not
  left waiting.

The kernel runs in a pool of processes (``services.resize.pool``), not threads: a thread cannot
be stopped, a process is killed at the deadline and has a memory limit of its own. What that
costs against the threads it replaced is measured by ``python -m bench.pool`` (BENCHMARKS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from services.resize.content_gate import refuse_rejected_content
from services.resize.expiry import caller_deadline, still_wanted
from services.resize.gate import OriginalGate
from services.resize.job import JobSpec
from services.resize.metrics import Metrics
from services.resize.pool import CallerGone, JobTimedOut, KernelCrashed, KernelResult
from services.resize.remembered import RememberedOriginals
from shared import broker
from shared.broker import Outcome
from shared.errors import (
    BadRequest,
    ImageTooComplex,
    ResizeBusy,
    ResizeTimeout,
    ServiceError,
    StorageUnavailable,
    Unavailable,
)
from shared.keys import InvalidKey, parse_original_key, variant_key
from shared.logging import get_logger
from shared.messages import (
    EXTENSIONS,
    NOT_RESIZED,
    SENT_AT_HEADER,
    MalformedMessage,
    ResizeReply,
    ResizeRequest,
    variant_format,
)
from shared.outage import dependency_of
from shared.s3 import ObjectInfo, ObjectStore
from shared.settlement import ATTEMPT_LIMIT, attempt_of

CACHE_CONTROL = "public, max-age=31536000, immutable"
# A job stopped at the deadline after at least this share of a CPU for the whole time is the
# picture's fault (IMAGE_TOO_COMPLEX); with less, the machine was too busy to tell (RESIZE_TIMEOUT).
COMPLEX_CPU_SHARE = 0.5
# Retryable for the caller, yet answered and acked here: run again at once they would end the same.
_ANSWERED_NOT_RETRIED = (ResizeTimeout, ResizeBusy)

log = get_logger(__name__)


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_source_bytes: int
    jpeg_quality: int
    webp_quality: int
    avif_quality: int = 60
    max_scans: int = 100

    def quality(self, fmt: str) -> int:
        if fmt == "webp":
            return self.webp_quality
        if fmt == "avif":
            return self.avif_quality
        return self.jpeg_quality


class KernelRunner(Protocol):
    """What the worker needs of ``services.resize.pool.KernelPool``."""

    async def run(self, spec: JobSpec, data: bytes, *, wanted: Callable[[], bool] | None = None) -> KernelResult: ...


def stopped_answer(elapsed: float, cpu_seconds: float | None) -> ServiceError:
    """The answer for a job killed at the deadline after ``elapsed`` seconds and ``cpu_seconds`` of CPU."""
    if cpu_seconds is not None and cpu_seconds >= COMPLEX_CPU_SHARE * elapsed:
        return ImageTooComplex(f"The image takes more than {elapsed:.0f} s to resize; it is not resized.")
    return ResizeTimeout()


class _Caller:
    """Whoever waits for this request's reply; answered at most once."""

    def __init__(self, channel: AbstractChannel, message: AbstractIncomingMessage) -> None:
        self._channel = channel
        self._message = message
        self.answered = False

    async def answer(self, reply: ResizeReply) -> None:
        if self.answered:
            return
        await broker.reply(self._channel, self._message, reply.to_wire())
        self.answered = True


def _stored(variant: str, info: ObjectInfo) -> ResizeReply:
    """The answer for a variant found in S3 (no bytes: the caller reads it as any stored object)."""
    return ResizeReply.ok(variant, info.content_type, info.size, etag=info.etag or None)


class _SourceCheck:
    """Looks at the original's stored type before its bytes are read, for a caller that has not
    (``source_unchecked``): an original without variants is not read at all (``not_resized``), and
    a guessed format gives way to the original's own (``format``)."""

    def __init__(self, request: ResizeRequest) -> None:
        self._request = request
        self.not_resized = False
        self.format: str | None = None

    def __call__(self, info: ObjectInfo) -> bool:
        """Whether to read the bytes."""
        if not self._request.source_unchecked:
            return True
        own = variant_format(info.content_type)
        if own is None:
            self.not_resized = True
            return False
        if self._request.format_guessed:
            self.format = own
        return True


def is_last_attempt(headers: Mapping[str, Any] | None) -> bool:
    """Whether a failure now dead-letters this request instead of retrying it, so the caller must be
    answered now or never: the consumer counts attempts in ``x-attempt`` (``shared.settlement``)."""
    return attempt_of(headers) >= ATTEMPT_LIMIT


class ResizeWorker:
    def __init__(
        self,
        store: ObjectStore,
        reply_channel: AbstractChannel,
        kernel: KernelRunner,
        limits: Limits,
        metrics: Metrics,
        *,
        gate: OriginalGate,
        remembered: RememberedOriginals,
    ) -> None:
        self._store = store
        self._reply_channel = reply_channel
        self._kernel = kernel
        self._limits = limits
        self._metrics = metrics
        self._gate = gate
        self._remembered = remembered

    async def handle(self, message: AbstractIncomingMessage) -> Outcome:
        """The handler for ``shared.broker.Consumer``."""
        started = time.perf_counter()
        self._metrics.in_progress.inc()
        label = "retry"
        try:
            outcome, label = await self._handle(message, _Caller(self._reply_channel, message))
            return outcome
        except Exception:
            label = "dependency_down"  # the consumer holds the request (shared.outage)
            raise
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
        deadline = caller_deadline(message.headers, message.expiration)
        if not still_wanted(deadline):
            log.info("resize request expired before it was taken; skipped")
            return Outcome.ACK, "expired"
        try:
            first = attempt_of(message.headers) == 1 and not message.redelivered
            reply, label = await self._resize(request, deadline, first_attempt=first)
        except CallerGone:
            log.info("resize request expired while it waited in the worker; skipped")
            return Outcome.ACK, "expired"
        except ServiceError as exc:
            if exc.retryable and not isinstance(exc, _ANSWERED_NOT_RETRIED):
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
        if dependency_of(exc) is not None:
            # S3 is down: the caller hears so now (retryable, 503 + Retry-After at the download
            # service) instead of waiting out its timeout; the request itself goes back to the
            # consumer, which holds it, unspent, until S3 answers (and skips it once expired).
            error = exc if isinstance(exc, ServiceError) and exc.retryable else StorageUnavailable()
            log.warning("object store down; answering the caller and holding the request", error=error.message)
            try:
                await caller.answer(ResizeReply.error(error.code, error.message))
            except Exception as reply_exc:  # noqa: BLE001 - the consumer still holds the message
                log.warning("could not answer the caller", error=repr(reply_exc))
            raise exc
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

    async def _resize(
        self, request: ResizeRequest, deadline: float | None, *, first_attempt: bool = False
    ) -> tuple[ResizeReply, str]:
        try:
            original = parse_original_key(request.key)
        except InvalidKey as exc:
            raise BadRequest(f"{request.key!r} is not the key of an original file.") from exc
        variant = str(variant_key(original, request.width, EXTENSIONS[request.format]))
        if request.key in self._remembered:
            raise ImageTooComplex("The image took too long to resize a short while ago; it is not resized.")

        # The caller looked a moment ago and found none: only a retry (an earlier attempt may
        # have stored it) or a race with another caller (the same variant made twice) can differ.
        if not (request.variant_absent and first_attempt):
            existing = await self._store.head(variant)
            if existing is not None:
                return _stored(variant, existing), "cached"

        fmt = request.format
        async with self._gate.turn(request.key):
            if not still_wanted(deadline):
                raise CallerGone()
            stage = self._metrics.stage
            check = _SourceCheck(request)
            with stage.labels(stage="read").time():
                if request.source_unchecked:
                    source, data = await self._store.get_bytes(
                        request.key, max_bytes=self._limits.max_source_bytes, check=check
                    )
                else:
                    source, data = await self._store.get_bytes(request.key, max_bytes=self._limits.max_source_bytes)
            if check.not_resized:
                served_as_is = f"{source.content_type} originals are served as they are."
                return ResizeReply.error(NOT_RESIZED, served_as_is), "not_resized"
            if check.format is not None and check.format != fmt:  # the name's guess was wrong
                fmt = check.format
                variant = str(variant_key(original, request.width, EXTENSIONS[fmt]))
                existing = await self._store.head(variant)
                if existing is not None:
                    return _stored(variant, existing), "cached"
            refuse_rejected_content(source.content_type, data)  # before any variant exists
            with stage.labels(stage="kernel").time():
                result = await self._run_kernel(data, replace(request, format=fmt), deadline)
            del data
        with stage.labels(stage="write").time():
            etag = await self._store.put_bytes(
                variant, result.data, content_type=result.content_type, cache_control=CACHE_CONTROL
            )
        self._metrics.variant_bytes.observe(len(result.data))
        log.info("variant stored", variant_key=variant, size=len(result.data), dimensions=result.size)
        inline = result.data if len(result.data) <= request.inline_max else None
        reply = ResizeReply.ok(variant, result.content_type, len(result.data), etag=etag or None, body=inline)
        return reply, "resized"

    async def _run_kernel(self, data: bytes, request: ResizeRequest, deadline: float | None) -> KernelResult:
        """The CPU work, in a kernel process; at ``job_timeout`` the process is killed.

        A job that waited for a process past its caller's deadline is not started (CallerGone).
        """
        spec = JobSpec(
            width=request.width,
            format=request.format,
            max_pixels=self._limits.max_pixels,
            quality=self._limits.quality(request.format),
            max_scans=self._limits.max_scans,
        )
        try:
            result = await self._kernel.run(spec, data, wanted=lambda: still_wanted(deadline))
        except JobTimedOut as exc:
            answer = stopped_answer(exc.elapsed, exc.cpu_seconds)
            self._metrics.timeouts.labels(answer=answer.code.lower()).inc()
            if isinstance(answer, ImageTooComplex):
                self._remembered.add(request.key)
            log.warning(
                "resize stopped at the job timeout",
                seconds=round(exc.elapsed, 2),
                cpu_seconds=exc.cpu_seconds,
                answer=answer.code,
            )
            raise answer from exc
        except KernelCrashed:
            self._metrics.kernel_crashes.inc()
            raise
        if result.peak_rss is not None:
            self._metrics.kernel_peak_bytes.observe(result.peak_rss)
        return result
