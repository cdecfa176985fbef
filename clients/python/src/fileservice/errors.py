"""Exceptions carrying the service's stable error codes.

The codes are the public contract of the API (GraphQL ``error.code``, the download service's
``{"error": {"code"}}``, HTTP 401/503); this module maps each one to a class of its own so that a
caller can ``except NotFound`` or branch on ``exc.code``. A code the client does not know yet
becomes a plain ``FileServiceError`` with that code.
"""

from __future__ import annotations

from typing import Any


class FileServiceError(Exception):
    """Base of every error the client raises. ``retryable`` follows the service's retry contract."""

    code: str = "INTERNAL"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        data: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.data = data
        self.retry_after = retry_after
        if isinstance(data, dict) and data.get("retryable") is True:
            self.retryable = True

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


class BadRequest(FileServiceError):
    code = "BAD_REQUEST"


class InvalidWidth(BadRequest):
    code = "INVALID_WIDTH"


class InvalidFormat(BadRequest):
    code = "INVALID_FORMAT"


class QueryRefused(BadRequest):
    """The GraphQL request itself was refused (parse, validation or complexity)."""

    code = "GRAPHQL_VALIDATION_FAILED"


class ValidationFailed(FileServiceError):
    code = "VALIDATION_FAILED"


class LimitExceeded(FileServiceError):
    code = "LIMIT_EXCEEDED"


class PayloadTooLarge(FileServiceError):
    code = "PAYLOAD_TOO_LARGE"


class NotSupported(FileServiceError):
    code = "NOT_SUPPORTED"


class Unauthorized(FileServiceError):
    code = "UNAUTHORIZED"


class Forbidden(FileServiceError):
    code = "FORBIDDEN"


class NotFound(FileServiceError):
    code = "NOT_FOUND"


class RangeNotSatisfiable(FileServiceError):
    code = "RANGE_NOT_SATISFIABLE"


class ImageRefused(FileServiceError):
    """The download service will not make a variant of this original (HTTP 422)."""

    code = "NOT_AN_IMAGE"


class NotAnImage(ImageRefused):
    code = "NOT_AN_IMAGE"


class TooManyPixels(ImageRefused):
    code = "TOO_MANY_PIXELS"


class SourceTooLarge(ImageRefused):
    code = "SOURCE_TOO_LARGE"


class TooManyScans(ImageRefused):
    code = "TOO_MANY_SCANS"


class ImageTooComplex(ImageRefused):
    code = "IMAGE_TOO_COMPLEX"


class StorageRefused(FileServiceError):
    """The object store refused an upload request (its own XML error; ``s3_code`` is its code)."""

    code = "STORAGE_REFUSED"

    def __init__(self, message: str, *, s3_code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.s3_code = s3_code


class Unavailable(FileServiceError):
    """A dependency is down or busy: try again (the client already did, ``max_attempts`` times)."""

    code = "UNAVAILABLE"
    retryable = True


class DatabaseUnavailable(Unavailable):
    code = "DATABASE_UNAVAILABLE"


class StorageUnavailable(Unavailable):
    code = "STORAGE_UNAVAILABLE"


class ResizeTimeout(Unavailable):
    code = "RESIZE_TIMEOUT"


class ResizeBusy(Unavailable):
    code = "RESIZE_BUSY"


class RateLimited(Unavailable):
    code = "RATE_LIMITED"


class ConnectionFailed(Unavailable):
    """No answer at all (refused connection, reset, timeout)."""

    code = "CONNECTION_FAILED"


class Internal(FileServiceError):
    code = "INTERNAL"


_CLASSES: tuple[type[FileServiceError], ...] = (
    BadRequest,
    InvalidWidth,
    InvalidFormat,
    ValidationFailed,
    LimitExceeded,
    PayloadTooLarge,
    NotSupported,
    Unauthorized,
    Forbidden,
    NotFound,
    RangeNotSatisfiable,
    NotAnImage,
    TooManyPixels,
    SourceTooLarge,
    TooManyScans,
    ImageTooComplex,
    StorageRefused,
    Unavailable,
    DatabaseUnavailable,
    StorageUnavailable,
    ResizeTimeout,
    ResizeBusy,
    RateLimited,
    ConnectionFailed,
    Internal,
)
BY_CODE: dict[str, type[FileServiceError]] = {cls.code: cls for cls in _CLASSES}
for _code in ("QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"):
    BY_CODE[_code] = QueryRefused
# Codes that are retryable by the contract whatever their data says.
RETRYABLE_CODES = frozenset(
    {"UNAVAILABLE", "DATABASE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "RESIZE_BUSY", "RESIZE_TIMEOUT"}
)


def error_for(
    code: str | None,
    message: str | None,
    *,
    status: int | None = None,
    data: dict[str, Any] | None = None,
    retry_after: float | None = None,
) -> FileServiceError:
    """The exception for a stable code (unknown codes keep their code on the base class)."""
    code = code or "INTERNAL"
    cls = BY_CODE.get(code, FileServiceError)
    error = cls(message or code, code=code, status=status, data=data, retry_after=retry_after)
    if code in RETRYABLE_CODES or status in (429, 503):
        error.retryable = True
    return error
