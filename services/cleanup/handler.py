"""Handling one ``object.removed`` event: delete every variant of the removed original."""

from __future__ import annotations

from aio_pika.abc import AbstractIncomingMessage

from services.cleanup.metrics import Metrics
from services.cleanup.second_look import SecondLook
from shared.broker import Outcome, event_handler
from shared.errors import Unavailable
from shared.events import OBJECT_REMOVED, ObjectEvent
from shared.keys import InvalidKey, is_variant_key, parse_original_key, variant_prefix
from shared.logging import get_logger
from shared.outage import dependency_of
from shared.s3 import ObjectStore

log = get_logger(__name__)


def prefix_to_clean(event: ObjectEvent, bucket: str) -> str | None:
    """The variant prefix an event asks to delete, or None when it asks for nothing. Pure."""
    if event.type != OBJECT_REMOVED or event.bucket != bucket or is_variant_key(event.key):
        return None
    try:
        original = parse_original_key(event.key)
    except InvalidKey:
        return None
    return variant_prefix(original.file_id)


class CleanupHandler:
    """``Consumer`` handler: parse, decide, delete; the outcome says ack, retry or dead-letter."""

    def __init__(self, store: ObjectStore, *, metrics: Metrics, second_look: SecondLook | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._second_look = second_look
        self._on_message = event_handler(self._counted, on_malformed=self._malformed)

    async def __call__(self, message: AbstractIncomingMessage) -> Outcome:
        return await self._on_message(message)

    def _malformed(self) -> None:
        self._metrics.messages.labels(outcome="malformed").inc()

    async def _counted(self, event: ObjectEvent) -> Outcome:
        try:
            outcome = await self.handle(event)
        except Unavailable:
            self._metrics.messages.labels(outcome="dependency_down").inc()
            raise
        self._metrics.messages.labels(outcome=outcome.value).inc()
        return outcome

    async def handle(self, event: ObjectEvent) -> Outcome:
        prefix = prefix_to_clean(event, self._store.bucket)
        if prefix is None:
            log.info("nothing to clean", type=event.type, bucket=event.bucket, key=event.key)
            return Outcome.ACK
        try:
            if await self._store.head(event.key) is not None:
                # The original is there (again): this removal is stale; its variants stay.
                log.info("original still exists; keeping its variants", key=event.key)
                return Outcome.ACK
            deleted = await self._store.delete_prefix(prefix)
        except Unavailable as exc:
            if dependency_of(exc) is not None:
                raise  # S3 is down: the consumer holds the event until it answers (shared.outage)
            log.warning("object store refused; will retry", key=event.key, error=exc.message)
            return Outcome.RETRY
        self._metrics.variants_deleted.labels(via="event").inc(deleted)
        log.info("variants deleted", key=event.key, prefix=prefix, deleted=deleted)
        if self._second_look is not None:
            self._second_look.schedule(event.key, prefix)  # for a variant a running job writes later
        return Outcome.ACK
