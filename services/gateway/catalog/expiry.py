"""The periodic housekeeping of the catalog, run by every gateway (each step is idempotent).

- A pending record older than the pre-signed payload's expiry plus a margin: its upload either
  never came (the record is dropped and its key remembered) or came while its event was lost
  (the object is checked and confirmed or rejected, as the event would have done).
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

log = get_logger(__name__)


@dataclass
class ExpiryResult:
    expired: int = 0
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
        pending_max_age: float,
        rejected_retention: float,
        deleted_key_retention: float,
        batch: int = 200,
    ) -> None:
        self._catalog = catalog
        self._events = events
        self._pending_max_age = timedelta(seconds=pending_max_age)
        self._rejected_retention = timedelta(seconds=rejected_retention)
        self._deleted_key_retention = timedelta(seconds=deleted_key_retention)
        self._batch = batch

    async def run_once(self, now: datetime | None = None) -> ExpiryResult:
        now = now or datetime.now(UTC)
        result = ExpiryResult()
        overdue = await self._catalog.waiting_since(pending_before=now - self._pending_max_age, limit=self._batch)
        for record in overdue:
            handled = await self._events.created(record.key)
            if handled is Handled.CONFIRMED:
                result.confirmed += 1
            elif handled is Handled.REJECTED:
                result.rejected += 1
            elif handled is Handled.GONE and await self._catalog.expire(record.key):
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
