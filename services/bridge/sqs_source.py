"""Source ``sqs``: AWS S3 bucket notifications read from an SQS queue (long polling).

For each message: normalize its body (a raw S3 event, or one wrapped in an SNS notification),
publish the events with confirms (retried until the broker confirms), and only then delete the
message. A message still unconfirmed when the bridge stops is left alone: SQS shows it again after
its visibility timeout, so nothing is lost (consumers tolerate the duplicates a redelivery may
cause). A body that is not a
notification goes to ``bridge.dead`` and is deleted only once it is parked there.

boto3 is synchronous: each call runs in a thread. The client is anything with boto3's
``receive_message``/``delete_message`` (tests pass an in-memory queue).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.bridge.metrics import Metrics
from services.bridge.normalize import normalize_sqs_body
from services.bridge.publisher import Publisher, publish_until_confirmed
from shared.errors import Unavailable
from shared.events import MalformedEvent, ObjectEvent
from shared.logging import bind_correlation_id, clear_context, get_logger, new_correlation_id
from shared.retry import Backoff, RetryPolicy, Stopped

log = get_logger(__name__)

SOURCE = "sqs"


class SqsClient(Protocol):
    """The two calls of boto3's SQS client that the source uses."""

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def delete_message(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class SqsConfig:
    queue_url: str
    bucket: str
    wait_seconds: int = 20
    max_messages: int = 10
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    @property
    def backoff(self) -> RetryPolicy:
        return RetryPolicy(self.backoff_initial, self.backoff_max)


class SqsSource:
    def __init__(
        self,
        client: SqsClient,
        config: SqsConfig,
        *,
        publisher: Publisher,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._config = config
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._receive_failing = False

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="sqs-source")
        log.info("polling SQS", queue_url=self._config.queue_url, wait_seconds=self._config.wait_seconds)

    async def stop(self) -> None:
        """Finish the messages in hand; a long poll still waiting is abandoned (SQS keeps its messages)."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> None:
        """Readiness: the poll loop runs and its last receive worked."""
        if self._task is None or self._task.done():
            raise Unavailable("the SQS source is not running")
        if self._receive_failing:
            raise Unavailable("the SQS queue cannot be read")

    # --- the poll loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = Backoff(self._config.backoff, self._stopping)
        while not self._stopping.is_set():
            messages = await self._receive()
            if messages is None:  # failed: wait, then poll again
                await backoff.wait()
                continue
            backoff.reset()
            for message in messages:
                if self._stopping.is_set():
                    break  # the rest become visible again after their visibility timeout
                await self.handle(message)

    async def _receive(self) -> list[Mapping[str, Any]] | None:
        """One long poll; None when it failed. Returns [] at once when the source is stopping."""
        poll = asyncio.ensure_future(asyncio.to_thread(self._receive_blocking))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not poll.done():
            # Stopping: whatever this poll still receives becomes visible again after its timeout.
            poll.add_done_callback(_ignore_result)
            return []
        try:
            response = poll.result()
        except Exception as exc:  # noqa: BLE001 - any failure to reach SQS is retried
            self._receive_failing = True
            log.warning("could not receive from SQS", error=repr(exc))
            return None
        self._receive_failing = False
        messages = response.get("Messages") or []
        return [m for m in messages if isinstance(m, Mapping)]

    def _receive_blocking(self) -> Mapping[str, Any]:
        return self._client.receive_message(
            QueueUrl=self._config.queue_url,
            MaxNumberOfMessages=self._config.max_messages,
            WaitTimeSeconds=self._config.wait_seconds,
        )

    # --- one message ---------------------------------------------------------------------------

    async def handle(self, message: Mapping[str, Any]) -> bool:
        """Publish (or park) one message, then delete it; False when it was left for redelivery."""
        body = message.get("Body")
        text = body if isinstance(body, str) else ""
        correlation_id = bind_correlation_id(new_correlation_id())
        try:
            try:
                events = normalize_sqs_body(text, self._config.bucket, received=self._clock())
            except MalformedEvent as exc:
                return await self._park(message, text, reason=str(exc))
            except Exception as exc:  # a body that breaks the bridge must not block the queue forever
                log.exception("could not handle an SQS message; dead-lettering it")
                return await self._park(message, text, reason=repr(exc))
            if events and not await self._publish(events, correlation_id):
                return False
            self._metrics.records.labels(source=SOURCE, outcome="published" if events else "dropped").inc()
            await self._delete(message)
            return True
        finally:
            clear_context()

    async def _publish(self, events: list[ObjectEvent], correlation_id: str) -> bool:
        """Retry (with backoff) until the broker confirms; False only when the source stops first.

        Nothing else is received meanwhile, so a broker outage does not spend the receive counts
        of other messages (SQS's redrive policy would move them to its dead-letter queue).
        """
        try:
            await publish_until_confirmed(
                self._publisher,
                events,
                correlation_id=correlation_id,
                backoff=self._config.backoff,
                stop=self._stopping,
            )
        except Stopped:
            log.warning("stopping before the broker confirmed; the message stays in SQS")
            return False
        return True

    async def _park(self, message: Mapping[str, Any], text: str, *, reason: str) -> bool:
        self._metrics.records.labels(source=SOURCE, outcome="malformed").inc()
        log.warning("not an S3 notification", reason=reason, message_id=message.get("MessageId"))
        if not await self._publisher.dead_letter(text.encode(), reason=reason, source=SOURCE):
            return False  # not parked: leave it in SQS (its redrive policy applies)
        await self._delete(message)
        return True

    async def _delete(self, message: Mapping[str, Any]) -> None:
        receipt = message.get("ReceiptHandle")
        try:
            await asyncio.to_thread(self._client.delete_message, QueueUrl=self._config.queue_url, ReceiptHandle=receipt)
        except Exception as exc:  # noqa: BLE001 - redelivery only repeats an idempotent publication
            log.warning("could not delete an SQS message; it will be published again", error=repr(exc))


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
