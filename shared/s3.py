"""The object store: one boto3 client, wrapped for asyncio, and obstore for the hot calls.

boto3 is synchronous; every call runs in a worker thread so the event loop (and AMQP heartbeats)
keep going. The three calls a cold request makes (HEAD, GET of a whole object, PUT) go through
``shared.s3_hot`` instead (obstore: natively async, a third of boto3's CPU per call) when the
store is built with it, as ``from_settings`` does. All S3 access of the project goes through
``ObjectStore``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import NotFound, SourceTooLarge, StorageUnavailable, Unavailable, ValidationFailed
from shared.outage import storage_busy
from shared.s3_hot import HotCalls, make_store, user_metadata
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from obstore import GetResult

T = TypeVar("T")
CHUNK_SIZE = 64 * 1024
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload"})
# refusals of CompleteMultipartUpload that are the uploader's doing, not the store's
_BAD_PARTS = frozenset({"EntityTooSmall", "InvalidPart", "InvalidPartOrder", "MalformedXML"})
_METHODS = {
    "create_multipart_upload": "POST",
    "upload_part": "PUT",
    "list_parts": "GET",
    "complete_multipart_upload": "POST",
    "abort_multipart_upload": "DELETE",
}


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: datetime
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata (x-amz-meta-*), from HEAD/GET


@dataclass(frozen=True)
class UploadedPart:
    """A part of a multipart upload, as S3 lists it."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class SignedRequest:
    """One pre-signed S3 call: send ``method`` to ``url`` with exactly these ``headers``."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectStream:
    """An open object: iterate ``chunks``, and call ``close`` when done (also if never iterated)."""

    info: ObjectInfo
    chunks: AsyncGenerator[bytes, None]
    close: Callable[[], None]
    content_range: str | None = None
    length: int = 0


def make_client(settings: CommonSettings, *, public: bool = False) -> Any:
    endpoint = settings.s3_endpoint_url
    if public and settings.s3_public_endpoint_url:
        endpoint = settings.s3_public_endpoint_url
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.get_secret_value(),
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=settings.s3_max_pool_connections,
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def unavailable(method: str, exc: ClientError) -> Unavailable:
    """A refusal by S3: ``StorageUnavailable`` when the store is failing or busy (5xx, SlowDown), which
    work waits out; plain ``Unavailable`` otherwise (a refusal such as AccessDenied, a 503 all the same)."""
    code = exc.response.get("Error", {}).get("Code", "?")
    if storage_busy(exc):
        return StorageUnavailable(f"The object store could not answer {method} ({code}); try again shortly.")
    return Unavailable(f"The object store refused {method} ({code}).")


def is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING


class ObjectStore:
    """Async access to one bucket."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        presign_client: Any | None = None,
        max_concurrency: int = 32,
        hot: HotCalls | None = None,
    ) -> None:
        self._client = client
        self._presign = presign_client or client
        self._hot = hot  # HEAD, whole GETs and PUTs through obstore; None: through boto3 too
        self.bucket = bucket
        # boto3 blocks: its calls run on threads of our own, as many as the connection pool has,
        # not on asyncio's small default pool (min(32, CPUs + 4): 6 threads on 2 cores).
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="s3")

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ObjectStore:
        presign = make_client(settings, public=True) if settings.s3_public_endpoint_url else None
        return cls(
            make_client(settings),
            settings.s3_bucket,
            presign_client=presign,
            max_concurrency=settings.s3_max_pool_connections,
            hot=HotCalls(make_store(settings)),
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await self._run(getattr(self._client, method), Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if is_missing(exc):
                raise NotFound(f"{kwargs.get('Key', self.bucket)} was not found.") from exc
            raise unavailable(method, exc) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable() from exc

    async def _run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()
        if self._presign is not self._client:
            self._presign.close()

    async def ping(self) -> None:
        """Raise unless the bucket answers."""
        await self._call("head_bucket")

    async def head(self, key: str) -> ObjectInfo | None:
        if self._hot is not None:
            try:
                return _hot_info(key, await self._hot.head(key))
            except NotFound:
                return None
        try:
            resp = await self._call("head_object", Key=key)
        except NotFound:
            return None
        return _info(key, resp)

    async def get_bytes(
        self, key: str, *, max_bytes: int | None = None, check: Callable[[ObjectInfo], bool] | None = None
    ) -> tuple[ObjectInfo, bytes]:
        """Read a whole object; refuses (SourceTooLarge) one bigger than ``max_bytes``. ``check``
        sees the object's metadata first: when it answers False, no byte is read (``b""``)."""
        if self._hot is not None:
            seen = (lambda result: check(_hot_info(key, result))) if check is not None else None
            result, whole = await self._hot.get(key, max_bytes=max_bytes, wanted=seen)
            return _hot_info(key, result), whole
        resp = await self._call("get_object", Key=key)
        body = resp["Body"]
        try:
            info = _info(key, resp)
            if check is not None and not check(info):
                return info, b""
            if max_bytes is not None and info.size > max_bytes:
                raise SourceTooLarge(f"The file is {info.size} bytes; at most {max_bytes} are resized.")
            data: bytes = await self._run(body.read)
        finally:
            body.close()
        return info, data

    async def open_stream(self, key: str, *, byte_range: str | None = None) -> ObjectStream:
        """Open an object for streaming; the caller must call ``close`` on the result."""
        kwargs: dict[str, Any] = {"Key": key}
        if byte_range:
            kwargs["Range"] = byte_range
        resp = await self._call("get_object", **kwargs)
        body = resp["Body"]
        try:
            info = _info(key, resp)
            return ObjectStream(
                info=info,
                chunks=self._iterate(body),
                close=body.close,
                content_range=resp.get("ContentRange"),
                length=int(resp.get("ContentLength", info.size)),
            )
        except Exception:
            body.close()
            raise

    async def put_bytes(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> str:
        """Store ``data`` under ``key``; returns its ETag."""
        if self._hot is not None:
            return await self._hot.put(key, data, content_type=content_type, cache_control=cache_control)
        kwargs: dict[str, Any] = {"Key": key, "Body": data, "ContentType": content_type}
        if cache_control:
            kwargs["CacheControl"] = cache_control
        resp = await self._call("put_object", **kwargs)
        return str(resp.get("ETag", "")).strip('"')

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=key)

    async def list_page(
        self, *, prefix: str = "", start_after: str = "", max_keys: int = 1000
    ) -> tuple[list[ObjectInfo], bool]:
        """One ListObjectsV2 page of keys after ``start_after``, and whether more follow."""
        kwargs: dict[str, Any] = {"MaxKeys": max_keys}
        if prefix:
            kwargs["Prefix"] = prefix
        if start_after:
            kwargs["StartAfter"] = start_after
        resp = await self._call("list_objects_v2", **kwargs)
        return [_listed(item) for item in resp.get("Contents", [])], bool(resp.get("IsTruncated"))

    async def list_keys(self, prefix: str, *, limit: int | None = None) -> list[ObjectInfo]:
        """Every object under ``prefix`` (paginated), at most ``limit`` of them."""
        out: list[ObjectInfo] = []
        after = ""
        while True:
            page, more = await self.list_page(prefix=prefix, start_after=after)
            out.extend(page)
            if limit is not None and len(out) >= limit:
                return out[:limit]
            if not more or not page:
                return out
            after = page[-1].key

    async def list_prefixes(self, prefix: str) -> list[str]:
        """The common prefixes one level below ``prefix`` (``prefix/x/``)."""
        out: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix, "Delimiter": "/", "MaxKeys": 1000}
            if token:
                kwargs["ContinuationToken"] = token
            resp = await self._call("list_objects_v2", **kwargs)
            out.extend(p["Prefix"] for p in resp.get("CommonPrefixes", []))
            if not resp.get("IsTruncated"):
                return out
            token = resp.get("NextContinuationToken")

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` in batches of 1000; returns how many."""
        deleted = 0
        while True:
            batch = await self.list_keys(prefix, limit=1000)
            if not batch:
                return deleted
            resp = await self._call(
                "delete_objects",
                Delete={"Objects": [{"Key": o.key} for o in batch], "Quiet": True},
            )
            errors = resp.get("Errors", [])
            if errors:
                raise Unavailable(f"could not delete {len(errors)} objects under {prefix}")
            deleted += len(batch)
            if len(batch) < 1000:
                return deleted

    async def _iterate(self, body: Any) -> AsyncGenerator[bytes, None]:
        chunks: Iterator[bytes] = body.iter_chunks(CHUNK_SIZE)
        try:
            while chunk := await self._run(next, chunks, b""):
                yield chunk
        finally:
            body.close()

    def presigned_post(
        self,
        key: str,
        *,
        content_type: str,
        max_size: int,
        expires_in: int,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A POST policy pinning the key, the content type, ``content-length-range`` [1, max] and
        any user ``metadata`` (sent as ``x-amz-meta-*`` fields; ASCII values)."""
        meta = {f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()}
        conditions: list[Any] = [{"Content-Type": content_type}, ["content-length-range", 1, max_size]]
        conditions.extend({name: value} for name, value in meta.items())
        result: dict[str, Any] = self._presign.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type, **meta},
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return result

    # --- multipart uploads: the client PUTs each part to a pre-signed URL ---------------------------

    async def create_multipart_upload(
        self, key: str, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> str:
        """Start a multipart upload of ``key`` with its content type pinned; returns the upload id."""
        resp = await self._call("create_multipart_upload", Key=key, ContentType=content_type, Metadata=metadata or {})
        return str(resp["UploadId"])

    def presigned_upload_part(
        self, key: str, upload_id: str, part_number: int, *, expires_in: int, content_length: int | None = None
    ) -> str:
        """A URL the client PUTs part ``part_number`` (1-based) of the upload to. With
        ``content_length`` the length is signed: S3 refuses a PUT of any other size (403)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
        if content_length is not None:
            params["ContentLength"] = content_length
        url: str = self._presign.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires_in)
        return url

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """Every part uploaded so far, by part number (NotFound for an unknown upload)."""
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            resp = await self._call("list_parts", Key=key, UploadId=upload_id, PartNumberMarker=marker, MaxParts=1000)
            page = resp.get("Parts", [])
            parts.extend(
                UploadedPart(number=int(p["PartNumber"]), etag=str(p.get("ETag", "")), size=int(p.get("Size", 0)))
                for p in page
            )
            if not resp.get("IsTruncated") or not page:
                return sorted(parts, key=lambda part: part.number)
            marker = int(resp.get("NextPartNumberMarker") or page[-1]["PartNumber"])

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[UploadedPart]) -> str:
        """Join ``parts`` into the object; returns its ETag. ValidationFailed when S3 refuses the parts
        (too small, missing), NotFound for an unknown upload."""
        try:
            resp = await self._run(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _BAD_PARTS:
                raise ValidationFailed(f"The object store refused the parts ({code}).", data={"reason": code}) from exc
            if is_missing(exc):
                raise NotFound(f"No upload {upload_id} for {key}.") from exc
            raise unavailable("complete_multipart_upload", exc) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable() from exc
        return str(resp.get("ETag", "")).strip('"')

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts (a no-op for one that is gone). Called by the
        gateway: its expiry for uploads never completed, and completion for parts it refuses."""
        try:
            await self._call("abort_multipart_upload", Key=key, UploadId=upload_id)
        except NotFound:
            return

    # --- multipart uploads signed one S3 call at a time (Uppy 6's AWS S3 plugin) --------------------

    def presigned_call(self, operation: str, params: dict[str, Any], *, expires_in: int) -> SignedRequest:
        """A pre-signed URL of one S3 call (``create_multipart_upload``, ``upload_part``,
        ``list_parts``, ``complete_multipart_upload``, ``abort_multipart_upload``) and the headers
        it was signed with, which the client must send as they are (a browser sets
        ``Content-Length`` itself: it is signed but not listed)."""
        request_params = {"Bucket": self.bucket, **params}
        url: str = self._presign.generate_presigned_url(operation, Params=request_params, ExpiresIn=expires_in)
        headers: dict[str, str] = {}
        if "ContentType" in params:
            headers["Content-Type"] = str(params["ContentType"])
        for name, value in (params.get("Metadata") or {}).items():
            headers[f"x-amz-meta-{name}"] = str(value)
        return SignedRequest(method=_METHODS[operation], url=url, headers=headers)

    def presigned_get(self, key: str, *, expires_in: int, content_type: str | None = None) -> str:
        """A GET URL; ``content_type`` (signed, as ``response-content-type``) is the Content-Type S3
        must answer with, whatever the object's metadata says."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        url: str = self._presign.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url


def _listed(item: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=item["Key"],
        size=int(item.get("Size", 0)),
        etag=str(item.get("ETag", "")).strip('"'),
        content_type="",
        last_modified=item["LastModified"],
    )


def _hot_info(key: str, result: GetResult) -> ObjectInfo:
    meta, attributes = result.meta, result.attributes
    return ObjectInfo(
        key=key,
        size=int(meta["size"]),
        etag=(meta.get("e_tag") or "").strip('"'),
        content_type=str(attributes.get("Content-Type") or "application/octet-stream"),
        last_modified=meta["last_modified"],
        metadata=user_metadata(attributes),
    )


def _info(key: str, resp: dict[str, Any]) -> ObjectInfo:
    size = resp.get("ContentLength", 0)
    content_range = resp.get("ContentRange")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            size = int(total)
    return ObjectInfo(
        key=key,
        size=int(size),
        etag=str(resp.get("ETag", "")).strip('"'),
        content_type=str(resp.get("ContentType") or "application/octet-stream"),
        last_modified=resp["LastModified"],
        metadata={str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()},
    )
