"""The download service's settings, read once from the environment by the entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.cors import Origins
from shared.settings import ResizeQueueMixin, ServiceSettings, WidthsMixin

MAX_PRESIGNED_LIFETIME = 7 * 24 * 3600  # the longest a SigV4 pre-signed URL may live


class DownloadSettings(ServiceSettings, WidthsMixin, ResizeQueueMixin):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    port: int = Field(default=8001, ge=0, le=65535)
    # Objects bigger than this are not streamed through the service: 302 to a pre-signed GET.
    redirect_threshold: int = Field(default=6 * 1024 * 1024, ge=0)
    # Lifetime of those pre-signed URLs, in seconds.
    presigned_get_expires: int = Field(default=3600, ge=2, le=MAX_PRESIGNED_LIFETIME)
    # How long a request waits for the resize worker before answering 503 + Retry-After.
    resize_timeout: float = Field(default=20.0, gt=0, le=300)
    # Pick AVIF, then WebP, for ?width= requests whose Accept header names them (Vary: Accept).
    negotiate_formats: bool = False
    # In-process cache of object metadata and small objects' bytes (0 turns it off); entries are
    # evicted on object.created/object.removed events and expire after cache_ttl seconds anyway.
    cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    cache_item_bytes: int = Field(default=512 * 1024, ge=0)
    cache_ttl: float = Field(default=60.0, gt=0, le=86400)
    # Browsers' origins whose scripts may read files (never with credentials: downloads are public
    # and read no cookie); "*" any origin. Its own name: the gateway's CORS_ALLOW_ORIGINS is another.
    download_cors_allow_origins: Origins = Field(default_factory=lambda: ["*"])

    @property
    def redirect_max_age(self) -> int:
        """How long a cache may keep a redirect: half the URL's lifetime, so it never serves a dead URL."""
        return self.presigned_get_expires // 2
