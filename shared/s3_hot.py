"""The hot S3 calls (HEAD, GET of a whole object, PUT) through obstore, the Rust object_store.

A cold request makes three S3 calls; through boto3 each cost about 1-3 ms of CPU whatever its
size (signing, botocore's event and parsing machinery, a thread hop), through obstore a third
to a quarter of that, natively async (``python -m bench.s3clients``, docs/BENCHMARKS.md).
``shared.s3.ObjectStore`` uses this for those calls and keeps boto3 for everything else
(pre-signing, multipart uploads, listing, deletes, ranged streams).

Errors come back as the project's: a missing object as ``NotFound``, a refusal of our credentials
as ``Unavailable``, anything else (no connection, a 5xx after obstore's own retries, a broken read)
as ``StorageUnavailable``, which consumers wait out without spending a message's attempts
(``shared.outage``), as they do for boto3's. A HEAD is a GET with ``head`` set, which also
answers the content type and the user metadata (``x-amz-meta-*``) that ``ObjectInfo`` carries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from shared.errors import NotFound, SourceTooLarge, StorageUnavailable, Unavailable
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from obstore import Attributes, GetResult
    from obstore.store import S3Config

# Attributes obstore names itself; any other key of a GET's attributes is user metadata.
_STANDARD = frozenset(
    {"Content-Disposition", "Content-Encoding", "Content-Language", "Content-Type", "Cache-Control", "Storage-Class"}
)


def make_store(settings: CommonSettings) -> S3Store:
    """An obstore S3 store for the settings' bucket: path-style, the same timeouts and attempts as
    the boto3 client (``shared.s3.make_client``)."""
    endpoint = settings.s3_endpoint_url
    where: S3Config = {"endpoint": endpoint} if endpoint else {}  # none: AWS's own for the region
    return S3Store(
        settings.s3_bucket,
        config=where,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key.get_secret_value(),
        secret_access_key=settings.s3_secret_key.get_secret_value(),
        virtual_hosted_style_request=False,
        client_options={
            "allow_http": bool(endpoint and endpoint.startswith("http://")),
            "connect_timeout": "5s",
            "timeout": "30s",
            "pool_max_idle_per_host": str(settings.s3_max_pool_connections),
        },
        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=30)},
    )


class HotCalls:
    """HEAD, whole-object GET and PUT on one bucket. Returns plain values; ``shared.s3`` turns
    them into its ``ObjectInfo``."""

    def __init__(self, store: S3Store) -> None:
        self._store = store

    async def head(self, key: str) -> GetResult:
        """The object's metadata (raises NotFound)."""
        return await self._get(key, head=True)

    async def get(
        self, key: str, *, max_bytes: int | None = None, wanted: Callable[[GetResult], bool] | None = None
    ) -> tuple[GetResult, bytes]:
        """The whole object; SourceTooLarge for one bigger than ``max_bytes``. ``wanted`` sees the
        answer before its body is read: when it says False, the body is dropped unread (``b""``)."""
        result = await self._get(key)
        if wanted is not None and not wanted(result):
            return result, b""
        size = result.meta["size"]
        if max_bytes is not None and size > max_bytes:
            raise SourceTooLarge(f"The file is {size} bytes; at most {max_bytes} are resized.")
        try:
            body = await result.bytes_async()
        except (BaseError, OSError) as exc:
            raise _failure("a read", exc) from exc
        return result, bytes(body)

    async def put(self, key: str, data: bytes, *, content_type: str, cache_control: str | None = None) -> str:
        """Store ``data``; returns its ETag (unquoted)."""
        attributes: Attributes = {"Content-Type": content_type}
        if cache_control:
            attributes["Cache-Control"] = cache_control
        try:
            result = await obstore.put_async(self._store, key, data, attributes=attributes, use_multipart=False)
        except (BaseError, OSError) as exc:
            raise _failure("a PUT", exc) from exc
        return (result.get("e_tag") or "").strip('"')

    async def _get(self, key: str, *, head: bool = False) -> GetResult:
        try:
            return await obstore.get_async(self._store, key, options={"head": head})
        except FileNotFoundError as exc:
            raise NotFound(f"{key} was not found.") from exc
        except (BaseError, OSError) as exc:
            raise _failure("a HEAD" if head else "a GET", exc) from exc


def _failure(call: str, exc: BaseException) -> Unavailable:
    """Our credentials refused: ``Unavailable`` (waiting does not mend it). Anything else is the
    store failing or out of reach: ``StorageUnavailable``."""
    if isinstance(exc, (PermissionDeniedError, UnauthenticatedError)):
        return Unavailable(f"The object store refused {call} ({type(exc).__name__}).")
    return StorageUnavailable(f"The object store could not answer {call} ({type(exc).__name__}); try again shortly.")


def user_metadata(attributes: Attributes) -> dict[str, str]:
    """The ``x-amz-meta-*`` values among a GET's attributes, by lowercase name."""
    return {str(k).lower(): str(v) for k, v in attributes.items() if k not in _STANDARD}
