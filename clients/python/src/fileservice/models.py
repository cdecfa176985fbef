"""What the API answers, as typed, immutable values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class File:
    """A file record (GraphQL ``File``); ``src`` is its public download URL."""

    id: str
    key: str
    name: str
    size: int | None
    type: str | None
    src: str
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] | None = None
    created_on: str | None = None
    created_by: str | None = None

    @classmethod
    def from_graphql(cls, raw: Mapping[str, Any]) -> File:
        creator = raw.get("createdBy") or {}
        return cls(
            id=str(raw["id"]),
            key=str(raw["key"]),
            name=str(raw["name"]),
            size=raw.get("size"),
            type=raw.get("type"),
            src=str(raw["src"]),
            tags=tuple(raw.get("tags") or ()),
            meta=raw.get("meta"),
            created_on=raw.get("createdOn"),
            created_by=creator.get("id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "size": self.size,
            "type": self.type,
            "src": self.src,
            "tags": list(self.tags),
            "meta": self.meta,
            "createdOn": self.created_on,
            "createdBy": self.created_by,
        }


@dataclass(frozen=True)
class Page:
    """One page of ``listFiles``: its files and the cursor of the next page (None: the last)."""

    files: tuple[File, ...]
    cursor: str | None
    total_count: int | None
    has_more: bool

    def __iter__(self) -> Iterator[File]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class Settings:
    """``getSettings``: the limits an upload is checked against, and what every ``src`` starts with."""

    upload_min_file_size: int
    upload_max_file_size: int
    src_prefix: str
    allowed_types: tuple[str, ...] = field(default=("*/*",))

    @classmethod
    def from_graphql(cls, raw: Mapping[str, Any]) -> Settings:
        return cls(
            upload_min_file_size=int(raw.get("uploadMinFileSize") or 0),
            upload_max_file_size=int(raw.get("uploadMaxFileSize") or 0),
            src_prefix=str(raw.get("srcPrefix") or ""),
            allowed_types=tuple(raw.get("allowedTypes") or ("*/*",)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "uploadMinFileSize": self.upload_min_file_size,
            "uploadMaxFileSize": self.upload_max_file_size,
            "srcPrefix": self.src_prefix,
            "allowedTypes": list(self.allowed_types),
        }
