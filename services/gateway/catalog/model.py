"""The catalog's contract: the records it keeps and the operations the API layer calls.

``Catalog`` is what the GraphQL layer sees (implemented over asyncpg in ``store.py``); the event
side (confirmations from ``object.created`` / ``object.removed``, expiry) is the store's own.
Pure data, no I/O.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

FileStatus = Literal["pending", "ready", "rejected"]


@dataclass(frozen=True)
class FileRecord:
    id: str
    key: str
    name: str
    type: str
    size: int  # declared while pending; what S3 reports once ready
    status: FileStatus
    tags: tuple[str, ...]
    meta: dict[str, Any]
    created_by: str | None  # the creator's JWT ``sub``
    created_by_name: str | None
    created_on: datetime
    saved_on: datetime
    etag: str | None = None
    reason: str | None = None  # why a record was rejected, readable by the client
    upload_id: str | None = None  # a pending multipart upload's S3 upload id


@dataclass(frozen=True)
class NewFile:
    """A record to register: pending (upload payload issued) or ready (``createFile``)."""

    id: str
    key: str
    name: str
    type: str
    size: int
    created_by: str | None
    created_by_name: str | None = None
    tags: tuple[str, ...] = ()  # already normalized (lowercase, de-duplicated, limited)
    meta: dict[str, Any] = field(default_factory=dict)
    upload_id: str | None = None  # a multipart upload's S3 upload id (pending records only)


@dataclass(frozen=True)
class FileChanges:
    """``updateFile``: None leaves a field as it is."""

    name: str | None = None
    tags: tuple[str, ...] | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class ListFilter:
    """Every filter of ``listFiles`` (arguments and ``where``), already validated. All must hold."""

    search: str | None = None  # case-insensitive substring of the name
    types: tuple[str, ...] = ()  # any of; exact ("image/png") or wildcard ("image/*")
    tags_all: tuple[str, ...] = ()  # the record has every one of these (``tags``, ``tag``, ``tag_and_in``)
    tags_any: tuple[str, ...] = ()  # the record has at least one (``tag_in``)
    tag_starts_with: str | None = None  # some tag starts with it
    tag_not_starts_with: str | None = None  # no tag starts with it
    ids: tuple[str, ...] | None = None  # ``ids`` / ``id_in``; None = no restriction
    created_by: str | None = None  # ``where.createdBy``
    owner: str | None = None  # ``:own`` scopes: only records whose created_by is this sub


@dataclass(frozen=True)
class ListRequest:
    filter: ListFilter
    limit: int  # 1..100, validated by the API layer
    after: str | None = None  # an opaque cursor the catalog handed out; bad ones: ValidationFailed


@dataclass(frozen=True)
class ListResult:
    items: list[FileRecord]
    cursor: str | None  # None when there is nothing after this page
    total_count: int  # every match of the filter, not just this page
    has_more: bool


@dataclass(frozen=True)
class TagCount:
    tag: str
    count: int


@dataclass(frozen=True)
class Preferences:
    upload_min_file_size: int
    upload_max_file_size: int
    src_prefix: str
    allowed_types: tuple[str, ...]


@dataclass(frozen=True)
class PreferenceChanges:
    upload_min_file_size: int | None = None
    upload_max_file_size: int | None = None
    src_prefix: str | None = None
    allowed_types: tuple[str, ...] | None = None


class Catalog(Protocol):
    """What the API layer needs. Only ``ready`` records are visible to get/list/update/delete;
    ``owner`` (a JWT sub) restricts an operation to that creator's records (None: anyone's).
    A record outside those bounds is simply absent (None / not listed): never a leak of existence."""

    async def register_pending(self, new: NewFile, *, max_pending: int | None = None) -> FileRecord:
        """An upload payload was issued for ``new.key``; the record waits for ``object.created``.
        ``max_pending``: refuse (LimitExceeded) when its creator would hold more pending records."""
        ...

    async def register_pending_many(
        self, news: Sequence[NewFile], *, max_pending: int | None = None
    ) -> builtins.list[FileRecord]:
        """``register_pending`` for several at once: all of them or none."""
        ...

    async def pending_upload(self, key: str, upload_id: str) -> FileRecord | None:
        """The pending record of the multipart upload ``upload_id`` of ``key`` (None: no such upload
        is waiting, it was completed, refused or expired)."""
        ...

    async def pending(self, key: str) -> FileRecord | None:
        """The pending record of ``key`` (None when there is none: uploaded, refused or expired)."""
        ...

    async def claim_upload(self, key: str, upload_id: str) -> FileRecord | None:
        """Bind the multipart upload ``upload_id`` to the pending record of ``key`` that has none yet
        (an upload whose create call the client sent itself); None when the record is gone or
        already bound to another upload."""
        ...

    async def expire(self, key: str) -> bool:
        """Drop the pending record of ``key`` (an upload that will not come); True when one went."""
        ...

    async def register_uploaded(self, new: NewFile, *, size: int, etag: str | None) -> FileRecord:
        """``createFile``: the object exists (the caller checked with a HEAD); create the record
        as ready or make a pending one ready, keeping what the event side already confirmed.
        Returns None-free: a key whose record was deleted raises shared.errors.NotFound."""
        ...

    async def get(self, file_id: str, *, owner: str | None = None) -> FileRecord | None: ...

    async def update(self, file_id: str, changes: FileChanges, *, owner: str | None = None) -> FileRecord | None: ...

    async def rejection(self, file_id: str, *, owner: str | None = None) -> FileRecord | None:
        """The ``rejected`` record with this id (``reason`` says why its content was refused and
        deleted), within ``owner``'s bounds; None otherwise. Added by the catalog side so that
        ``getFile`` can tell a client why an upload disappeared; kept ``REJECTED_RETENTION``."""
        ...

    async def delete(self, file_id: str, *, owner: str | None = None) -> FileRecord | None:
        """Forget the record (remembering the key as deleted, so a late event never resurrects it);
        returns what was deleted. Deleting the S3 object is the caller's job."""
        ...

    async def list(self, request: ListRequest) -> ListResult: ...

    async def list_tags(
        self,
        *,
        starts_with: str | None = None,
        not_starts_with: str | None = None,
        owner: str | None = None,
    ) -> builtins.list[TagCount]:
        """Tags of ready records, most used first, then alphabetically."""
        ...

    async def get_preferences(self) -> Preferences: ...

    async def update_preferences(self, changes: PreferenceChanges) -> Preferences: ...

    async def version(self) -> str:
        """The schema version applied by the migrations (the app's 'installed?' check)."""
        ...

    async def ping(self) -> None:
        """Raise shared.errors.Unavailable when the database does not answer (for /readyz)."""
        ...
