"""File records over the catalog: createFile, updateFile, getFile, listFiles, deleteFile, tags.

The catalog keeps the records; S3 keeps the bytes. ``createFile`` checks with a HEAD that the
object exists and takes its size, type and ETag from S3, not from the caller. ``deleteFile``
deletes the original in S3 first and then the record (if the second step fails, the
``object.removed`` event removes the record anyway).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from services.gateway.catalog.model import Catalog, FileChanges, FileRecord, ListResult, NewFile, TagCount
from services.gateway.listing import build_list_request
from services.gateway.permissions import Access
from services.gateway.tags import normalize_tags
from shared.errors import NotFound, ServiceError, ValidationFailed
from shared.keys import InvalidKey, OriginalKey, is_file_id, parse_original_key, safe_name
from shared.logging import get_logger
from shared.s3 import ObjectInfo, ObjectStore

MAX_META_BYTES = 16 * 1024
# S3 user metadata the uploads carry: who asked for the upload (every upload), and the declared
# size (multipart uploads, whose part URLs cannot pin a size range)
META_CREATED_BY = "created-by"
META_DECLARED_SIZE = "declared-size"


def creator_metadata(subject: str) -> str:
    """A JWT ``sub`` as an S3 metadata value (ASCII only)."""
    return quote(subject, safe="")


def creator_of(info: ObjectInfo) -> str | None:
    """Who asked for the upload of an object, from its metadata (None for objects without it)."""
    value = info.metadata.get(META_CREATED_BY)
    return unquote(value) if value else None


def src_prefix(download_base_url: str) -> str:
    """The default ``srcPrefix``: what every file's ``src`` starts with."""
    return f"{download_base_url.rstrip('/')}/files/"


def src_url(prefix: str, key: str) -> str:
    """The public download URL of a key."""
    return prefix + quote(key, safe="/")


def record_to_graphql(record: FileRecord, prefix: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "key": record.key,
        "name": record.name,
        "size": record.size,
        "type": record.type,
        "src": src_url(prefix, record.key),
        "tags": list(record.tags),
        "meta": record.meta,
        "createdOn": record.created_on,
        "createdBy": ({"id": record.created_by, "displayName": record.created_by_name} if record.created_by else None),
    }


def display_name(given: Any, original: OriginalKey) -> str:
    """The record's name: Webiny's app sends the key as the name, so a name with a path (or none)
    becomes the key's file name part; any other name is made safe like a key's."""
    if not isinstance(given, str) or not given.strip() or "/" in given or "\\" in given:
        return original.name
    return safe_name(given)


def parse_file_key(key: Any) -> OriginalKey:
    if not isinstance(key, str) or not key:
        raise _invalid("key", "REQUIRED", "key is required.")
    try:
        return parse_original_key(key)
    except InvalidKey as exc:
        raise _invalid("key", "INVALID", "key is not a key returned by getPreSignedPostPayload.") from exc


def checked_meta(meta: Any) -> dict[str, Any] | None:
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise _invalid("meta", "INVALID", "meta must be a JSON object.")
    if len(json.dumps(meta, separators=(",", ":"), default=str).encode()) > MAX_META_BYTES:
        raise _invalid("meta", "TOO_LARGE", f"meta may take at most {MAX_META_BYTES} bytes as JSON.")
    return meta


def file_changes(data: Mapping[str, Any]) -> FileChanges:
    """updateFile's input: name, tags and meta may change; key, size and type are the object's."""
    name = data.get("name")
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise _invalid("name", "REQUIRED", "name must not be empty.")
        name = safe_name(name)
    tags = data.get("tags")
    return FileChanges(
        name=name,
        tags=normalize_tags(tags) if tags is not None else None,
        meta=checked_meta(data.get("meta")),
    )


class FileService:
    def __init__(self, catalog: Catalog, store: ObjectStore) -> None:
        self.catalog = catalog
        self.store = store

    async def get(self, access: Access, file_id: str) -> FileRecord:
        """A ready record; NOT_FOUND otherwise, saying why when its content was rejected."""
        if not is_file_id(file_id):
            raise not_found(file_id)
        record = await self.catalog.get(file_id, owner=access.owner)
        if record is None:
            rejected = await self.catalog.rejection(file_id, owner=access.owner)
            raise not_found(file_id) if rejected is None else rejected_error(rejected, NotFound)
        return record

    async def create(self, access: Access, data: Mapping[str, Any], *, display: str | None = None) -> FileRecord:
        """createFile: the record of an uploaded object (it must exist in S3)."""
        original = parse_file_key(data.get("key"))
        tags = normalize_tags(data.get("tags"))
        meta = checked_meta(data.get("meta")) or {}
        info = await self.store.head(str(original))
        if info is None:
            rejected = await self.catalog.rejection(original.file_id, owner=access.owner)
            if rejected is not None and rejected.key == str(original):
                raise rejected_error(rejected, ValidationFailed)
            raise NotFound(f"No uploaded file has the key {original}.", data={"key": str(original)})
        # the record's creator, or whoever asked for the upload (S3 metadata), must be in reach
        existing = await self.catalog.get(original.file_id)
        creator = existing.created_by if existing is not None else creator_of(info)
        if (existing is not None or creator is not None) and not access.may_touch(creator):
            raise NotFound(f"No uploaded file has the key {original}.", data={"key": str(original)})
        own = creator is None or creator == access.subject
        return await self.register(
            info, original, created_by=creator or access.subject, created_by_name=display if own else None,
            name=display_name(data.get("name"), original), tags=tags, meta=meta,
        )  # fmt: skip

    async def register(
        self,
        info: ObjectInfo,
        original: OriginalKey,
        *,
        created_by: str | None,
        created_by_name: str | None = None,
        name: str | None = None,
        tags: tuple[str, ...] = (),
        meta: dict[str, Any] | None = None,
    ) -> FileRecord:
        new = NewFile(
            id=original.file_id,
            key=str(original),
            name=name or original.name,
            type=info.content_type,
            size=info.size,
            created_by=created_by,
            created_by_name=created_by_name,
            tags=tags,
            meta=meta or {},
        )
        return await self.catalog.register_uploaded(new, size=info.size, etag=info.etag or None)

    async def update(self, access: Access, file_id: str, data: Mapping[str, Any]) -> FileRecord:
        changes = file_changes(data)
        record = await self.catalog.update(file_id, changes, owner=access.owner) if is_file_id(file_id) else None
        if record is None:
            raise not_found(file_id)
        return record

    async def delete(self, access: Access, file_id: str) -> None:
        """Delete the original only; its variants go when the cleanup worker sees the removal.

        The S3 deletion is what counts: it emits ``object.removed``, which removes the record too
        (and may race this call's own removal). So a failure to remove the record is tried once
        more and then left to that event, rather than reported for a file that is already gone.
        """
        record = await self.get(access, file_id)
        await self.store.delete(record.key)
        for attempt in (1, 2):
            try:
                await self.catalog.delete(file_id, owner=access.owner)
                return
            except Exception as exc:  # noqa: BLE001 - the object is gone; its removal event removes the record
                get_logger(__name__).warning(
                    "record not removed after its object", id=file_id, attempt=attempt, error=f"{type(exc).__name__}"
                )

    async def list_files(self, access: Access, args: Mapping[str, Any]) -> ListResult:
        return await self.catalog.list(build_list_request(args, owner=access.owner))

    async def tags(self, access: Access, where: Mapping[str, Any] | None) -> list[TagCount]:
        where = where or {}
        return await self.catalog.list_tags(
            starts_with=_lower(where.get("tag_startsWith")),
            not_starts_with=_lower(where.get("tag_not_startsWith")),
            owner=access.owner,
        )


def rejected_error(record: FileRecord, kind: type[ServiceError]) -> ServiceError:
    """An upload whose content did not match its declared type (the catalog deleted it)."""
    reason = record.reason or "The file's content did not match its declared type."
    return kind(reason, data={"id": record.id, "key": record.key, "status": "rejected", "reason": reason})


def not_found(file_id: str) -> NotFound:
    return NotFound(f"File {file_id} was not found.", data={"id": file_id})


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value.strip() else None


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, data={"invalidFields": {field: {"code": code, "message": message, "data": None}}})
