"""The periodic housekeeping of the catalog, run by every gateway (each step is idempotent).

- A pending record older than the pre-signed payload's expiry plus a margin (a multipart upload's:
  its part URLs' expiry plus the margin): its upload either never came (the record is dropped, and
  an unfinished multipart upload is aborted so that its parts do not stay in S3) or came while its
  event was lost (the object is checked and confirmed or rejected, as the event would have done).
- Rejected records are kept a while for the client to read the reason, then forgotten.
- Remembered deletions are forgotten once no event can be that late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.gateway.catalog.events import CatalogEvents, Handled
from services.gateway.catalog.store import PgCatalog
from shared.errors import Unavailable
from shared.logging import get_logger
from shared.s3 import ObjectStore

log = get_logger(__name__)


@dataclass
class ExpiryResult:
    expired: int = 0
    aborted: int = 0  # unfinished multipart uploads aborted (their parts deleted)
    confirmed: int = 0
    rejected: int = 0
    purged_rejected: int = 0
    purged_deleted_keys: int = 0


class Expiry:
    def __init__(
        self,
        catalog: PgCatalog,
        events: CatalogEvents,
        *,
        store: ObjectStore,
        pending_max_age: float,
        rejected_retention: float,
        deleted_key_retention: float,
        multipart_max_age: float | None = None,
        batch: int = 200,
    ) -> None:
        self._catalog = catalog
        self._events = events
        self._store = store
        self._pending_max_age = timedelta(seconds=pending_max_age)
        self._multipart_max_age = timedelta(seconds=pending_max_age if multipart_max_age is None else multipart_max_age)
        self._rejected_retention = timedelta(seconds=rejected_retention)
        self._deleted_key_retention = timedelta(seconds=deleted_key_retention)
        self._batch = batch

    async def run_once(self, now: datetime | None = None) -> ExpiryResult:
        now = now or datetime.now(UTC)
        result = ExpiryResult()
        overdue = await self._catalog.waiting_since(
            pending_before=now - self._pending_max_age,
            multipart_before=now - self._multipart_max_age,
            limit=self._batch,
        )
        for record in overdue:
            handled = await self._events.created(record.key)
            if handled is Handled.CONFIRMED:
                result.confirmed += 1
            elif handled is Handled.REJECTED:
                result.rejected += 1
            elif handled is Handled.GONE:
                if record.upload_id is not None:
                    # abort first: should it fail, the record stays and the next run tries again
                    await self._store.abort_multipart_upload(record.key, record.upload_id)
                    result.aborted += 1
                if await self._catalog.expire(record.key):
                    result.expired += 1
        result.purged_rejected = await self._catalog.purge_rejected(before=now - self._rejected_retention)
        result.purged_deleted_keys = await self._catalog.purge_deleted_keys(before=now - self._deleted_key_retention)
        return result

    async def run_scheduled(self) -> None:
        """One periodic run: logged when it changed something; an unavailable database only skips it."""
        try:
            result = await self.run_once()
        except Unavailable as exc:
            log.warning("catalog expiry skipped", error=exc.message)
            return
        if result.expired or result.confirmed or result.rejected or result.purged_rejected:
            log.info("catalog expiry", **vars(result))
