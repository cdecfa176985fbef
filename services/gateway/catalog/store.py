"""``PgCatalog``: the ``Catalog`` over PostgreSQL (asyncpg), plus what the event side needs.

Only ``ready`` records are visible to the API. Deleted keys are remembered in ``deleted_keys`` so
that a late or repeated ``object.created`` never brings a deleted file back.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from services.gateway.catalog.cursor import decode_cursor, encode_cursor
from services.gateway.catalog.model import (
    FileChanges,
    FileRecord,
    ListRequest,
    ListResult,
    NewFile,
    PreferenceChanges,
    Preferences,
    TagCount,
)
from services.gateway.catalog.pool import ConnectionSource
from services.gateway.catalog.query import build_where, like_escape
from shared.errors import DatabaseUnavailable, LimitExceeded, NotFound, Unavailable, ValidationFailed

COLUMNS = (
    "id, key, name, type, size, status, tags, meta, created_by, created_by_name, created_on, saved_on, etag, reason, "
    "upload_id"
)
# pg_advisory_xact_lock(PENDING_LOCK_CLASS, hashtext(created_by)): one user's pending uploads are
# counted and added by one transaction at a time (the two-key space is apart from the migrations' lock).
PENDING_LOCK_CLASS = 0x70656E64  # "pend"
# The database does not answer, is shutting down or starting, cancelled a statement that ran past
# the timeout, or has no connection left: a 503 for requests, a retry for events.
DB_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.InvalidCatalogNameError,
)


def record_from_row(row: asyncpg.Record) -> FileRecord:
    meta = row["meta"]
    return FileRecord(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        type=row["type"],
        size=row["size"],
        status=row["status"],
        tags=tuple(row["tags"]),
        meta=json.loads(meta) if isinstance(meta, str) else dict(meta),
        created_by=row["created_by"],
        created_by_name=row["created_by_name"],
        created_on=row["created_on"],
        saved_on=row["saved_on"],
        etag=row["etag"],
        reason=row["reason"],
        upload_id=row["upload_id"],
    )


async def _insert(conn: Any, new: NewFile, *, status: str, size: int, etag: str | None) -> asyncpg.Record | None:
    """A new record of ``new`` (None when its id or key is taken)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""INSERT INTO files (id, key, name, type, size, status, tags, meta, created_by, created_by_name, etag,
                               upload_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)
            ON CONFLICT DO NOTHING
            RETURNING {COLUMNS}""",
        new.id,
        new.key,
        new.name,
        new.type.lower(),
        size,
        status,
        list(new.tags),
        _meta(new.meta),
        new.created_by,
        new.created_by_name,
        etag,
        new.upload_id,
    )
    return row


def _meta(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("meta must be a JSON object.") from exc


class PgCatalog:
    """The catalog's store. ``defaults`` are the File Manager preferences configured at start; the ``settings`` row
    holds only what ``updateSettings`` changed. ``count_limit`` caps ``totalCount`` so that one
    broad listing costs a bounded count, not one over the whole table."""

    def __init__(
        self, pool: ConnectionSource, defaults: Preferences, *, timeout: float = 5.0, count_limit: int = 10_000
    ) -> None:
        self._pool = pool
        self._defaults = defaults
        self._timeout = timeout
        self._count_limit = count_limit  # totalCount stops counting here (as Elasticsearch's 10,000)

    # --- the API side (the Catalog protocol) ---------------------------------------------------

    async def register_pending(self, new: NewFile, *, max_pending: int | None = None) -> FileRecord:
        (record,) = await self.register_pending_many([new], max_pending=max_pending)
        return record

    async def register_pending_many(
        self, news: Sequence[NewFile], *, max_pending: int | None = None
    ) -> builtins.list[FileRecord]:
        records: builtins.list[FileRecord] = []
        async with self._acquire() as conn, conn.transaction():
            if max_pending is not None:
                await self._check_pending(conn, news, max_pending)
            for new in news:
                row = await _insert(conn, new, status="pending", size=new.size, etag=None)
                if row is None:
                    raise ValidationFailed("A file with this id or key is already registered.")
                records.append(record_from_row(row))
        return records

    @staticmethod
    async def _check_pending(conn: Any, news: Sequence[NewFile], max_pending: int) -> None:
        """Refuse (LimitExceeded) when a creator would hold more than ``max_pending`` pending
        records; one user's registrations are serialized so that concurrent requests cannot
        each pass the check. Counting stops at ``max_pending`` (an index scan of one user's)."""
        adding = Counter(new.created_by for new in news if new.created_by is not None)
        for owner in sorted(adding):
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", PENDING_LOCK_CLASS, owner)
            held = await conn.fetchval(
                """SELECT count(*) FROM (SELECT 1 FROM files WHERE status = 'pending' AND created_by = $1
                   LIMIT $2) AS p""",
                owner,
                max_pending,
            )
            given = int(held) + adding[owner]
            if given > max_pending:
                raise LimitExceeded(
                    f"At most {max_pending} uploads may wait to be uploaded at once; finish or abandon some first "
                    f"(an unused payload is forgotten when it expires).",
                    data={"limit": "pendingUploadsPerUser", "max": max_pending, "given": given},
                )

    async def register_uploaded(self, new: NewFile, *, size: int, etag: str | None) -> FileRecord:
        async with self._acquire() as conn, conn.transaction():
            existing = await conn.fetchrow(f"SELECT {COLUMNS} FROM files WHERE key = $1 FOR UPDATE", new.key)
            if existing is not None and existing["status"] == "rejected":
                raise ValidationFailed(existing["reason"] or "The file was rejected.", data={"key": new.key})
            if await conn.fetchval("SELECT 1 FROM deleted_keys WHERE key = $1", new.key):
                raise NotFound("The file was deleted.")
            if existing is None:
                row = await _insert(conn, new, status="ready", size=size, etag=etag)
                if row is None:  # a concurrent registration of the same key won, or the id is taken
                    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM files WHERE key = $1", new.key)
                    if row is None:
                        raise ValidationFailed("A file with this id is already registered under another key.")
                return record_from_row(row)
            # Pending: it becomes ready with what S3 reports now. Ready: the event side already
            # confirmed size and ETag; only what the caller describes (name, type, tags, meta) changes.
            confirmed = existing["status"] == "ready"
            row = await conn.fetchrow(
                f"""UPDATE files SET name = $2, type = $3, tags = $4, meta = $5::jsonb, status = 'ready',
                           size = $6, etag = $7, upload_id = NULL, saved_on = clock_timestamp()
                    WHERE key = $1 RETURNING {COLUMNS}""",
                new.key,
                new.name,
                new.type.lower(),
                list(new.tags),
                _meta(new.meta),
                existing["size"] if confirmed else size,
                existing["etag"] if confirmed and existing["etag"] else etag,
            )
            return record_from_row(row)

    async def get(self, file_id: str, *, owner: str | None = None) -> FileRecord | None:
        row = await self._fetchrow(
            f"""SELECT {COLUMNS} FROM files
                WHERE id = $1 AND status = 'ready' AND ($2::text IS NULL OR created_by = $2)""",
            file_id,
            owner,
        )
        return None if row is None else record_from_row(row)

    async def update(self, file_id: str, changes: FileChanges, *, owner: str | None = None) -> FileRecord | None:
        row = await self._fetchrow(
            f"""UPDATE files SET name = coalesce($3, name), tags = coalesce($4, tags),
                       meta = coalesce($5::jsonb, meta), saved_on = clock_timestamp()
                WHERE id = $1 AND status = 'ready' AND ($2::text IS NULL OR created_by = $2)
                RETURNING {COLUMNS}""",
            file_id,
            owner,
            changes.name,
            None if changes.tags is None else list(changes.tags),
            None if changes.meta is None else _meta(changes.meta),
        )
        return None if row is None else record_from_row(row)

    async def rejection(self, file_id: str, *, owner: str | None = None) -> FileRecord | None:
        rejected = await self._fetchrow(
            f"""SELECT {COLUMNS} FROM files
                WHERE id = $1 AND status = 'rejected' AND ($2::text IS NULL OR created_by = $2)""",
            file_id,
            owner,
        )
        return None if rejected is None else record_from_row(rejected)

    async def delete(self, file_id: str, *, owner: str | None = None) -> FileRecord | None:
        async with self._acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""DELETE FROM files
                    WHERE id = $1 AND status = 'ready' AND ($2::text IS NULL OR created_by = $2)
                    RETURNING {COLUMNS}""",
                file_id,
                owner,
            )
            if row is None:
                return None
            await conn.execute("INSERT INTO deleted_keys (key) VALUES ($1) ON CONFLICT DO NOTHING", row["key"])
            return record_from_row(row)

    async def list(self, request: ListRequest) -> ListResult:
        """One page, newest first, and the number of matches (counted up to ``count_limit``: the
        page and the count run at once, on two connections)."""
        where = build_where(request.filter)
        count_sql = f"SELECT count(*) FROM (SELECT 1 FROM files WHERE {where.sql} LIMIT {self._count_limit}) AS m"
        count_params = list(where.params)
        if request.after is not None:
            created_on, last_id = decode_cursor(request.after)
            where.add(f"(created_on, id) < ({where.param(created_on)}, {where.param(last_id)})")
        page_sql = (
            f"SELECT {COLUMNS} FROM files WHERE {where.sql} "
            f"ORDER BY created_on DESC, id DESC LIMIT {where.param(request.limit + 1)}"
        )
        rows, total = await asyncio.gather(
            self._fetch(page_sql, *where.params), self._fetchval(count_sql, *count_params)
        )
        has_more = len(rows) > request.limit
        items = [record_from_row(r) for r in rows[: request.limit]]
        cursor = encode_cursor(items[-1].created_on, items[-1].id) if has_more and items else None
        return ListResult(items=items, cursor=cursor, total_count=int(total), has_more=has_more)

    async def list_tags(
        self,
        *,
        starts_with: str | None = None,
        not_starts_with: str | None = None,
        owner: str | None = None,
    ) -> builtins.list[TagCount]:
        rows = await self._fetch(
            """SELECT t.tag, count(*) AS n FROM files, unnest(files.tags) AS t(tag)
               WHERE status = 'ready' AND ($1::text IS NULL OR created_by = $1)
                 AND ($2::text IS NULL OR t.tag LIKE $2) AND ($3::text IS NULL OR t.tag NOT LIKE $3)
               GROUP BY t.tag ORDER BY n DESC, t.tag""",
            owner,
            None if starts_with is None else like_escape(starts_with) + "%",
            None if not_starts_with is None else like_escape(not_starts_with) + "%",
        )
        return [TagCount(tag=r["tag"], count=int(r["n"])) for r in rows]

    async def get_preferences(self) -> Preferences:
        row = await self._fetchrow("SELECT * FROM settings WHERE id = 1")
        return self._merge(row)

    async def update_preferences(self, changes: PreferenceChanges) -> Preferences:
        row = await self._fetchrow(
            """INSERT INTO settings (id, upload_min_file_size, upload_max_file_size, src_prefix, allowed_types)
               VALUES (1, $1, $2, $3, $4)
               ON CONFLICT (id) DO UPDATE SET
                   upload_min_file_size = coalesce($1, settings.upload_min_file_size),
                   upload_max_file_size = coalesce($2, settings.upload_max_file_size),
                   src_prefix = coalesce($3, settings.src_prefix),
                   allowed_types = coalesce($4, settings.allowed_types),
                   saved_on = clock_timestamp()
               RETURNING *""",
            changes.upload_min_file_size,
            changes.upload_max_file_size,
            changes.src_prefix,
            None if changes.allowed_types is None else list(changes.allowed_types),
        )
        return self._merge(row)

    def _merge(self, row: asyncpg.Record | None) -> Preferences:
        merged = self._defaults
        if row is None:
            return merged
        if row["upload_min_file_size"] is not None:
            merged = replace(merged, upload_min_file_size=int(row["upload_min_file_size"]))
        if row["upload_max_file_size"] is not None:
            merged = replace(merged, upload_max_file_size=int(row["upload_max_file_size"]))
        if row["src_prefix"] is not None:
            merged = replace(merged, src_prefix=row["src_prefix"])
        if row["allowed_types"] is not None:
            merged = replace(merged, allowed_types=tuple(row["allowed_types"]))
        return merged

    async def version(self) -> str:
        value = await self._fetchval("SELECT max(version) FROM schema_migrations")
        if value is None:
            raise Unavailable("The catalog's database is not migrated.")
        return str(value)

    async def ping(self) -> None:
        await self._fetchval("SELECT 1")

    # --- the event side -------------------------------------------------------------------------

    async def find_by_key(self, key: str) -> FileRecord | None:
        """The record of ``key`` in any status: None when there is none, or when the key was
        deleted and the record is not a rejected one (whose object is deleted by design)."""
        row = await self._fetchrow(
            f"""SELECT {COLUMNS} FROM files
                WHERE key = $1
                  AND (status = 'rejected' OR NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.key = $1))""",
            key,
        )
        return None if row is None else record_from_row(row)

    async def confirm(self, key: str, *, size: int, etag: str | None) -> FileRecord | None:
        """``object.created`` checked out: pending becomes ready with S3's size and ETag; a ready
        record is confirmed again only with the same bytes (None otherwise: see ``overwrites``)."""
        row = await self._fetchrow(
            f"""UPDATE files SET status = 'ready', size = $2, etag = coalesce($3, etag), reason = NULL,
                       upload_id = NULL, saved_on = clock_timestamp()
                WHERE key = $1
                  AND (status = 'pending'
                       OR (status = 'ready' AND size = $2 AND (etag IS NULL OR $3::text IS NULL OR etag = $3)))
                  AND NOT EXISTS (SELECT 1 FROM deleted_keys d WHERE d.key = $1)
                RETURNING {COLUMNS}""",
            key,
            size,
            etag,
        )
        return None if row is None else record_from_row(row)

    async def pending_upload(self, key: str, upload_id: str) -> FileRecord | None:
        row = await self._fetchrow(
            f"SELECT {COLUMNS} FROM files WHERE key = $1 AND status = 'pending' AND upload_id = $2", key, upload_id
        )
        return None if row is None else record_from_row(row)

    async def was_deleted(self, key: str) -> bool:
        """Whether ``key`` is remembered as deleted (keys are never reused: bytes written there
        afterwards come from a stale upload form, not from anything the catalog issued)."""
        return bool(await self._fetchval("SELECT 1 FROM deleted_keys WHERE key = $1", key))

    async def reject(self, key: str, reason: str) -> FileRecord | None:
        """The content is not what was declared: the record stays, ``rejected``, with the reason
        (``confirm`` never touches a rejected record; deleting the object is the caller's job)."""
        row = await self._fetchrow(
            f"""UPDATE files SET status = 'rejected', reason = $2, saved_on = clock_timestamp()
                WHERE key = $1 AND status IN ('pending', 'ready') RETURNING {COLUMNS}""",
            key,
            reason,
        )
        return None if row is None else record_from_row(row)

    async def remove(self, key: str) -> bool:
        """``object.removed``: remember the key and drop its record (a rejected one stays, so its
        reason can still be read). True when a record went away."""
        # The record first, then the key: the order ``delete`` takes its locks in, so that a
        # deleteFile and its own object.removed handled at once cannot deadlock.
        async with self._acquire() as conn, conn.transaction():
            status = await conn.execute("DELETE FROM files WHERE key = $1 AND status <> 'rejected'", key)
            await conn.execute("INSERT INTO deleted_keys (key) VALUES ($1) ON CONFLICT DO NOTHING", key)
        return bool(status.endswith(" 1"))

    async def waiting_since(
        self, *, pending_before: datetime, limit: int, multipart_before: datetime | None = None
    ) -> builtins.list[FileRecord]:
        """Pending records created before ``pending_before`` (multipart uploads, whose part URLs
        live longer: before ``multipart_before``, by default the same), oldest first."""
        rows = await self._fetch(
            f"""SELECT {COLUMNS} FROM files
                WHERE status = 'pending' AND created_on < greatest($1::timestamptz, $3::timestamptz)
                  AND created_on < (CASE WHEN upload_id IS NULL THEN $1::timestamptz ELSE $3::timestamptz END)
                ORDER BY created_on LIMIT $2""",
            pending_before,
            limit,
            pending_before if multipart_before is None else multipart_before,
        )
        return [record_from_row(r) for r in rows]

    async def expire(self, key: str) -> bool:
        """Drop a pending record whose upload never came. The key is not remembered as deleted:
        an upload finished after all (a long multipart one) can still be registered by createFile."""
        status = await self._execute("DELETE FROM files WHERE key = $1 AND status = 'pending'", key)
        return bool(status.endswith(" 1"))

    async def purge_rejected(self, *, before: datetime) -> int:
        """Forget rejected records last changed before ``before``; returns how many."""
        status = await self._execute("DELETE FROM files WHERE status = 'rejected' AND saved_on < $1", before)
        return int(status.rsplit(" ", 1)[1])

    async def purge_deleted_keys(self, *, before: datetime) -> int:
        """Forget deletions older than any event can be late (keys are never reused)."""
        status = await self._execute("DELETE FROM deleted_keys WHERE deleted_on < $1", before)
        return int(status.rsplit(" ", 1)[1])

    # --- plumbing -------------------------------------------------------------------------------

    def _acquire(self) -> _Acquire:
        return _Acquire(self._pool, self._timeout)

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._acquire() as conn:
            return await conn.fetchrow(sql, *args, timeout=self._timeout)

    async def _fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        async with self._acquire() as conn:
            rows: Sequence[asyncpg.Record] = await conn.fetch(sql, *args, timeout=self._timeout)
            return rows

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        async with self._acquire() as conn:
            return await conn.fetchval(sql, *args, timeout=self._timeout)

    async def _execute(self, sql: str, *args: Any) -> str:
        async with self._acquire() as conn:
            result: str = await conn.execute(sql, *args, timeout=self._timeout)
            return result


class _Acquire:
    """A pooled connection; a database that does not answer becomes ``DatabaseUnavailable`` (503,
    DATABASE_UNAVAILABLE; a consumer holds its message for it, ``shared.outage``)."""

    def __init__(self, pool: ConnectionSource, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        try:
            self._conn = await self._pool.acquire(timeout=self._timeout)
        except DB_ERRORS as exc:
            raise DatabaseUnavailable() from exc
        return self._conn

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        await self._pool.release(self._conn)
        if exc is not None and isinstance(exc, DB_ERRORS):
            raise DatabaseUnavailable() from exc
