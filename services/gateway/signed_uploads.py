"""Multipart uploads signed one S3 call at a time, as Uppy 6's AWS S3 plugin asks (``signRequest``).

The client sends every S3 call itself; the gateway signs each one under the rules of the other
uploads (``upload_service``):

- create: the input is checked against the preferences (type, size), the request's budget is spent
  (``Cost.UPLOADS``) and a pending record is registered within the per-user cap, as for a POST
  form; the signed ``CreateMultipartUpload`` pins the key, the content type and the object's
  metadata (declared size, creator). Its URL lives ``presign_expires`` seconds.
- the first call naming an upload id binds it to the pending record (after S3 confirms the upload
  exists for that key); any other upload id for the key is NOT_FOUND afterwards.
- part: only numbers 1..n of the size rule (``uploads.signed_part_size``) and each part's exact
  size is signed (S3 refuses a part of any other size), so the parts never add up to more than
  declared; list parts (resume) as is.
- complete: refused while no part is there, and when the listed parts exceed the declared size or
  the preferences (the upload is then aborted and its record dropped), as ``completeMultiPartUpload``.
  The client registers the file afterwards with ``createFile``, as after a POST form.
- abort: the gateway aborts the upload itself and drops the pending record at once (the caller's
  pending count goes down); the signed ``AbortMultipartUpload`` it answers is then a no-op.

Every call but create acts only on a pending upload within the caller's reach (``Access``);
anything else is NOT_FOUND, never a sign of another user's upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gateway.budget import Cost, RequestBudget
from services.gateway.catalog.model import Catalog, FileRecord
from services.gateway.files import META_CREATED_BY, META_DECLARED_SIZE, creator_metadata, parse_file_key
from services.gateway.permissions import Access
from services.gateway.preferences import PreferencesCache, upload_policy
from services.gateway.upload_service import Uploader, pending_file, size_problem
from services.gateway.uploads import (
    signed_part_count,
    signed_part_length,
    signed_part_size,
    upload_info,
)
from shared.errors import NotFound, ValidationFailed
from shared.s3 import ObjectStore, SignedRequest


def signed_to_graphql(signed: SignedRequest, **extra: Any) -> dict[str, Any]:
    return {"method": signed.method, "url": signed.url, "headers": dict(signed.headers), **extra}


class SignedMultipart:
    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        preferences: PreferencesCache,
        *,
        presign_expires: int,
        multipart_expires: int,
        max_pending: int | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._preferences = preferences
        self._presign_expires = presign_expires
        self._multipart_expires = multipart_expires
        self._max_pending = max_pending

    async def create(self, uploader: Uploader, raw: Mapping[str, Any], budget: RequestBudget) -> dict[str, Any]:
        request = upload_policy(await self._preferences.get()).check(raw)
        budget.spend(Cost.UPLOADS)
        new = pending_file(uploader, request)
        file_id, key = new.id, new.key
        await self._catalog.register_pending(new, max_pending=self._max_pending)
        signed = self._store.presigned_call(
            "create_multipart_upload",
            {
                "Key": key,
                "ContentType": request.type,
                "Metadata": {
                    META_DECLARED_SIZE: str(request.size),
                    META_CREATED_BY: creator_metadata(uploader.subject),
                },
            },
            expires_in=self._presign_expires,
        )
        return {
            "request": signed_to_graphql(signed),
            "file": upload_info(file_id, key, request),
            "partSize": signed_part_size(request.size),
            "numberOfParts": signed_part_count(request.size),
        }

    async def part(self, access: Access, file_key: Any, upload_id: Any, part_number: Any) -> dict[str, Any]:
        key, upload, record = await self._upload(access, file_key, upload_id)
        size = signed_part_length(record.size, part_number)
        signed = self._store.presigned_call(
            "upload_part",
            {"Key": key, "UploadId": upload, "PartNumber": part_number, "ContentLength": size},
            expires_in=self._multipart_expires,
        )
        return signed_to_graphql(signed, size=size)

    async def list_parts(self, access: Access, file_key: Any, upload_id: Any) -> dict[str, Any]:
        key, upload, _ = await self._upload(access, file_key, upload_id)
        signed = self._store.presigned_call(
            "list_parts", {"Key": key, "UploadId": upload}, expires_in=self._multipart_expires
        )
        return signed_to_graphql(signed)

    async def complete(self, access: Access, file_key: Any, upload_id: Any) -> dict[str, Any]:
        key, upload, record = await self._upload(access, file_key, upload_id)
        parts = await self._store.list_parts(key, upload)
        if not parts:
            raise ValidationFailed("No part of this upload has been uploaded yet.", data={"parts": 0})
        problem = size_problem(sum(p.size for p in parts), await self._preferences.get(), str(record.size))
        if problem is not None:
            await self._store.abort_multipart_upload(key, upload)
            await self._catalog.expire(key)
            raise ValidationFailed(
                f"{problem['message']} The upload was aborted.", data={"invalidFields": {"size": problem}}
            )
        signed = self._store.presigned_call(
            "complete_multipart_upload", {"Key": key, "UploadId": upload}, expires_in=self._presign_expires
        )
        return signed_to_graphql(signed)

    async def abort(self, access: Access, file_key: Any, upload_id: Any) -> dict[str, Any]:
        key, upload, _ = await self._upload(access, file_key, upload_id)
        await self._store.abort_multipart_upload(key, upload)
        await self._catalog.expire(key)
        signed = self._store.presigned_call(
            "abort_multipart_upload", {"Key": key, "UploadId": upload}, expires_in=self._presign_expires
        )
        return signed_to_graphql(signed)

    async def _upload(self, access: Access, file_key: Any, upload_id: Any) -> tuple[str, str, FileRecord]:
        """The pending upload ``upload_id`` of ``file_key`` within the caller's reach, bound to its
        record on first use; NOT_FOUND otherwise."""
        key = str(parse_file_key(file_key))
        if not isinstance(upload_id, str) or not upload_id.strip():
            raise ValidationFailed(
                "uploadId is required.",
                data={"invalidFields": {"uploadId": {"code": "REQUIRED", "message": "Required.", "data": None}}},
            )
        missing = NotFound(f"No upload {upload_id} for {key}.", data={"key": key})
        record = await self._catalog.pending(key)
        if record is None or not access.may_touch(record.created_by):
            raise missing
        if record.upload_id == upload_id:
            return key, upload_id, record
        if record.upload_id is not None:
            raise missing
        try:
            await self._store.list_parts(key, upload_id)  # S3 knows this upload of this key
        except NotFound:
            raise missing from None
        claimed = await self._catalog.claim_upload(key, upload_id)
        if claimed is None or claimed.upload_id != upload_id:
            raise missing
        return key, upload_id, claimed
