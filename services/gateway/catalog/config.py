"""The catalog's settings, a mixin of ``GatewaySettings`` (and of the migrate command's settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.content_check import HEAD_BYTES

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/files"


class CatalogConfig(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    database_pool_min: int = Field(default=1, ge=0)
    database_pool_max: int = Field(default=10, ge=1)
    database_timeout: float = Field(default=5.0, gt=0)  # connect and per-statement, seconds
    database_migrate_on_start: bool = True  # apply missing migrations when the gateway starts
    # A pending record whose upload never came is dropped this long after its payload expired.
    pending_expiry_margin: int = Field(default=300, ge=0)
    expiry_interval: float = Field(default=60.0, ge=0)  # seconds between expiry runs; 0 = never
    rejected_retention: int = Field(default=7 * 24 * 3600, ge=0)  # rejected records are kept this long
    deleted_key_retention: int = Field(default=30 * 24 * 3600, ge=0)  # deleted keys are remembered this long
    list_count_limit: int = Field(default=10_000, ge=1)  # listFiles' totalCount counts up to this
    sniff_bytes: int = Field(default=HEAD_BYTES, ge=64, le=1024 * 1024)  # read this much to check the type

    @model_validator(mode="after")
    def _pool(self) -> CatalogConfig:
        if self.database_pool_min > self.database_pool_max:
            raise ValueError("DATABASE_POOL_MIN must not exceed DATABASE_POOL_MAX")
        return self
