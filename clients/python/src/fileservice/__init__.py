"""Typed client for the file service: ``from fileservice import Client``.

Names are imported on first use, so that ``import fileservice`` (and the ``fileservice`` command's
start-up) does not pay for httpx until a request is made.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fileservice._retry import NO_RETRY, RetryPolicy
    from fileservice.aio import AsyncClient
    from fileservice.client import Client
    from fileservice.errors import (
        BadRequest,
        ConnectionFailed,
        DatabaseUnavailable,
        FileServiceError,
        Forbidden,
        ImageRefused,
        ImageTooComplex,
        InvalidFormat,
        InvalidWidth,
        LimitExceeded,
        NotAnImage,
        NotFound,
        NotSupported,
        PayloadTooLarge,
        QueryRefused,
        RateLimited,
        ResizeBusy,
        ResizeTimeout,
        SourceTooLarge,
        StorageRefused,
        StorageUnavailable,
        TooManyPixels,
        TooManyScans,
        Unauthorized,
        Unavailable,
        ValidationFailed,
    )
    from fileservice.models import File, Page, Settings
    from fileservice.widths import DEFAULT_WIDTHS, snap_width

_WHERE = {
    "Client": "fileservice.client",
    "AsyncClient": "fileservice.aio",
    "RetryPolicy": "fileservice._retry",
    "NO_RETRY": "fileservice._retry",
    "File": "fileservice.models",
    "Page": "fileservice.models",
    "Settings": "fileservice.models",
    "DEFAULT_WIDTHS": "fileservice.widths",
    "snap_width": "fileservice.widths",
}
_WHERE.update(
    dict.fromkeys(
        [
            "BadRequest",
            "ConnectionFailed",
            "DatabaseUnavailable",
            "FileServiceError",
            "Forbidden",
            "ImageRefused",
            "ImageTooComplex",
            "InvalidFormat",
            "InvalidWidth",
            "LimitExceeded",
            "NotAnImage",
            "NotFound",
            "NotSupported",
            "PayloadTooLarge",
            "QueryRefused",
            "RateLimited",
            "ResizeBusy",
            "ResizeTimeout",
            "SourceTooLarge",
            "StorageRefused",
            "StorageUnavailable",
            "TooManyPixels",
            "TooManyScans",
            "Unauthorized",
            "Unavailable",
            "ValidationFailed",
        ],
        "fileservice.errors",
    )
)
__all__ = [
    "DEFAULT_WIDTHS",
    "NO_RETRY",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ConnectionFailed",
    "DatabaseUnavailable",
    "File",
    "FileServiceError",
    "Forbidden",
    "ImageRefused",
    "ImageTooComplex",
    "InvalidFormat",
    "InvalidWidth",
    "LimitExceeded",
    "NotAnImage",
    "NotFound",
    "NotSupported",
    "Page",
    "PayloadTooLarge",
    "QueryRefused",
    "RateLimited",
    "ResizeBusy",
    "ResizeTimeout",
    "RetryPolicy",
    "Settings",
    "SourceTooLarge",
    "StorageRefused",
    "StorageUnavailable",
    "TooManyPixels",
    "TooManyScans",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "snap_width",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'fileservice' has no attribute {name!r}")
    return getattr(import_module(module), name)
