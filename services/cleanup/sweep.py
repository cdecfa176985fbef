"""The periodic sweep: variants whose original is gone are deleted even if the event was lost.

Two listings by folder (the ``{id}/`` folders at the root and the ``variants/{id}/`` folders: a
LIST call per thousand files each) tell which ids have variants but no original any more. Their
variants are deleted, unless one of them is younger than the grace period (a resize of a file
that was just removed may still be writing; the next sweep takes it). Sweeps are idempotent, so
several cleanup replicas may sweep at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.cleanup.metrics import Metrics
from shared.keys import VARIANTS_PREFIX, is_file_id, variant_prefix
from shared.logging import get_logger
from shared.s3 import ObjectInfo, ObjectStore

log = get_logger(__name__)


def file_id_of_prefix(prefix: str) -> str | None:
    """``variants/{id}/`` -> ``id``; None for anything that is not a file id's folder. Pure."""
    if not prefix.startswith(VARIANTS_PREFIX) or not prefix.endswith("/"):
        return None
    file_id = prefix[len(VARIANTS_PREFIX) : -1]
    return file_id if is_file_id(file_id) else None


def orphan_ids(variant_prefixes: Iterable[str], root_prefixes: Iterable[str]) -> list[str]:
    """Ids that have a ``variants/{id}/`` folder but no ``{id}/`` folder of originals. Pure."""
    originals = {p[:-1] for p in root_prefixes if p.endswith("/")}
    ids = (file_id_of_prefix(p) for p in variant_prefixes)
    return sorted(i for i in ids if i is not None and i not in originals)


def old_enough(objects: Sequence[ObjectInfo], *, now: datetime, grace: timedelta) -> bool:
    """Whether every object was last modified at least ``grace`` ago. Pure."""
    return all(o.last_modified <= now - grace for o in objects)


@dataclass
class SweepResult:
    checked: int = 0
    orphans: int = 0
    deleted: int = 0
    too_young: int = 0


class Sweeper:
    def __init__(
        self,
        store: ObjectStore,
        *,
        grace_seconds: float,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._grace = timedelta(seconds=grace_seconds)
        self._metrics = metrics
        self._clock = clock

    async def run_counted(self) -> None:
        """One scheduled sweep, counted by result in ``cleanup_sweeps_total`` (a failure is raised
        on, for the periodic task to log)."""
        try:
            await self.run_once()
        except Exception:
            self._metrics.sweeps.labels(result="failed").inc()
            raise
        self._metrics.sweeps.labels(result="ok").inc()

    async def run_once(self) -> SweepResult:
        started = time.monotonic()
        result = SweepResult()
        variant_prefixes = await self._store.list_prefixes(VARIANTS_PREFIX)
        result.checked = len(variant_prefixes)
        for file_id in orphan_ids(variant_prefixes, await self._store.list_prefixes("")):
            prefix = variant_prefix(file_id)
            variants = await self._store.list_keys(prefix)
            if not variants:
                continue
            result.orphans += 1
            if not old_enough(variants, now=self._clock(), grace=self._grace):
                result.too_young += 1
                continue
            deleted = await self._store.delete_prefix(prefix)
            result.deleted += deleted
            log.info("orphan variants deleted", prefix=prefix, deleted=deleted)
        self._metrics.orphans.inc(result.orphans)
        self._metrics.variants_deleted.labels(via="sweep").inc(result.deleted)
        self._metrics.sweep_seconds.observe(time.monotonic() - started)
        log.info(
            "sweep done",
            checked=result.checked,
            orphans=result.orphans,
            deleted=result.deleted,
            too_young=result.too_young,
        )
        return result
