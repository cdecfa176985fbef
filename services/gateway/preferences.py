"""The File Manager's preferences (GraphQL ``getSettings`` / ``updateSettings``): validation, shape,
and a short cache. Named apart from the services' settings, which are environment configuration
read once at start; these are data an administrator edits at run time (the database table is
still called ``settings``, as is the GraphQL API).

The preferences live in the catalog (so that every replica agrees); pre-sign checks use them. Reads
go through ``PreferencesCache``, which keeps them for ``ttl`` seconds: an update made on this replica
is seen at once, one made on another replica within ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from services.gateway.catalog.model import Catalog, PreferenceChanges, Preferences
from services.gateway.listing import type_patterns
from services.gateway.uploads import UploadPolicy
from shared.errors import ValidationFailed

MAX_OBJECT_SIZE = 5 * 1024**4  # S3's limit for one object
MAX_ALLOWED_TYPES = 100
MAX_SRC_PREFIX_LENGTH = 500


def preferences_to_graphql(preferences: Preferences) -> dict[str, Any]:
    return {
        "uploadMinFileSize": preferences.upload_min_file_size,
        "uploadMaxFileSize": preferences.upload_max_file_size,
        "srcPrefix": preferences.src_prefix,
        "allowedTypes": list(preferences.allowed_types),
    }


def upload_policy(preferences: Preferences) -> UploadPolicy:
    return UploadPolicy(
        min_size=preferences.upload_min_file_size,
        max_size=preferences.upload_max_file_size,
        allowed_types=preferences.allowed_types,
    )


def preference_changes(raw: Mapping[str, Any] | None, current: Preferences) -> PreferenceChanges:
    """Check updateSettings' input against itself and the current values; ValidationFailed lists
    every field that is wrong (``invalidFields``)."""
    raw = raw or {}
    problems: dict[str, dict[str, Any]] = {}
    low = raw.get("uploadMinFileSize")
    high = raw.get("uploadMaxFileSize")
    if low is not None and not 0 <= low <= MAX_OBJECT_SIZE:
        problems["uploadMinFileSize"] = _problem("OUT_OF_RANGE", f"Must be between 0 and {MAX_OBJECT_SIZE}.")
    if high is not None and not 1 <= high <= MAX_OBJECT_SIZE:
        problems["uploadMaxFileSize"] = _problem("OUT_OF_RANGE", f"Must be between 1 and {MAX_OBJECT_SIZE}.")
    if not problems:
        new_low = current.upload_min_file_size if low is None else low
        new_high = current.upload_max_file_size if high is None else high
        if new_low > new_high:
            problems["uploadMinFileSize"] = _problem(
                "GREATER_THAN_MAX", f"uploadMinFileSize ({new_low}) must not exceed uploadMaxFileSize ({new_high})."
            )
    prefix = raw.get("srcPrefix")
    if prefix is not None:
        prefix = prefix.strip()
        parts = urlsplit(prefix)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(prefix) > MAX_SRC_PREFIX_LENGTH:
            problems["srcPrefix"] = _problem("INVALID", "srcPrefix must be an absolute http(s) URL.")
        elif not prefix.endswith("/"):
            prefix += "/"
    types: tuple[str, ...] | None = None
    if raw.get("allowedTypes") is not None:
        try:
            types = type_patterns(raw["allowedTypes"], "allowedTypes")
        except ValidationFailed as exc:
            problems.update((exc.data or {}).get("invalidFields", {}))
        else:
            if not types or len(types) > MAX_ALLOWED_TYPES:
                problems["allowedTypes"] = _problem(
                    "INVALID", f"allowedTypes must list 1 to {MAX_ALLOWED_TYPES} patterns (*/* allows everything)."
                )
    if problems:
        raise ValidationFailed(" ".join(p["message"] for p in problems.values()), data={"invalidFields": problems})
    return PreferenceChanges(
        upload_min_file_size=low,
        upload_max_file_size=high,
        src_prefix=prefix,
        allowed_types=types,
    )


class PreferencesCache:
    def __init__(self, catalog: Catalog, *, ttl: float = 2.0) -> None:
        self._catalog = catalog
        self._ttl = ttl
        self._value: Preferences | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> Preferences:
        if self._value is not None and time.monotonic() - self._read_at < self._ttl:
            return self._value
        async with self._lock:
            if self._value is None or time.monotonic() - self._read_at >= self._ttl:
                self._value = await self._catalog.get_preferences()
                self._read_at = time.monotonic()
            return self._value

    async def update(self, raw: Mapping[str, Any] | None) -> Preferences:
        current = await self._catalog.get_preferences()
        changes = preference_changes(raw, current)
        async with self._lock:
            self._value = await self._catalog.update_preferences(changes)
            self._read_at = time.monotonic()
            return self._value


def _problem(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "data": None}
