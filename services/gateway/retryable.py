"""Whether a GraphQL response failed as a whole for a retryable reason, and for how long to wait.

Each field under ``fileManager`` is one operation. It failed retryably when its ``{data, error}``
envelope carries an ``error`` that says so (``data.retryable``, or a code of ``RETRYABLE_CODES``),
or when it is null and the GraphQL error at its path says so (``version``, ``listTags``). When every
operation of the response (of every operation of a batch) failed that way, the HTTP status is 503
with ``Retry-After``: the client retries the whole request, as HTTP clients and Webiny's Apollo
link already do for a 503. One operation that succeeded, or failed for the caller's own reason,
keeps the status 200: the client reads each ``error`` as before.

For Apollo's HTTP link, which hands a non-2xx body to the application only when it has both
``data`` and ``errors``, a 503 body carries each envelope error in ``errors`` too.

Pure: the endpoint calls ``whole_failure`` on the executed results.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import DEPENDENCY_RETRY_AFTER

RETRYABLE_CODES = frozenset(
    {"UNAVAILABLE", "DATABASE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "RESIZE_BUSY", "RESIZE_TIMEOUT"}
)


@dataclass(frozen=True)
class Operation:
    path: tuple[str, ...]
    error: Mapping[str, Any] | None  # {code, message, data} when it failed
    succeeded: bool


def retryable_error(error: Mapping[str, Any] | None) -> bool:
    if not isinstance(error, Mapping):
        return False
    data = error.get("data")
    if isinstance(data, Mapping) and data.get("retryable") is True:
        return True
    return error.get("code") in RETRYABLE_CODES


def retry_after_of(error: Mapping[str, Any]) -> int:
    data = error.get("data")
    value = data.get("retryAfter") if isinstance(data, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEPENDENCY_RETRY_AFTER


def _errors_by_path(result: Mapping[str, Any]) -> dict[tuple[str, ...], Mapping[str, Any]]:
    found: dict[tuple[str, ...], Mapping[str, Any]] = {}
    for error in result.get("errors") or []:
        if isinstance(error, Mapping) and isinstance(error.get("path"), list):
            extensions = error.get("extensions") or {}
            found[tuple(str(part) for part in error["path"])] = {
                "code": extensions.get("code"),
                "message": error.get("message"),
                "data": extensions.get("data"),
            }
    return found


def operations(result: Any) -> Iterator[Operation]:
    """The operations of one executed GraphQL result (fields of ``fileManager``, or any other root)."""
    if not isinstance(result, Mapping) or not isinstance(result.get("data"), Mapping):
        return
    errors = _errors_by_path(result)
    for root, value in result["data"].items():
        if root.startswith("__"):
            continue
        if not isinstance(value, Mapping):
            yield Operation((root,), errors.get((root,)), value is not None)
            continue
        for name, field in value.items():
            if name.startswith("__"):
                continue
            path = (root, name)
            if isinstance(field, Mapping) and "error" in field:
                error = field["error"]
                yield Operation(path, error if isinstance(error, Mapping) else None, error is None)
            else:
                yield Operation(path, errors.get(path), field is not None or path not in errors)


def whole_failure(results: list[Any]) -> int | None:
    """Seconds to wait when every operation of ``results`` failed retryably; None otherwise."""
    found: list[Operation] = []
    for result in results:
        ops = list(operations(result))
        if not ops:  # nothing of the file manager's (introspection, or a request that never ran)
            return None
        found.extend(ops)
    if not found or any(op.succeeded or not retryable_error(op.error) for op in found):
        return None
    return max(retry_after_of(op.error) for op in found if op.error is not None)


def with_errors_listed(result: Any) -> Any:
    """``result`` with each envelope error also in ``errors`` (for Apollo's link on a 503)."""
    if not isinstance(result, Mapping):
        return result
    listed = list(result.get("errors") or [])
    known = {tuple(e.get("path") or ()) for e in listed if isinstance(e, Mapping)}
    for op in operations(result):
        if op.error is not None and op.path not in known:
            listed.append(
                {
                    "message": op.error.get("message"),
                    "path": list(op.path),
                    "extensions": {"code": op.error.get("code"), "data": op.error.get("data")},
                }
            )
    return {**result, "errors": listed} if listed else dict(result)
