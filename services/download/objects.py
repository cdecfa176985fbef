"""The objects the download service serves: S3 behind the in-process ``ObjectCache``.

``head`` answers from the cache when it can (a hit costs no S3 request); ``small_body`` returns
the bytes of an object small enough to cache, from memory or read once from S3. Bigger objects
are streamed by the responder straight from S3, never held whole.
"""

from __future__ import annotations

from services.download.cache import ObjectCache
from shared.errors import NotFound, SourceTooLarge
from shared.keys import InvalidKey, file_id_of
from shared.logging import get_logger
from shared.s3 import ObjectInfo, ObjectStore

log = get_logger(__name__)


class CachedObjects:
    def __init__(self, store: ObjectStore, cache: ObjectCache) -> None:
        self.store = store
        self._cache = cache

    async def head(self, key: str) -> ObjectInfo | None:
        entry = self._cache.get(key)
        if entry is not None:
            return entry.info
        info = await self.store.head(key)
        if info is not None:
            self._cache.put_info(info)
        return info

    def known(self, key: str) -> ObjectInfo | None:
        """What the cache knows of ``key``, without asking S3 (None: nothing)."""
        entry = self._cache.get(key)
        return entry.info if entry is not None else None

    def remember(self, info: ObjectInfo, body: bytes) -> None:
        """Keep an object this service was handed whole (a new variant in a resize reply)."""
        self._cache.put_body(info, body)

    async def fetch(self, key: str) -> ObjectInfo | None:
        """Like ``head`` for an object just written (a new variant): one GET that also caches a small
        object's bytes, instead of a HEAD now and a GET when it is served."""
        if self._cache.max_item_bytes <= 0:
            return await self.head(key)
        try:
            info, body = await self.store.get_bytes(key, max_bytes=self._cache.max_item_bytes)
        except NotFound:
            return None
        except SourceTooLarge:
            return await self.head(key)
        self._cache.put_body(info, body)
        return info

    async def small_body(self, info: ObjectInfo) -> tuple[ObjectInfo, bytes] | None:
        """The whole object when it is small enough to cache (from memory if cached); else None."""
        if info.size == 0 or info.size > self._cache.max_item_bytes:
            return None
        entry = self._cache.get(info.key)
        if entry is not None and entry.body is not None and entry.info.etag == info.etag:
            return entry.info, entry.body
        try:
            fresh, body = await self.store.get_bytes(info.key, max_bytes=self._cache.max_item_bytes)
        except SourceTooLarge:  # replaced by a bigger object since the HEAD: stream it instead
            return None
        self._cache.put_body(fresh, body)
        return fresh, body

    def forget(self, key: str) -> None:
        """An object changed or went away: forget everything of its file."""
        try:
            file_id = file_id_of(key)
        except InvalidKey:
            return
        evicted = self._cache.evict_file(file_id)
        if evicted:
            log.debug("cache entries evicted", key=key, count=evicted)
