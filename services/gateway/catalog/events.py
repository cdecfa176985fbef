"""The catalog's side of ``files.events``: confirm, check and reject uploads; forget removed files.

``object.created``: the record of the key (if the gateway issued one) becomes ready with the size
and ETag S3 reports, after its first bytes were checked against the declared type; content that
contradicts it is deleted from S3 and the record is marked rejected with the reason. A key without
a record is left alone (``createFile`` registers objects uploaded by other paths; see
docs/decisions.md). ``object.removed``: the key is remembered as deleted and its record goes away,
once a HEAD shows that the object really is gone (a removal of an object that is there is stale or
forged, and ignored). Bytes written again under a settled key are refused (``overwrites.py``).
Both are idempotent: duplicated, late and reordered events change nothing more.
"""

from __future__ import annotations

import enum

from aio_pika.abc import AbstractIncomingMessage

from services.gateway.catalog.overwrites import REPLACED_REASON, replaced
from services.gateway.catalog.store import PgCatalog
from shared.broker import Outcome, event_handler
from shared.content_check import check
from shared.errors import NotFound, Unavailable
from shared.events import OBJECT_REMOVED, ObjectEvent
from shared.keys import is_variant_key
from shared.logging import get_logger
from shared.outage import dependency_of
from shared.s3 import ObjectStore

log = get_logger(__name__)


class Handled(enum.Enum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REMOVED = "removed"
    IGNORED = "ignored"  # not ours, no record, already deleted or rejected
    GONE = "gone"  # the object is no longer in S3 (its removal came or will come)
    STALE = "stale"  # a removal of an object that is in S3: late or forged, ignored
    REFUSED = "refused"  # bytes written again under a ready or deleted key: deleted (overwrites.py)


class CatalogEvents:
    """A ``Consumer`` handler (``__call__``), also used by the expiry for uploads whose event was lost."""

    def __init__(self, catalog: PgCatalog, store: ObjectStore, *, sniff_bytes: int = 4096) -> None:
        self._catalog = catalog
        self._store = store
        self._sniff_bytes = sniff_bytes
        self._on_message = event_handler(self._settle)

    async def __call__(self, message: AbstractIncomingMessage) -> Outcome:
        return await self._on_message(message)

    async def _settle(self, event: ObjectEvent) -> Outcome:
        try:
            handled = await self.handle(event)
        except Unavailable as exc:
            if dependency_of(exc) is not None:
                raise  # the database or S3 is down: the consumer holds the event (shared.outage)
            log.warning("catalog event deferred; will retry", key=event.key, type=event.type, error=exc.message)
            return Outcome.RETRY
        log.info("catalog event", type=event.type, key=event.key, result=handled.value)
        return Outcome.ACK

    async def handle(self, event: ObjectEvent) -> Handled:
        if event.bucket != self._store.bucket or is_variant_key(event.key):
            return Handled.IGNORED
        if event.type == OBJECT_REMOVED:
            return await self.removed(event.key)
        return await self.created(event.key)

    async def removed(self, key: str) -> Handled:
        """Forget ``key`` if its object is gone; S3 has the last word, not the event (as the cleanup
        worker does: an object that is there makes the removal stale)."""
        if await self._store.head(key) is not None:
            log.warning("removal of an object that exists ignored", key=key)
            return Handled.STALE
        return Handled.REMOVED if await self._catalog.remove(key) else Handled.IGNORED

    async def created(self, key: str) -> Handled:
        """Check the object of ``key`` and settle its record. Raises ``Unavailable`` to retry."""
        record = await self._catalog.find_by_key(key)
        if record is None:
            if await self._catalog.was_deleted(key) and await self._store.head(key) is not None:
                await self._store.delete(key)  # a deleted file's form posted again: keys are never reused
                log.warning("upload to a deleted key removed", key=key)
                return Handled.REFUSED
            return Handled.IGNORED
        if record.status == "rejected":
            await self._store.delete(key)  # a retry after the record was marked but before the delete
            return Handled.IGNORED
        info = await self._store.head(key)
        if info is None:
            return Handled.GONE
        if replaced(record, info):
            return await self._refuse_replacement(key)
        try:
            head = await self._first_bytes(key)
        except NotFound:
            return Handled.GONE
        reason = check(record.type, head)
        if reason is not None:
            # Record first: a retry finds it rejected and only repeats the (idempotent) delete.
            await self._catalog.reject(key, reason)
            await self._store.delete(key)
            log.warning("upload rejected", key=key, declared=record.type, reason=reason)
            return Handled.REJECTED
        confirmed = await self._catalog.confirm(key, size=info.size, etag=info.etag or None)
        if confirmed is not None:
            return Handled.CONFIRMED
        # confirmed meanwhile (a createFile, another replica) with other bytes than these?
        settled = await self._catalog.find_by_key(key)
        if settled is not None and replaced(settled, info):
            return await self._refuse_replacement(key)
        return Handled.IGNORED

    async def _refuse_replacement(self, key: str) -> Handled:
        # Record first, as for a content mismatch: a retry finds it rejected and repeats the delete.
        await self._catalog.reject(key, REPLACED_REASON)
        await self._store.delete(key)
        log.warning("replaced upload removed", key=key)
        return Handled.REFUSED

    async def _first_bytes(self, key: str) -> bytes:
        stream = await self._store.open_stream(key, byte_range=f"bytes=0-{self._sniff_bytes - 1}")
        data = bytearray()
        try:
            async for chunk in stream.chunks:
                data += chunk
                if len(data) >= self._sniff_bytes:
                    break
        finally:
            stream.close()
        return bytes(data[: self._sniff_bytes])
