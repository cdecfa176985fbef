"""Typed settings read once from the environment at start.

Each service subclasses ``CommonSettings`` in its own ``settings.py`` and builds everything from
one instance; nothing else in the project reads the environment.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.geometry import DEFAULT_WIDTHS

DEV_JWT_SECRET = "dev-secret"


def parse_str_list(value: object) -> object:
    """Accept ``a,b,c`` or a JSON-style list ``["a", "b"]`` in the environment."""
    if isinstance(value, str):
        text = value.strip().lstrip("[").rstrip("]")
        return [part.strip().strip('"') for part in text.split(",") if part.strip()]
    return value


def parse_int_list(value: object) -> object:
    """Accept ``100,300,500`` or ``[100, 300, 500]`` in the environment."""
    parts = parse_str_list(value)
    return [int(part) for part in parts] if isinstance(parts, list) else parts


class CommonSettings(BaseSettings):
    """What every service needs: identity, logging, the broker and the object store."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    dev_mode: bool = False
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    amqp_prefetch: int = Field(default=8, ge=1)
    retry_delay_initial: float = Field(default=0.5, ge=0)  # transient failures wait this, doubling
    retry_delay_max: float = Field(default=10.0, ge=0)  # per delivery up to this, before a requeue

    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr = SecretStr("dev")
    s3_secret_key: SecretStr = SecretStr("devsecret")
    s3_bucket: str = "files"
    s3_max_pool_connections: int = Field(default=32, ge=1)


class HttpSettings(BaseSettings):
    """Where an HTTP service (or a worker's side port) listens."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class ServiceSettings(CommonSettings, HttpSettings):
    """The base of every service's settings class (``services/<name>/settings.py``)."""


class WidthsMixin(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    image_widths: Annotated[list[int], NoDecode] = Field(default_factory=lambda: list(DEFAULT_WIDTHS))

    @field_validator("image_widths", mode="before")
    @classmethod
    def _widths(cls, value: object) -> object:
        return parse_int_list(value)

    @model_validator(mode="after")
    def _positive(self) -> WidthsMixin:
        if not self.image_widths or any(w <= 0 for w in self.image_widths):
            raise ValueError("IMAGE_WIDTHS must list positive widths")
        return self


class ResizeQueueMixin(BaseSettings):
    """The bound of ``resize.requests``: every service that declares the queue (download, resize)
    must declare it alike, so both read the same setting."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Requests waiting for a resize worker at most; beyond it the download service answers 503
    # RESIZE_BUSY at once. Changing it on a running broker takes a policy (docs/deploy.md).
    resize_queue_max_length: int = Field(default=1000, ge=1, le=10_000_000)
