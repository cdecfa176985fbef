"""Which object answers ``GET /files/{key}?width=N[&format=F]``: the original, or a (possibly new) variant.

Steps, cheapest first:
1. neither ``width`` nor ``format``, or a key that is not an original: the key itself;
2. the variant for the wanted format (``?format=``, else the one negotiated from ``Accept``, else
   the one the file name suggests) already exists: serve it (one HEAD);
3. HEAD the original (404 if missing); a type that is not resized (GIF, SVG, PDF...): serve it
   as it is, whatever width or format was asked for (never rasterised);
4. a variant for the wanted format (or the original's real type) already exists: serve it;
5. ask a resize worker for it, then serve what it stored.

``?format=`` without ``?width=`` converts at the largest allowed width (never upscaling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.download.formats import format_from_name, resize_format
from services.download.negotiation import negotiated_format, requested_format
from services.download.objects import CachedObjects
from services.download.resizer import ResizeCoordinator
from shared.errors import NotFound
from shared.geometry import parse_width, snap_width
from shared.keys import InvalidKey, parse_original_key, variant_key
from shared.messages import EXTENSIONS, ResizeRequest
from shared.s3 import ObjectInfo


@dataclass(frozen=True)
class Resolved:
    info: ObjectInfo
    # True when the Accept header chose (or could have chosen) the format: the response varies on it.
    varies_on_accept: bool = False


class VariantResolver:
    def __init__(
        self,
        objects: CachedObjects,
        resizer: ResizeCoordinator,
        widths: Sequence[int],
        *,
        negotiate: bool = False,
    ) -> None:
        self._objects = objects
        self._resizer = resizer
        self._widths = tuple(sorted(set(widths)))
        self._negotiate = negotiate

    async def resolve(
        self,
        key: str,
        width: str | None,
        *,
        correlation_id: str | None,
        format_param: str | None = None,
        accept: str | None = None,
    ) -> Resolved:
        """The object to serve; raises NotFound, InvalidWidth, InvalidFormat or the resize worker's error."""
        explicit = requested_format(format_param)
        if width is None and explicit is None:
            return Resolved(await self._require(key))
        snapped = snap_width(parse_width(width), self._widths) if width is not None else self._widths[-1]
        try:
            original = parse_original_key(key)
        except InvalidKey:
            return Resolved(await self._require(key))

        varies = self._negotiate and explicit is None
        preferred = explicit or (negotiated_format(accept) if varies else None)
        guess = preferred or format_from_name(original.name)
        if guess is not None:
            found = await self._objects.head(str(variant_key(original, snapped, EXTENSIONS[guess])))
            if found is not None:
                return Resolved(found, varies)

        source = await self._require(key)
        source_fmt = resize_format(source.content_type)
        if source_fmt is None:
            return Resolved(source)
        fmt = preferred or source_fmt
        wanted = str(variant_key(original, snapped, EXTENSIONS[fmt]))
        if fmt != guess:
            found = await self._objects.head(wanted)
            if found is not None:
                return Resolved(found, varies)

        request = ResizeRequest(key=key, width=snapped, format=fmt)
        await self._resizer.resize(request, variant_key=wanted, correlation_id=correlation_id)
        made = await self._objects.fetch(wanted)
        if made is None:
            raise NotFound(f"{wanted} was not found.")
        return Resolved(made, varies)

    async def _require(self, key: str) -> ObjectInfo:
        info = await self._objects.head(key)
        if info is None:
            raise NotFound(f"{key} was not found.")
        return info
