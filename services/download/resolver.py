"""Which object answers ``GET /files/{key}?width=N``: the original, or a (possibly new) variant.

Steps, cheapest first:
1. no ``width``, or a key that is not an original: the key itself;
2. a variant for the format the file name suggests already exists: serve it (one HEAD);
3. HEAD the original (404 if missing); a type that is not resized (GIF, SVG, PDF...): serve it;
4. a variant for the original's real type already exists: serve it;
5. ask a resize worker for it, then serve what it stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.download.formats import format_from_name, resize_format
from services.download.resizer import ResizeCoordinator
from shared.errors import NotFound
from shared.geometry import parse_width, snap_width
from shared.keys import InvalidKey, parse_original_key, variant_key
from shared.messages import EXTENSIONS, ResizeRequest
from shared.s3 import ObjectInfo, ObjectStore


class VariantResolver:
    def __init__(self, store: ObjectStore, resizer: ResizeCoordinator, widths: Sequence[int]) -> None:
        self._store = store
        self._resizer = resizer
        self._widths = tuple(sorted(set(widths)))

    async def resolve(self, key: str, width: str | None, *, correlation_id: str | None) -> ObjectInfo:
        """The object to serve; raises NotFound, InvalidWidth or the resize worker's error."""
        if width is None:
            return await self._require(key)
        snapped = snap_width(parse_width(width), self._widths)
        try:
            original = parse_original_key(key)
        except InvalidKey:
            return await self._require(key)

        guess = format_from_name(original.name)
        if guess is not None:
            found = await self._store.head(str(variant_key(original, snapped, EXTENSIONS[guess])))
            if found is not None:
                return found

        source = await self._require(key)
        fmt = resize_format(source.content_type)
        if fmt is None:
            return source
        wanted = str(variant_key(original, snapped, EXTENSIONS[fmt]))
        if fmt != guess:
            found = await self._store.head(wanted)
            if found is not None:
                return found

        request = ResizeRequest(key=key, width=snapped, format=fmt)
        await self._resizer.resize(request, variant_key=wanted, correlation_id=correlation_id)
        return await self._require(wanted)

    async def _require(self, key: str) -> ObjectInfo:
        info = await self._store.head(key)
        if info is None:
            raise NotFound(f"{key} was not found.")
        return info
