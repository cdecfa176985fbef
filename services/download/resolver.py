"""Which object answers ``GET /files/{key}?width=N[&format=F]``: the original, or a (possibly new) variant.

Steps, cheapest first:
1. neither ``width`` nor ``format``, or a key that is not an original: the key itself;
2. the variant for the wanted format (``?format=``, else the one negotiated from ``Accept``, else
   the one the file name suggests) already exists: serve it (one HEAD);
3. none, and the original is not in the cache: ask a resize worker for that variant at once. The
   worker reads the original anyway, so it answers what a HEAD of it would have told: NOT_FOUND,
   ``NOT_RESIZED`` for a type without variants (then the original is served as it is), or the
   variant in the original's own format when the name's guess was wrong;
4. otherwise HEAD the original (404 if missing); a type that is not resized (GIF, SVG, PDF...):
   serve it as it is, whatever width or format was asked for (never rasterised);
5. a variant for the wanted format (or the original's real type) already exists: serve it;
6. ask a resize worker for it.

A new variant comes back in the worker's reply when it is small (``inline_max``): it is served
and cached from there, not read back from S3. So a first request for a new width costs S3 three
operations: the HEAD of step 2 here, and the worker's GET of the original and PUT of the variant.

``?format=`` without ``?width=`` converts at the largest allowed width (never upscaling).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.download.formats import format_from_name, resize_format
from services.download.negotiation import negotiated_format, requested_format
from services.download.objects import CachedObjects
from services.download.resizer import ResizeCoordinator
from shared.errors import NotFound, ServiceError
from shared.geometry import parse_width, snap_width
from shared.keys import InvalidKey, parse_original_key, variant_key
from shared.messages import EXTENSIONS, ResizeReply, ResizeRequest
from shared.s3 import ObjectInfo

# How long a request for a variant of an unchecked original waits for the worker before it HEADs
# the original itself (a resize takes tens of milliseconds; the RPC timeout is seconds).
GRACE = 1.0
_UNKNOWN = ObjectInfo(key="", size=0, etag="", content_type="", last_modified=datetime.fromtimestamp(0, UTC))


@dataclass(frozen=True)
class Resolved:
    info: ObjectInfo
    # True when the Accept header chose (or could have chosen) the format: the response varies on it.
    varies_on_accept: bool = False
    body: bytes | None = field(default=None, repr=False)  # the object's bytes, when in hand already


class VariantResolver:
    def __init__(
        self,
        objects: CachedObjects,
        resizer: ResizeCoordinator,
        widths: Sequence[int],
        *,
        negotiate: bool = False,
        inline_max: int = 0,
        grace: float = GRACE,
    ) -> None:
        self._objects = objects
        self._inline_max = inline_max
        self._grace = grace
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
            guessed = str(variant_key(original, snapped, EXTENSIONS[guess]))
            found = await self._objects.head(guessed)
            if found is not None:
                return Resolved(found, varies)
            if self._objects.known(key) is None:
                request = ResizeRequest(
                    key=key,
                    width=snapped,
                    format=guess,
                    inline_max=self._inline_max,
                    variant_absent=True,
                    source_unchecked=True,
                    format_guessed=preferred is None,
                )
                return await self._ask_unchecked(request, guessed, varies, correlation_id)

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

        request = ResizeRequest(key=key, width=snapped, format=fmt, inline_max=self._inline_max, variant_absent=True)
        reply = await self._resizer.resize(request, variant_key=wanted, correlation_id=correlation_id)
        made = await self._from_reply(reply, wanted, varies)
        if made is None:  # the original changed type since it was cached: serve it as it is now
            return Resolved(await self._require(key))
        return made

    async def _ask_unchecked(
        self, request: ResizeRequest, wanted: str, varies: bool, correlation_id: str | None
    ) -> Resolved:
        """Ask a worker for a variant of an original this service has not looked at. The worker's
        answer says what a HEAD of the original would have; but when no answer comes within the
        grace period (the workers are busy or down), a HEAD of the original tells at once whether
        there is anything to wait for (a missing original is 404, an original without variants is
        served as it is), while the request goes on."""
        asking = asyncio.ensure_future(self._resizer.resize(request, variant_key=wanted, correlation_id=correlation_id))
        done, _ = await asyncio.wait({asking}, timeout=self._grace)
        if not done:
            try:
                source = await self._objects.head(request.key)
            except ServiceError:  # S3 cannot tell either: wait for the worker
                source = _UNKNOWN
            if source is None or (source is not _UNKNOWN and resize_format(source.content_type) is None):
                asking.cancel()  # this request stops waiting; the RPC goes on for any other
                if source is None:
                    raise NotFound(f"{request.key} was not found.")
                return Resolved(source)
        made = await self._from_reply(await asking, wanted, varies)
        return made if made is not None else Resolved(await self._require(request.key))

    async def _from_reply(self, reply: ResizeReply | None, wanted: str, varies: bool) -> Resolved | None:
        """What a worker made: from the reply's bytes, else read from S3; None when the original
        has no variants (NOT_RESIZED)."""
        if reply is None:
            return None
        key = reply.variant_key or wanted
        if reply.body is not None and reply.etag:
            info = ObjectInfo(
                key=key,
                size=len(reply.body),
                etag=reply.etag,
                content_type=reply.content_type or "application/octet-stream",
                last_modified=datetime.fromtimestamp(int(time.time()), UTC),  # S3's within a second
            )
            self._objects.remember(info, reply.body)
            return Resolved(info, varies, body=reply.body)
        made = await self._objects.fetch(key)
        if made is None:
            raise NotFound(f"{key} was not found.")
        return Resolved(made, varies)

    async def _require(self, key: str) -> ObjectInfo:
        info = await self._objects.head(key)
        if info is None:
            raise NotFound(f"{key} was not found.")
        return info
