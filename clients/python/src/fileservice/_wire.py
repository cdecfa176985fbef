"""The API on the wire (pure): GraphQL documents, their variables, and how answers become values or
exceptions. The sync and async clients only move these over HTTP."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fileservice.errors import ConnectionFailed, FileServiceError, StorageRefused, Unauthorized, error_for

FILE_FIELDS = "id key name size type src tags meta createdOn createdBy { id }"
ERROR_FIELDS = "error { code message data }"

PAYLOAD = (
    "query Payload($data: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $data) "
    f"{{ data {{ data file {{ id key name size type }} }} {ERROR_FIELDS} }} }} }}"
)
CREATE_MULTIPART = (
    "mutation CreateMultiPart($data: PreSignedPostPayloadInput!, $parts: Int!) { fileManager { "
    "createMultiPartUpload(data: $data, numberOfParts: $parts) { data { uploadId file { id key name size type } "
    f"parts {{ partNumber url size }} }} {ERROR_FIELDS} }} }} }}"
)
COMPLETE_MULTIPART = (
    "mutation CompleteMultiPart($key: String!, $uploadId: String!) { fileManager { "
    "completeMultiPartUpload(fileKey: $key, uploadId: $uploadId) "
    f"{{ data file {{ {FILE_FIELDS} }} {ERROR_FIELDS} }} }} }}"
)
ABORT_MULTIPART = (
    "mutation AbortMultiPart($key: String!, $uploadId: String!) { fileManager { "
    f"abortMultiPartUpload(fileKey: $key, uploadId: $uploadId) {{ {ERROR_FIELDS} }} }} }}"
)
CREATE_FILE = (
    "mutation CreateFile($data: FileInput!) { fileManager { createFile(data: $data) "
    f"{{ data {{ {FILE_FIELDS} }} {ERROR_FIELDS} }} }} }}"
)
GET_FILE = (
    f"query GetFile($id: ID!) {{ fileManager {{ getFile(id: $id) {{ data {{ {FILE_FIELDS} }} {ERROR_FIELDS} }} }} }}"
)
UPDATE_FILE = (
    "mutation UpdateFile($id: ID!, $data: FileInput!) { fileManager { updateFile(id: $id, data: $data) "
    f"{{ data {{ {FILE_FIELDS} }} {ERROR_FIELDS} }} }} }}"
)
DELETE_FILE = f"mutation DeleteFile($id: ID!) {{ fileManager {{ deleteFile(id: $id) {{ data {ERROR_FIELDS} }} }} }}"
LIST_FILES = (
    "query ListFiles($limit: Int, $after: String, $types: [String], $tags: [String], $ids: [ID], "
    "$search: String, $where: FileWhereInput) { fileManager { listFiles(limit: $limit, after: $after, "
    "types: $types, tags: $tags, ids: $ids, search: $search, where: $where) "
    f"{{ data {{ {FILE_FIELDS} }} meta {{ cursor totalCount hasMoreItems }} {ERROR_FIELDS} }} }} }}"
)
GET_SETTINGS = (
    "query Settings { fileManager { getSettings { data { uploadMinFileSize uploadMaxFileSize srcPrefix "
    f"allowedTypes }} {ERROR_FIELDS} }} }} }}"
)


def graphql_body(query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"query": query, "variables": dict(variables or {})}


def list_variables(
    *,
    limit: int | None,
    after: str | None,
    search: str | None,
    types: Sequence[str] | None,
    tags: Sequence[str] | None,
    ids: Sequence[str] | None,
    where: Mapping[str, Any] | None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {"limit": limit, "after": after, "search": search}
    variables.update(types=_list(types), tags=_list(tags), ids=_list(ids), where=dict(where) if where else None)
    return {k: v for k, v in variables.items() if v is not None}


def _list(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def field_result(response: httpx.Response, operation: str) -> dict[str, Any]:
    """The ``fileManager.<operation>`` object of a GraphQL answer; any refusal as an exception."""
    body = _json(response)
    if response.status_code == 401:
        message = _first_message(body) or "A valid bearer token is required."
        raise Unauthorized(message, status=401)
    if response.status_code >= 400 and not (isinstance(body, dict) and body.get("data")):
        raise _http_error(response, body)
    if not isinstance(body, dict):
        raise error_for("INTERNAL", f"Unexpected answer from the gateway: {response.text[:200]}", status=502)
    for error in body.get("errors") or ():
        path = error.get("path") or []
        if not path or operation in path or path == ["fileManager"]:
            extensions = error.get("extensions") or {}
            data = extensions.get("data") if isinstance(extensions.get("data"), dict) else None
            raise error_for(extensions.get("code"), error.get("message"), status=response.status_code, data=data)
    result = ((body.get("data") or {}).get("fileManager") or {}).get(operation)
    if not isinstance(result, dict):
        raise error_for("INTERNAL", f"The gateway answered no {operation}.", status=response.status_code)
    error = result.get("error")
    if error:
        data = error.get("data") if isinstance(error.get("data"), dict) else None
        after = float(data["retryAfter"]) if data and isinstance(data.get("retryAfter"), int | float) else None
        if after is None:
            after = retry_after(response)
        raise error_for(
            error.get("code"), error.get("message"), status=response.status_code, data=data, retry_after=after
        )
    return result


def download_error(response: httpx.Response) -> FileServiceError:
    """The download service's ``{"error": {"code", "message"}}`` (or a bare status) as an exception."""
    return _http_error(response, _json(response))


def storage_error(response: httpx.Response) -> FileServiceError:
    """S3's own refusal of a form POST or part PUT (XML ``<Error><Code>``)."""
    code = _xml_tag(response.text, "Code")
    message = _xml_tag(response.text, "Message") or response.reason_phrase
    text = f"The object store refused the upload ({response.status_code} {code or ''}): {message}".replace(" )", ")")
    if response.status_code >= 500 or response.status_code == 429:
        return error_for("STORAGE_UNAVAILABLE", text, status=response.status_code, retry_after=retry_after(response))
    return StorageRefused(text, s3_code=code, status=response.status_code)


def transport_error(exc: httpx.TransportError, what: str, *, idempotent: bool = True) -> ConnectionFailed:
    """No answer. Retryable when the request cannot have arrived (no connection was made) or doing
    it twice changes nothing; a mutation whose answer was lost is not repeated."""
    error = ConnectionFailed(f"{what}: {type(exc).__name__}: {exc}".rstrip(": "))
    error.retryable = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    return error


def _http_error(response: httpx.Response, body: Any) -> FileServiceError:
    code: str | None = None
    message: str | None = None
    data: dict[str, Any] | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code, message = body["error"].get("code"), body["error"].get("message")
        data = body["error"].get("data")
    elif isinstance(body, dict) and body.get("errors"):
        first = body["errors"][0]
        code, message = (first.get("extensions") or {}).get("code"), first.get("message")
    status = response.status_code
    if code is None:
        code = {
            400: "BAD_REQUEST",
            401: "UNAUTHORIZED",
            403: "FORBIDDEN",
            404: "NOT_FOUND",
            413: "PAYLOAD_TOO_LARGE",
            416: "RANGE_NOT_SATISFIABLE",
            429: "RATE_LIMITED",
        }.get(status, "UNAVAILABLE" if status in (502, 503, 504) else "INTERNAL")
    return error_for(
        code,
        message or f"HTTP {status} {response.reason_phrase}",
        status=status,
        data=data,
        retry_after=retry_after(response),
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_message(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("message") or "") or None
        if body.get("errors"):
            return str(body["errors"][0].get("message") or "") or None
    return None


def _xml_tag(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
    return match.group(1).strip() if match else None
