"""Resize request and reply: the RPC between the download service and the resize workers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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


class MalformedMessage(ValueError):
    """A message that cannot be a resize request or reply: dead-lettered, never retried."""


@dataclass(frozen=True)
class ResizeRequest:
    key: str
    width: int
    format: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

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
        return cls(key=key, width=width, format=fmt)


@dataclass(frozen=True)
class ResizeReply:
    status: str
    variant_key: str | None = None
    content_type: str | None = None
    size: int | None = None
    code: str | None = None
    message: str | None = None

    @classmethod
    def ok(cls, variant_key: str, content_type: str, size: int) -> ResizeReply:
        return cls(status="ok", variant_key=variant_key, content_type=content_type, size=size)

    @classmethod
    def error(cls, code: str, message: str) -> ResizeReply:
        return cls(status="error", code=code, message=message)

    def to_json(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(body, separators=(",", ":")).encode()

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
            return cls.ok(raw["variant_key"], str(raw.get("content_type", "")), size)
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
