"""What a download URL names, and which originals can have resized variants: pure."""

from __future__ import annotations

import re

from shared.errors import NotFound
from shared.messages import EXTENSIONS, variant_format

_FORMAT_BY_EXTENSION: dict[str, str] = {
    **{ext: fmt for fmt, ext in EXTENSIONS.items()},
    **{fmt: fmt for fmt in EXTENSIONS},
    "jpe": "jpeg",
}


def resize_format(content_type: str) -> str | None:
    """The variant format for an original of this type, or None when it is not resized."""
    return variant_format(content_type)


def format_from_name(name: str) -> str | None:
    """A guess of the variant format from the file name, to look for an existing variant first."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None
    return _FORMAT_BY_EXTENSION.get(ext.lower())


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def checked_key(raw: str) -> str:
    """The object key named by the (already URL-decoded) path; NotFound for keys we never serve."""
    if not raw or raw.startswith("/"):
        raise NotFound("Not found.")
    segments = raw.split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        raise NotFound("Not found.")
    if _CONTROL.search(raw):
        raise NotFound("Not found.")
    return raw
