"""Resize request and reply: the RPC between the download service and the resize workers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

FORMATS: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
EXTENSIONS: dict[str, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# The originals that get resized variants, by content type, and the variants' format (the same).
# Anything else (GIF, SVG, PDF, ...) is served as it is, whatever width is asked for.
_FORMAT_OF_TYPE: dict[str, str] = {
    **{content_type: fmt for fmt, content_type in FORMATS.items()},
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
}


def media_type(content_type: str) -> str:
    """``Image/JPEG; charset=x`` -> ``image/jpeg``."""
    return content_type.split(";", 1)[0].strip().lower()


def variant_format(content_type: str | None) -> str | None:
    """The format of the variants of an original of this type, or None when it is not resized."""
    return _FORMAT_OF_TYPE.get(media_type(content_type)) if content_type else None


# AMQP header of a resize request: the caller's wall-clock send time (integer microseconds since
# the epoch: AMQP floats are 32-bit); the worker reports the queueing time from it. Optional.
SENT_AT_HEADER = "x-sent-at"


# The most bytes of a variant a reply may carry: far below the broker's message size limit (16 MiB
# by default on RabbitMQ 4, 128 MiB on 3.x), and what a caller holds in memory per request.
MAX_INLINE = 4 * 1024 * 1024
_REQUIRED = frozenset({"key", "width", "format"})
# The error code a worker answers a ``source_unchecked`` request with for an original of a type
# that has no variants: not an error for the caller, who serves the original as it is.
NOT_RESIZED = "NOT_RESIZED"


class MalformedMessage(ValueError):
    """A message that cannot be a resize request or reply: dead-lettered, never retried."""


@dataclass(frozen=True)
class ResizeRequest:
    """``{"key", "width", "format"}``, and optional fields a caller adds to spare S3 round trips
    (sent only when set; a worker that does not know them ignores them, and then does all its checks):

    - ``inline_max``: put the variant's bytes in the reply when it has at most this many
      (``ResizeReply.to_wire``), so the caller need not read back from S3 what was just written;
    - ``variant_absent``: the caller found no object at this variant's key a moment ago, so a
      first attempt need not ask S3 again (a retry still does: an earlier attempt may have stored it);
    - ``source_unchecked``: the caller has not looked at the original: an original that has no
      variants (a GIF, a PDF) is answered ``NOT_RESIZED``, for the caller to serve it as it is;
    - ``format_guessed`` (with ``source_unchecked``): ``format`` is a guess from the file name; the
      variant takes the original's own format, and the reply names the key it was stored under.
    """

    key: str
    width: int
    format: str
    inline_max: int = 0
    variant_absent: bool = False
    source_unchecked: bool = False
    format_guessed: bool = False

    def to_json(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v or k in _REQUIRED}
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> ResizeRequest:
        raw = _load(body)
        key, width, fmt = raw.get("key"), raw.get("width"), raw.get("format")
        if not isinstance(key, str) or not key:
            raise MalformedMessage("key must be a non-empty string")
        if isinstance(width, bool) or not isinstance(width, int) or not 0 < width <= 100_000:
            raise MalformedMessage("width must be a positive integer")
        if fmt not in FORMATS:
            raise MalformedMessage(f"format must be one of {sorted(FORMATS)}")
        inline_max = raw.get("inline_max", 0)
        if isinstance(inline_max, bool) or not isinstance(inline_max, int) or not 0 <= inline_max <= MAX_INLINE:
            raise MalformedMessage(f"inline_max must be an integer from 0 to {MAX_INLINE}")
        flags = {name: raw.get(name, False) for name in ("variant_absent", "source_unchecked", "format_guessed")}
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise MalformedMessage(f"{name} must be true or false")
        return cls(key=key, width=width, format=fmt, inline_max=inline_max, **flags)


@dataclass(frozen=True)
class ResizeReply:
    """``ok`` (the variant's key, type, size and, from newer workers, ``etag``) or ``error`` (a
    stable code and a message).

    On the wire (``to_wire``/``from_wire``): the JSON object, and when ``body`` is set (the caller
    asked for it with ``inline_max``), a newline and the variant's bytes after it (compact JSON
    holds no raw newline). Without a body the wire form is the JSON alone, as older callers read it.
    """

    status: str
    variant_key: str | None = None
    content_type: str | None = None
    size: int | None = None
    code: str | None = None
    message: str | None = None
    etag: str | None = None
    body: bytes | None = field(default=None, repr=False)

    @classmethod
    def ok(
        cls,
        variant_key: str,
        content_type: str,
        size: int,
        *,
        etag: str | None = None,
        body: bytes | None = None,
    ) -> ResizeReply:
        return cls(
            status="ok",
            variant_key=variant_key,
            content_type=content_type,
            size=size,
            etag=etag,
            body=body,
        )

    @classmethod
    def error(cls, code: str, message: str) -> ResizeReply:
        return cls(status="error", code=code, message=message)

    def to_json(self) -> bytes:
        fields = {k: v for k, v in asdict(self).items() if v is not None and k != "body"}
        if self.body is not None:
            fields["inline"] = True
        return json.dumps(fields, separators=(",", ":")).encode()

    def to_wire(self) -> bytes:
        head = self.to_json()
        return head if self.body is None else head + b"\n" + self.body

    @classmethod
    def from_wire(cls, wire: bytes) -> ResizeReply:
        head, newline, body = wire.partition(b"\n")
        reply = cls.from_json(head)
        if not newline:
            return reply
        if reply.status != "ok" or reply.size != len(body):
            raise MalformedMessage("a reply's inline bytes must be an ok variant's, all of them")
        return replace(reply, body=body)

    @classmethod
    def from_json(cls, body: bytes) -> ResizeReply:
        raw = _load(body)
        status = raw.get("status")
        if status == "ok":
            size = raw.get("size", 0)
            if not isinstance(raw.get("variant_key"), str):
                raise MalformedMessage("ok reply without variant_key")
            if isinstance(size, bool) or not isinstance(size, int):
                raise MalformedMessage("ok reply with a size that is not an integer")
            etag = raw.get("etag")
            if etag is not None and not isinstance(etag, str):
                raise MalformedMessage("ok reply with an etag that is not a string")
            return cls.ok(raw["variant_key"], str(raw.get("content_type", "")), size, etag=etag)
        if status == "error":
            return cls.error(str(raw.get("code", "INTERNAL")), str(raw.get("message", "")))
        raise MalformedMessage(f"unknown reply status {status!r}")


def _load(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MalformedMessage("message is not a JSON object")
    return raw
