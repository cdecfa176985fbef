"""The object key layout: originals at ``{id}/{name}``, variants under ``variants/{id}/``.

Pure functions only; every service that makes or reads a key goes through here.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass

VARIANTS_PREFIX = "variants/"
MAX_NAME_LENGTH = 200
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")
_SPACES_RE = re.compile(r"[ \t\n\r\f\v]+")


class InvalidKey(ValueError):
    """A key that is not in our layout."""


@dataclass(frozen=True)
class OriginalKey:
    file_id: str
    name: str

    def __str__(self) -> str:
        return f"{self.file_id}/{self.name}"


@dataclass(frozen=True)
class VariantKey:
    file_id: str
    name: str
    width: int
    ext: str

    def __str__(self) -> str:
        return f"{VARIANTS_PREFIX}{self.file_id}/{self.name}/w{self.width}.{self.ext}"


def new_file_id() -> str:
    """A new unique file id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def is_file_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def safe_name(name: str) -> str:
    """Make a client's file name safe for a key: no path, no control characters, capped length."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _SPACES_RE.sub(" ", name)  # tabs and newlines become spaces before controls go
    name = _UNSAFE_RE.sub("", name).strip().lstrip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_NAME_LENGTH].rstrip()
    return name or "file"


def original_key(file_id: str, name: str) -> OriginalKey:
    return OriginalKey(file_id, safe_name(name))


def is_variant_key(key: str) -> bool:
    return key.startswith(VARIANTS_PREFIX)


def parse_original_key(key: str) -> OriginalKey:
    """Split ``{id}/{name}``; raises InvalidKey for anything else (variants included)."""
    file_id, sep, name = key.partition("/")
    if not sep or not is_file_id(file_id) or not name or "/" in name:
        raise InvalidKey(f"not an original key: {key!r}")
    return OriginalKey(file_id, name)


def variant_key(original: OriginalKey, width: int, ext: str) -> VariantKey:
    return VariantKey(original.file_id, original.name, width, ext)


def variant_prefix(file_id: str) -> str:
    """Everything derived from one original lives under this prefix."""
    if not is_file_id(file_id):
        raise InvalidKey(f"not a file id: {file_id!r}")
    return f"{VARIANTS_PREFIX}{file_id}/"


def file_id_of(key: str) -> str:
    """The file id of an original or a variant key."""
    if is_variant_key(key):
        file_id = key[len(VARIANTS_PREFIX) :].split("/", 1)[0]
        if not is_file_id(file_id):
            raise InvalidKey(f"not a variant key: {key!r}")
        return file_id
    return parse_original_key(key).file_id
