"""Errors that carry their HTTP status, a stable code and a public message.

A service raises one of these where a caller did something wrong or a dependency failed; the
HTTP layer turns it into a response, the resize worker into an error reply. Stable codes are part
of the public contract: clients branch on them.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error with a public face."""

    status: int = 500
    code: str = "INTERNAL"
    public_message: str = "Internal error."
    retryable: bool = False

    def __init__(self, message: str | None = None, *, data: dict[str, Any] | None = None) -> None:
        self.message = message or self.public_message
        self.data = data
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


class BadRequest(ServiceError):
    status = 400
    code = "BAD_REQUEST"
    public_message = "The request is malformed."


class InvalidWidth(BadRequest):
    code = "INVALID_WIDTH"
    public_message = "width must be a positive whole number."


class InvalidFormat(BadRequest):
    code = "INVALID_FORMAT"
    public_message = "format is not supported."


class ValidationFailed(ServiceError):
    status = 400
    code = "VALIDATION_FAILED"
    public_message = "The input is not valid."


class LimitExceeded(ServiceError):
    status = 400
    code = "LIMIT_EXCEEDED"
    public_message = "A limit of the service was exceeded."


class PayloadTooLarge(ServiceError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    public_message = "The request body is too large."


class NotSupported(ServiceError):
    status = 501
    code = "NOT_SUPPORTED"
    public_message = "This operation needs the file catalog, which is not available yet."


class Unauthorized(ServiceError):
    status = 401
    code = "UNAUTHORIZED"
    public_message = "A valid bearer token is required."


class Forbidden(ServiceError):
    status = 403
    code = "FORBIDDEN"
    public_message = "Not allowed."


class NotFound(ServiceError):
    status = 404
    code = "NOT_FOUND"
    public_message = "Not found."


class RangeNotSatisfiable(ServiceError):
    status = 416
    code = "RANGE_NOT_SATISFIABLE"
    public_message = "The requested range is outside the file."

    def __init__(self, size: int) -> None:
        super().__init__(f"The requested range is outside the file ({size} bytes).")
        self.size = size


class NotAnImage(ServiceError):
    status = 422
    code = "NOT_AN_IMAGE"
    public_message = "The file is not an image that can be resized."


class TooManyPixels(ServiceError):
    status = 422
    code = "TOO_MANY_PIXELS"
    public_message = "The image has more pixels than the service processes."


class SourceTooLarge(ServiceError):
    status = 422
    code = "SOURCE_TOO_LARGE"
    public_message = "The image file is larger than the service resizes."


class TooManyScans(ServiceError):
    status = 422
    code = "TOO_MANY_SCANS"
    public_message = "The JPEG has more progressive scans than the service decodes."


class ImageTooComplex(ServiceError):
    status = 422
    code = "IMAGE_TOO_COMPLEX"
    public_message = "The image takes longer to resize than the service allows."


class Unavailable(ServiceError):
    status = 503
    code = "UNAVAILABLE"
    public_message = "The service is temporarily unavailable; try again."
    retryable = True


# Seconds a client is told to wait (``Retry-After``, ``data.retryAfter``) when a dependency is down.
DEPENDENCY_RETRY_AFTER = 5


class DependencyUnavailable(Unavailable):
    """A dependency of ours (database, object store) does not answer: nothing is wrong with the
    request or the message, and the same work succeeds once it is back.

    Callers are told so in ``data`` (``retryable``, ``retryAfter`` seconds); queue consumers hold
    the work without spending its attempts (``shared.outage``).
    """

    dependency: str = "dependency"
    retry_after: int = DEPENDENCY_RETRY_AFTER

    def __init__(self, message: str | None = None, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message, data={"retryable": True, "retryAfter": self.retry_after, **(data or {})})


class DatabaseUnavailable(DependencyUnavailable):
    code = "DATABASE_UNAVAILABLE"
    public_message = "The file catalog's database does not answer; try again shortly."
    dependency = "database"


class StorageUnavailable(DependencyUnavailable):
    code = "STORAGE_UNAVAILABLE"
    public_message = "The object store does not answer; try again shortly."
    dependency = "storage"


class ResizeTimeout(Unavailable):
    code = "RESIZE_TIMEOUT"
    public_message = "The image is still being prepared; try again shortly."


class ResizeBusy(Unavailable):
    code = "RESIZE_BUSY"
    public_message = "The image service is busy; try again shortly."


class Internal(ServiceError):
    pass


_BY_CODE: dict[str, type[ServiceError]] = {
    cls.code: cls
    for cls in (
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
        NotAnImage,
        TooManyPixels,
        SourceTooLarge,
        TooManyScans,
        ImageTooComplex,
        Unavailable,
        DatabaseUnavailable,
        StorageUnavailable,
        ResizeTimeout,
        ResizeBusy,
        Internal,
    )
}


def error_from_code(code: str, message: str | None = None) -> ServiceError:
    """Rebuild an error received over the wire (an error reply) from its stable code."""
    cls = _BY_CODE.get(code, Internal)
    return cls(message)
