"""Issuing uploads: pre-signed POST payloads and multipart uploads, each registering a pending
record in the catalog (``createdBy`` = the caller), checked against the stored File Manager preferences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.gateway.budget import Cost, RequestBudget
from services.gateway.catalog.model import Catalog, FileRecord, NewFile, Preferences
from services.gateway.files import (
    META_CREATED_BY,
    META_DECLARED_SIZE,
    FileService,
    creator_metadata,
    creator_of,
    parse_file_key,
)
from services.gateway.permissions import Access
from services.gateway.preferences import PreferencesCache, upload_policy
from services.gateway.uploads import UploadRequest, check_part_count, part_sizes, upload_info, upload_payload
from shared.errors import NotFound, ValidationFailed
from shared.keys import new_file_id, original_key
from shared.logging import get_logger
from shared.s3 import ObjectStore

log = get_logger(__name__)


def size_problem(size: int, preferences: Preferences, declared: str | None) -> dict[str, Any] | None:
    """What is wrong with the size of a multipart upload (its listed parts before they are joined,
    the object after): larger than declared, or outside the preferences."""
    limit = preferences.upload_max_file_size
    if declared is not None and declared.isdigit():
        limit = min(limit, int(declared))
    if size > limit:
        message = f"The parts make {size} bytes, more than the {limit} allowed."
        return {"code": "TOO_LARGE", "message": message, "data": {"max": limit, "given": size}}
    if size < preferences.upload_min_file_size:
        message = f"The parts make {size} bytes, fewer than the {preferences.upload_min_file_size} required."
        return {
            "code": "TOO_SMALL",
            "message": message,
            "data": {"min": preferences.upload_min_file_size, "given": size},
        }
    return None


@dataclass(frozen=True)
class Uploader:
    """Who asks for an upload: the record's ``createdBy``."""

    subject: str
    display_name: str | None = None


def pending_file(uploader: Uploader, request: UploadRequest) -> NewFile:
    """The ``pending`` record of a new upload: a new file id, its original's key, who uploads it."""
    file_id = new_file_id()
    key = str(original_key(file_id, request.name))
    return NewFile(
        id=file_id,
        key=key,
        name=key.split("/", 1)[1],
        type=request.type,
        size=request.size,
        created_by=uploader.subject,
        created_by_name=uploader.display_name,
    )


class UploadService:
    """Issues uploads within two bounds: the request's budget (``Cost.UPLOADS``, spent once the input
    is valid) and ``max_pending`` records waiting per uploader (checked by the catalog as it
    registers them, all of one request or none)."""

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        files: FileService,
        preferences: PreferencesCache,
        *,
        presign_expires: int,
        multipart_expires: int,
        max_pending: int | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._files = files
        self._preferences = preferences
        self._presign_expires = presign_expires
        self._multipart_expires = multipart_expires
        self._max_pending = max_pending

    async def presign(self, uploader: Uploader, raw: Mapping[str, Any], budget: RequestBudget) -> dict[str, Any]:
        request = upload_policy(await self._preferences.get()).check(raw)
        (payload,) = await self._issue(uploader, [request], budget)
        return payload

    async def presign_many(
        self, uploader: Uploader, raws: Sequence[Mapping[str, Any] | None], budget: RequestBudget
    ) -> list[dict[str, Any]]:
        requests = upload_policy(await self._preferences.get()).check_many(raws)
        return await self._issue(uploader, requests, budget)

    async def _issue(
        self, uploader: Uploader, requests: Sequence[UploadRequest], budget: RequestBudget
    ) -> list[dict[str, Any]]:
        budget.spend(Cost.UPLOADS, len(requests))
        pending: list[NewFile] = []
        payloads: list[dict[str, Any]] = []
        for request in requests:
            new = pending_file(uploader, request)
            post = self._store.presigned_post(
                new.key,
                content_type=request.type,
                max_size=request.size,
                expires_in=self._presign_expires,
                metadata={META_CREATED_BY: creator_metadata(uploader.subject)},
            )
            pending.append(new)
            payloads.append(upload_payload(new.id, new.key, request, post))
        await self._catalog.register_pending_many(pending, max_pending=self._max_pending)
        return payloads

    async def create_multipart(
        self, uploader: Uploader, raw: Mapping[str, Any], number_of_parts: Any, budget: RequestBudget
    ) -> dict[str, Any]:
        """Start a multipart upload: one pre-signed PUT URL per part, with the content type pinned
        and each part's exact size signed (S3 refuses a part of another size)."""
        request = upload_policy(await self._preferences.get()).check(raw)
        sizes = part_sizes(request.size, check_part_count(number_of_parts, request.size))
        budget.spend(Cost.UPLOADS)
        new = pending_file(uploader, request)
        key = new.key
        upload_id = await self._store.create_multipart_upload(
            key,
            content_type=request.type,
            metadata={META_DECLARED_SIZE: str(request.size), META_CREATED_BY: creator_metadata(uploader.subject)},
        )
        try:
            await self._catalog.register_pending(replace(new, upload_id=upload_id), max_pending=self._max_pending)
        except Exception:
            await self._abort(key, upload_id)
            raise
        urls = [
            {
                "partNumber": number,
                "size": size,
                "url": self._store.presigned_upload_part(
                    key, upload_id, number, expires_in=self._multipart_expires, content_length=size
                ),
            }
            for number, size in enumerate(sizes, start=1)
        ]
        return {"uploadId": upload_id, "file": upload_info(new.id, key, request), "parts": urls}

    async def complete_multipart(self, access: Access, file_key: Any, upload_id: Any) -> FileRecord:
        """Join the uploaded parts (listed by S3, not sent by the client) and register the file.

        Who may is settled first, from the pending record that keeps the upload id: an upload out of
        the caller's reach, finished, refused or expired is NOT_FOUND before S3 is touched. Parts
        that add up to more than declared (or than the preferences allow) are refused before they are
        joined: the upload is aborted and its record dropped (VALIDATION_FAILED)."""
        original = parse_file_key(file_key)
        key = str(original)
        if not isinstance(upload_id, str) or not upload_id.strip():
            raise ValidationFailed(
                "uploadId is required.",
                data={"invalidFields": {"uploadId": {"code": "REQUIRED", "message": "Required.", "data": None}}},
            )
        record = await self._catalog.pending_upload(key, upload_id)
        if record is None or not access.may_touch(record.created_by):
            raise NotFound(f"No upload {upload_id} for {key}.", data={"key": key})
        parts = await self._store.list_parts(key, upload_id)
        if not parts:
            raise ValidationFailed("No part of this upload has been uploaded yet.", data={"parts": 0})
        preferences = await self._preferences.get()
        problem = size_problem(sum(part.size for part in parts), preferences, str(record.size))
        if problem is not None:
            await self._store.abort_multipart_upload(key, upload_id)
            await self._catalog.expire(key)
            raise ValidationFailed(
                f"{problem['message']} The upload was aborted.", data={"invalidFields": {"size": problem}}
            )
        await self._store.complete_multipart_upload(key, upload_id, parts)
        info = await self._store.head(key)
        if info is None:
            raise NotFound(f"No uploaded file has the key {key}.", data={"key": key})
        problem = size_problem(info.size, preferences, info.metadata.get(META_DECLARED_SIZE))
        if problem is not None:  # parts cannot add up to more than listed; kept as a second check
            await self._store.delete(key)
            raise ValidationFailed(
                f"{problem['message']} The uploaded file was removed.", data={"invalidFields": {"size": problem}}
            )
        return await self._files.register(info, original, created_by=record.created_by or creator_of(info))

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            await self._store.abort_multipart_upload(key, upload_id)
        except Exception as exc:  # noqa: BLE001 - the bucket's lifecycle rule aborts it in the end
            log.warning("multipart upload not aborted", key=key, error=f"{type(exc).__name__}: {exc}")
