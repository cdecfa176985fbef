"""File operations on the object store: pre-signed uploads, records, listing, delete.

Until the file catalog exists every record is read from S3: the key gives id and name, a HEAD
gives size, content type and time. Tags and meta are not stored yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.gateway.listing import ListQuery, encode_cursor
from services.gateway.uploads import UploadRequest
from shared.errors import NotFound, ValidationFailed
from shared.keys import (
    VARIANTS_PREFIX,
    InvalidKey,
    OriginalKey,
    is_file_id,
    new_file_id,
    original_key,
    parse_original_key,
)
from shared.s3 import ObjectInfo, ObjectStore

HEAD_CONCURRENCY = 16
LIST_PAGE_SIZE = 1000
MAX_EXAMINED_PER_LIMIT = 10  # keys HEADed per page with a type filter, as a multiple of the limit
COUNT_CAP = 10_000  # totalCount is null above this many originals (the catalog counts exactly)


@dataclass(frozen=True)
class FileRecord:
    id: str
    key: str
    name: str
    size: int
    type: str
    src: str
    created_on: datetime

    def to_graphql(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "size": self.size,
            "type": self.type,
            "src": self.src,
            "tags": [],
            "meta": {},
            "createdOn": self.created_on,
            "createdBy": None,
        }


@dataclass(frozen=True)
class ListPage:
    items: list[FileRecord]
    cursor: str | None
    total_count: int | None
    has_more: bool


def src_prefix(download_base_url: str) -> str:
    """What every file's ``src`` starts with (``getSettings.srcPrefix``)."""
    return f"{download_base_url.rstrip('/')}/files/"


def src_url(prefix: str, key: str) -> str:
    """The public download URL of a key."""
    return prefix + quote(key, safe="/")


def file_record(info: ObjectInfo, prefix: str) -> FileRecord:
    original = parse_original_key(info.key)
    return FileRecord(
        id=original.file_id,
        key=info.key,
        name=original.name,
        size=info.size,
        type=info.content_type,
        src=src_url(prefix, info.key),
        created_on=info.last_modified,
    )


def upload_payload(file_id: str, key: str, request: UploadRequest, post: dict[str, Any]) -> dict[str, Any]:
    """The response item of getPreSignedPostPayload; ``file.name`` is the key, as Webiny does."""
    return {
        "data": {"url": post["url"], "fields": post["fields"]},
        "file": {"id": file_id, "key": key, "name": key, "size": request.size, "type": request.type},
    }


class FileService:
    def __init__(self, store: ObjectStore, *, download_base_url: str, presign_expires: int) -> None:
        self.store = store
        self.src_prefix = src_prefix(download_base_url)
        self._presign_expires = presign_expires

    def presign(self, request: UploadRequest) -> dict[str, Any]:
        """A new id and key, and a POST policy pinning key, type and [1, size] bytes (no I/O)."""
        file_id = new_file_id()
        key = str(original_key(file_id, request.name))
        post = self.store.presigned_post(
            key, content_type=request.type, max_size=request.size, expires_in=self._presign_expires
        )
        return upload_payload(file_id, key, request, post)

    async def get(self, file_id: str) -> FileRecord:
        infos = await self._originals_of(file_id)
        for info in infos:
            record = await self._record(info.key)
            if record is not None:
                return record
        raise _not_found(file_id)

    async def create(self, key: object) -> FileRecord:
        """The record of an uploaded object (createFile): it must exist in S3."""
        if not isinstance(key, str) or not key:
            raise ValidationFailed(
                "key is required.", data={"invalidFields": {"key": _field("REQUIRED", "key is required.")}}
            )
        try:
            parse_original_key(key)
        except InvalidKey as exc:
            raise ValidationFailed(
                "key is not a file key.",
                data={"invalidFields": {"key": _field("INVALID", "Not a key returned by getPreSignedPostPayload.")}},
            ) from exc
        record = await self._record(key)
        if record is None:
            raise NotFound(f"No uploaded file has the key {key}.")
        return record

    async def delete(self, file_id: str) -> None:
        """Delete the original only; its variants go when the cleanup worker sees the removal."""
        infos = await self._originals_of(file_id)
        if not infos:
            raise _not_found(file_id)
        for info in infos:
            await self.store.delete(info.key)

    async def list_files(self, query: ListQuery) -> ListPage:
        """One page from the cursor on. Until the catalog, a type filter needs a HEAD per key, so a
        page examines at most ``MAX_EXAMINED_PER_LIMIT * limit`` keys and says ``hasMoreItems``."""
        if query.matches_nothing:
            return ListPage(items=[], cursor=None, total_count=0, has_more=False)
        found: list[FileRecord] = []
        batch: list[str] = []
        examined = 0
        last_examined: str | None = None
        exhausted = True
        async for original in self._scan(query.after):
            if not query.accepts_key(original):
                continue
            batch.append(str(original))
            if len(batch) >= query.limit + 1 - len(found):
                found += [r for r in await self._records(batch) if query.accepts_type(r.type)]
                examined += len(batch)
                last_examined = batch[-1]
                batch.clear()
                if len(found) > query.limit or examined >= MAX_EXAMINED_PER_LIMIT * query.limit:
                    exhausted = False
                    break
        if batch:
            found += [r for r in await self._records(batch) if query.accepts_type(r.type)]
        items = found[: query.limit]
        has_more = len(found) > query.limit or not exhausted
        last_key = items[-1].key if len(found) > query.limit else last_examined
        return ListPage(
            items=items,
            cursor=encode_cursor(last_key) if has_more and last_key else None,
            total_count=await self._count(query) if query.types is None else None,
            has_more=has_more,
        )

    async def _count(self, query: ListQuery) -> int | None:
        """Originals matching the key filters, or None when there are more than ``COUNT_CAP``."""
        count = 0
        async for original in self._scan(None):
            if query.accepts_key(original):
                count += 1
                if count > COUNT_CAP:
                    return None
        return count

    async def _originals_of(self, file_id: str) -> list[ObjectInfo]:
        if not is_file_id(file_id):
            raise _not_found(file_id)
        infos = await self.store.list_keys(f"{file_id}/", limit=100)
        return [info for info in infos if _original(info.key) is not None]

    async def _record(self, key: str) -> FileRecord | None:
        info = await self.store.head(key)
        return file_record(info, self.src_prefix) if info is not None else None

    async def _records(self, keys: Sequence[str]) -> list[FileRecord]:
        """HEAD each key (bounded concurrency), in order; keys gone meanwhile are left out."""
        gate = asyncio.Semaphore(HEAD_CONCURRENCY)

        async def one(key: str) -> FileRecord | None:
            async with gate:
                return await self._record(key)

        results = await asyncio.gather(*(one(key) for key in keys))
        return [record for record in results if record is not None]

    async def _scan(self, start_after: str | None) -> AsyncIterator[OriginalKey]:
        """Original keys in key order after ``start_after``.

        Ids are lowercase hex, so every original sorts before ``variants/``: the scan stops there.
        """
        start = start_after or ""
        while True:
            page, truncated = await self.store.list_page(start_after=start, max_keys=LIST_PAGE_SIZE)
            for info in page:
                if info.key >= VARIANTS_PREFIX:
                    return
                original = _original(info.key)
                if original is not None:
                    yield original
            if not page or not truncated:
                return
            start = page[-1].key


def _original(key: str) -> OriginalKey | None:
    try:
        return parse_original_key(key)
    except InvalidKey:
        return None


def _not_found(file_id: str) -> NotFound:
    return NotFound(f"File {file_id} was not found.", data={"id": file_id})


def _field(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": None}
