"""The gateway's typed settings; only ``__main__`` builds them from the environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from services.gateway.catalog.config import CatalogConfig
from shared.cors import Origins
from shared.settings import DEV_JWT_SECRET, ServiceSettings, WidthsMixin, parse_str_list

MIN_PRODUCTION_SECRET_BYTES = 32
# The headers Webiny's admin app sends to its API (authorization, the tenant and locale, Apollo's),
# as Webiny's own API allows them (api-security's secureHeaders), and our correlation id.
ADMIN_APP_HEADERS = (
    "accept",
    "authorization",
    "cache-control",
    "content-type",
    "x-i18n-locale",
    "x-tenant",
    "x-apollo-tracing",
    "apollo-query-plan-experimental",
    "x-correlation-id",
)


# The catalog's fields (DATABASE_URL, pools, expiry, sniffing) live in CatalogConfig, owned by the
# catalog engineer; add gateway fields here, catalog fields there.
class GatewaySettings(ServiceSettings, CatalogConfig, WidthsMixin):  # widths: for the page
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: int = Field(default=30, ge=0, le=600)

    upload_min_size: int = Field(default=1, ge=1)
    upload_max_size: int = Field(default=1024**3, ge=1)
    allowed_types: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*/*"])
    # A POST form can be posted again as long as it is valid (S3 cannot say "once"): keep it short.
    presign_expires: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    multipart_expires: int = Field(default=6 * 3600, ge=1, le=7 * 24 * 3600)  # part URLs of a multipart upload
    settings_cache_ttl: float = Field(default=2.0, ge=0)  # seconds another replica's updateSettings may take
    download_base_url: str = "http://127.0.0.1:8001"
    # The work one HTTP request may cause across its batch and aliases (services/gateway/budget.py)
    max_operations_per_request: int = Field(default=100, ge=1)
    max_uploads_per_request: int = Field(default=20, ge=1)  # payloads issued: POST forms, multipart uploads
    max_lists_per_request: int = Field(default=10, ge=1)  # listFiles, listTags, listTagsWithCount
    max_pending_uploads_per_user: int = Field(default=200, ge=1)  # issued and not yet uploaded, per token sub

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_size: int = Field(default=50, ge=1)
    max_query_depth: int = Field(default=10, ge=2)
    max_query_fields: int = Field(default=500, ge=10)
    max_query_aliases: int = Field(default=30, ge=0)
    # Browsers' origins: listed ones get credentialed CORS; "*" any origin, never with credentials.
    cors_allow_origins: Origins = Field(default_factory=lambda: ["*"])
    # Request headers a preflight allows: what Webiny's admin app sends (its API's own list), and ours.
    cors_allow_headers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(ADMIN_APP_HEADERS))

    @field_validator("allowed_types", "cors_allow_headers", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return parse_str_list(value)

    @field_validator("jwt_jwks_url", "jwt_audience", "jwt_issuer", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("download_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> GatewaySettings:
        if self.upload_min_size > self.upload_max_size:
            raise ValueError("UPLOAD_MIN_SIZE must not exceed UPLOAD_MAX_SIZE")
        if not self.allowed_types:
            raise ValueError("ALLOWED_TYPES must list at least one pattern (e.g. */*)")
        if self.jwt_jwks_url is None and not self.dev_mode:
            secret = self.jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET:
                raise ValueError(
                    "JWT_SECRET is the public dev secret; set JWT_SECRET (or JWT_JWKS_URL), "
                    "or DEV_MODE=true for local development"
                )
            if len(secret.encode()) < MIN_PRODUCTION_SECRET_BYTES:
                raise ValueError(f"JWT_SECRET must be at least {MIN_PRODUCTION_SECRET_BYTES} bytes")
        return self
