"""A client of the running stack as Webiny's admin app and a browser use it, that does not assert:
during a fault a request may fail, and the scenario counts how, rather than stopping at the first.

Every call is bounded (httpx timeouts) and goes to loopback only. ``Result`` says whether it
succeeded, with the HTTP status, the stable error code and the ``Retry-After`` the service sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.tokens import token

PAYLOAD = """
query Payload($data: PreSignedPostPayloadInput!) {
  fileManager { getPreSignedPostPayload(data: $data) {
    data { data file { id key name size type } } error { code message data } } }
}
"""
CREATE_FILE = """
mutation CreateFile($data: FileInput!) {
  fileManager { createFile(data: $data) { data { id } error { code message data } } }
}
"""
DELETE_FILE = """
mutation DeleteFile($id: ID!) { fileManager { deleteFile(id: $id) { data error { code message data } } } }
"""
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass
class Result:
    ok: bool
    status: int = 0  # HTTP status; 0 when no response came
    code: str = ""  # the GraphQL error code, or the transport error's class name
    retry_after: str | None = None
    seconds: float = 0.0
    value: Any = None

    @property
    def kind(self) -> str:
        """How it failed, in one word for the figures: ``ok``, ``503``, ``UNAVAILABLE``, ``ConnectError``..."""
        return "ok" if self.ok else self.code or str(self.status)


@dataclass
class Uploaded:
    id: str
    key: str
    name: str
    content: bytes


@dataclass
class Client:
    gateway_url: str
    download_url: str
    sub: str = "faults"
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=TIMEOUT))

    def close(self) -> None:
        self.http.close()

    def _token(self) -> str:
        return token("files:*", sub=self.sub)

    def graphql(self, query: str, variables: dict[str, Any], field_name: str) -> Result:
        started = time.monotonic()
        try:
            resp = self.http.post(
                f"{self.gateway_url}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self._token()}"},
            )
        except httpx.HTTPError as exc:
            return Result(False, code=type(exc).__name__, seconds=time.monotonic() - started)
        seconds = time.monotonic() - started
        retry_after = resp.headers.get("retry-after")
        try:
            body = resp.json()
        except ValueError:
            return Result(False, resp.status_code, retry_after=retry_after, seconds=seconds)
        answer = ((body.get("data") or {}).get("fileManager") or {}).get(field_name) if isinstance(body, dict) else None
        if resp.status_code != 200 or answer is None:
            errors = body.get("errors") if isinstance(body, dict) else None
            code = ""
            if errors:
                code = str(((errors[0].get("extensions") or {}).get("code")) or "GRAPHQL_ERROR")
            return Result(False, resp.status_code, code, retry_after, seconds)
        if answer.get("error"):
            error = answer["error"]
            hint = (error.get("data") or {}).get("retryAfter") if isinstance(error.get("data"), dict) else None
            return Result(False, resp.status_code, error["code"], retry_after or hint, seconds, error)
        return Result(True, resp.status_code, seconds=seconds, value=answer.get("data"))

    def payload(self, name: str, type_: str, size: int) -> Result:
        return self.graphql(PAYLOAD, {"data": {"name": name, "type": type_, "size": size}}, "getPreSignedPostPayload")

    def post_form(self, form: dict[str, Any], content: bytes, filename: str) -> Result:
        """The pre-signed POST straight to S3, every field in order and the file last (204 = done)."""
        started = time.monotonic()
        try:
            resp = self.http.post(form["url"], data=dict(form["fields"]), files={"file": (filename, content)})
        except httpx.HTTPError as exc:
            return Result(False, code=type(exc).__name__, seconds=time.monotonic() - started)
        return Result(resp.status_code == 204, resp.status_code, seconds=time.monotonic() - started)

    def create_file(self, file: dict[str, Any]) -> Result:
        data = {"key": file["key"], "name": file["key"], "size": file["size"], "type": file["type"], "tags": []}
        return self.graphql(CREATE_FILE, {"data": data}, "createFile")

    def delete_file(self, file_id: str) -> Result:
        return self.graphql(DELETE_FILE, {"id": file_id}, "deleteFile")

    def download(self, key: str, width: int | None = None) -> Result:
        params = {"width": str(width)} if width else None
        started = time.monotonic()
        try:
            resp = self.http.get(f"{self.download_url}/files/{key}", params=params)
        except httpx.HTTPError as exc:
            return Result(False, code=type(exc).__name__, seconds=time.monotonic() - started)
        seconds = time.monotonic() - started
        return Result(
            resp.status_code == 200, resp.status_code, "", resp.headers.get("retry-after"), seconds, resp.content
        )

    def upload(
        self, name: str, type_: str, content: bytes, *, deadline: float | Callable[[], float]
    ) -> tuple[Uploaded | None, list[str]]:
        """The admin app's upload (payload, form POST, createFile), each step tried again after a
        failure (after its ``Retry-After``, at most 5 s) until ``deadline`` (``time.monotonic()``,
        or a function giving it).
        Returns the file once its bytes are in S3 (``None`` if that never happened) and how each
        failed try failed."""
        failures: list[str] = []

        def again(result: Result) -> bool:
            failures.append(result.kind)
            if time.monotonic() >= (deadline() if callable(deadline) else deadline):
                return False
            time.sleep(_wait(result.retry_after))
            return True

        while True:
            issued = self.payload(name, type_, len(content))
            if issued.ok:
                break
            if not again(issued):
                return None, failures
        file, form = issued.value["file"], issued.value["data"]
        while True:
            posted = self.post_form(form, content, name)
            if posted.ok:
                break
            if not again(posted):
                return None, failures
        uploaded = Uploaded(file["id"], file["key"], file["name"], content)
        while True:
            created = self.create_file(file)
            if created.ok or not again(created):
                return uploaded, failures


def _wait(retry_after: str | None) -> float:
    try:
        return min(5.0, max(0.2, float(retry_after))) if retry_after else 1.0
    except ValueError:
        return 1.0
