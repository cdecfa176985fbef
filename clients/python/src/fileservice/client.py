"""The synchronous client: ``Client().upload("photo.jpg", tags=["holiday"])``."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from fileservice import _wire as wire
from fileservice._core import USER_AGENT, Options, file_id, is_key, key_src, tag_list, variant_url
from fileservice._retry import RetryPolicy
from fileservice._transfer import CHUNK, FormBody, Progress, Source, Tally, number_of_parts, part_offsets
from fileservice.config import gateway_url, token_for
from fileservice.errors import FileServiceError
from fileservice.models import File, Page, Settings

T = TypeVar("T")
UploadSource = str | os.PathLike[str] | bytes | bytearray | memoryview


class Client:
    """The file service's public API: GraphQL at ``{gateway}/graphql``, uploads straight to S3 with
    the forms and part URLs the gateway signs, downloads from each file's ``src``.

    ``gateway`` and ``token`` default to FILESERVICE_GATEWAY / FILESERVICE_TOKEN, then to ``make run``'s
    dev stack. Retryable errors (the service's contract: 503/429, ``data.retryable``, the *_UNAVAILABLE
    and RESIZE_* codes, no answer at all) are retried up to ``retry.max_attempts`` times."""

    def __init__(
        self,
        gateway: str | None = None,
        token: str | None = None,
        *,
        widths: Sequence[int] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        multipart_threshold: int | None = None,
        part_size: int | None = None,
        concurrency: int | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.gateway = gateway_url(gateway)
        self._token = token_for(self.gateway, token)
        self.options = Options.make(
            widths=widths,
            retry=retry,
            timeout=timeout,
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            concurrency=concurrency,
        )
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(self.options.timeout, connect=10.0),
            limits=httpx.Limits(max_connections=self.options.concurrency + 4),
            headers={"user-agent": USER_AGENT},
        )
        self._owns_http = http is None
        self._settings: Settings | None = None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # --- records

    def get(self, file: File | str) -> File:
        result = self._graphql("getFile", wire.GET_FILE, {"id": file_id(file)})
        return File.from_graphql(result["data"])

    def list(
        self,
        *,
        search: str | None = None,
        types: Sequence[str] | str | None = None,
        tags: Sequence[str] | str | None = None,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Iterator[Page]:
        """``listFiles`` page after page (newest first), with the API's own filters; stops after
        the page whose cursor is null."""
        cursor = after
        while True:
            variables = wire.list_variables(
                limit=limit, after=cursor, search=search, types=types, tags=tags, ids=ids, where=where
            )
            result = self._graphql("listFiles", wire.LIST_FILES, variables)
            meta = result.get("meta") or {}
            page = Page(
                files=tuple(File.from_graphql(raw) for raw in result.get("data") or ()),
                cursor=meta.get("cursor"),
                total_count=meta.get("totalCount"),
                has_more=bool(meta.get("hasMoreItems", meta.get("cursor") is not None)),
            )
            yield page
            if not page.cursor or not page.files:
                return
            cursor = page.cursor

    def files(self, *, max_items: int | None = None, **filters: Any) -> Iterator[File]:
        """Every file ``list`` finds (up to ``max_items``), one at a time."""
        count = 0
        for page in self.list(**filters):
            for file in page:
                if max_items is not None and count >= max_items:
                    return
                count += 1
                yield file

    def update(
        self,
        file: File | str,
        *,
        name: str | None = None,
        tags: Sequence[str] | str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> File:
        """``updateFile``: the name, the tags (replaced as given) and/or meta."""
        data: dict[str, Any] = {"name": name, "tags": tag_list(tags), "meta": dict(meta) if meta is not None else None}
        data = {k: v for k, v in data.items() if v is not None}
        result = self._graphql("updateFile", wire.UPDATE_FILE, {"id": file_id(file), "data": data})
        return File.from_graphql(result["data"])

    def delete(self, file: File | str) -> bool:
        """``deleteFile``: the original goes at once, its variants right after (the cleanup worker)."""
        return bool(self._graphql("deleteFile", wire.DELETE_FILE, {"id": file_id(file)})["data"])

    def settings(self, *, refresh: bool = False) -> Settings:
        if self._settings is None or refresh:
            result = self._graphql("getSettings", wire.GET_SETTINGS, {})
            self._settings = Settings.from_graphql(result["data"] or {})
        return self._settings

    # --- URLs and downloads

    def url(self, file: File | str, width: int | None = None, format: str | None = None) -> str:
        """The download URL of a file (a ``File``, its ``src``, its key or its id), at a width snapped
        to the service's widths and/or in a format (jpeg, png, webp, avif)."""
        return variant_url(self._src(file), self.options.widths, width, format)

    def download(
        self,
        file: File | str,
        to: str | os.PathLike[str] | None = None,
        *,
        width: int | None = None,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> bytes | Path:
        """The file's bytes (or a variant's), returned, or written to ``to`` (then its path)."""
        url = self.url(file, width, format)
        return self._retrying(lambda: self._download_once(url, Path(to) if to is not None else None, progress))

    def _download_once(self, url: str, to: Path | None, progress: Progress | None) -> bytes | Path:
        try:
            with self._http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code >= 400:
                    response.read()
                    raise wire.download_error(response)
                total = int(response.headers.get("content-length") or 0)
                tally = Tally(total, progress)
                if to is None:
                    chunks = []
                    for chunk in response.iter_bytes(CHUNK):
                        chunks.append(chunk)
                        tally.add(len(chunk))
                    return b"".join(chunks)
                partial = to.with_name(to.name + ".part")
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        out.write(chunk)
                        tally.add(len(chunk))
                partial.replace(to)
                return to
        except httpx.TransportError as exc:
            raise wire.transport_error(exc, f"GET {url}") from exc

    # --- uploads

    def upload(
        self,
        source: UploadSource,
        *,
        name: str | None = None,
        tags: Sequence[str] | str | None = None,
        content_type: str | None = None,
        progress: Progress | None = None,
    ) -> File:
        """Upload a file (a path, or bytes with ``name=``) and return its record. Up to
        ``multipart_threshold`` bytes go in one pre-signed POST form, bigger files in parts
        (``part_size`` each, ``concurrency`` at a time) cut at the sizes the gateway signs."""
        src = Source.of(source, name)
        mime = src.content_type(content_type)
        declared = {"name": src.name, "type": mime, "size": src.size}
        tally = Tally(src.size, progress)
        if src.size < self.options.multipart_threshold:
            return self._upload_form(src, declared, tag_list(tags), tally)
        file = self._upload_parts(src, declared, tally)
        return self.update(file, tags=tags) if tags else file

    def _upload_form(self, src: Source, declared: dict[str, Any], tags: Sequence[str] | None, tally: Tally) -> File:
        payload = self._graphql("getPreSignedPostPayload", wire.PAYLOAD, {"data": declared})["data"]
        form, info = payload["data"], payload["file"]
        body = FormBody.build(form["fields"], src.name, declared["type"])

        def post() -> None:
            sent = tally.attempt()
            try:
                response = self._http.post(
                    form["url"],
                    content=body.stream(src, sent.add),
                    headers={"content-type": body.content_type, "content-length": str(body.length(src.size))},
                )
            except httpx.TransportError as exc:
                sent.take_back()
                raise wire.transport_error(exc, "POST to the object store") from exc
            if response.status_code != 204:
                sent.take_back()
                raise wire.storage_error(response)

        self._retrying(post)
        data = {"key": info["key"], "name": info["key"], "size": info["size"], "type": info["type"]}
        if tags:
            data["tags"] = list(tags)
        return File.from_graphql(self._graphql("createFile", wire.CREATE_FILE, {"data": data})["data"])

    def _upload_parts(self, src: Source, declared: dict[str, Any], tally: Tally) -> File:
        variables = {"data": declared, "parts": number_of_parts(src.size, self.options.part_size)}
        upload = self._graphql("createMultiPartUpload", wire.CREATE_MULTIPART, variables)["data"]
        parts = upload["parts"]
        offsets = part_offsets([int(p["size"]) for p in parts])

        def put(index: int) -> None:
            part, offset = parts[index], offsets[index]

            def once() -> None:
                sent = tally.attempt()
                try:
                    response = self._http.put(
                        part["url"],
                        content=src.chunks(offset, int(part["size"]), sent.add),
                        headers={"content-length": str(part["size"])},
                    )
                except httpx.TransportError as exc:
                    sent.take_back()
                    raise wire.transport_error(exc, f"PUT of part {part['partNumber']}") from exc
                if response.status_code != 200:
                    sent.take_back()
                    raise wire.storage_error(response)

            self._retrying(once)

        variables = {"key": upload["file"]["key"], "uploadId": upload["uploadId"]}
        try:
            with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(parts))) as pool:
                for future in [pool.submit(put, i) for i in range(len(parts))]:
                    future.result()
            done = self._graphql("completeMultiPartUpload", wire.COMPLETE_MULTIPART, variables)
        except BaseException:
            # The parts sent so far and the user's pending-upload slot are freed now, not at expiry.
            with contextlib.suppress(Exception):
                self._graphql("abortMultiPartUpload", wire.ABORT_MULTIPART, variables)
            raise
        return File.from_graphql(done["file"])

    # --- plumbing

    def _src(self, file: File | str) -> str:
        if isinstance(file, File):
            return file.src
        if file.startswith(("http://", "https://")):
            return file
        if is_key(file):
            return key_src(self.settings().src_prefix, file)
        return self.get(file).src

    def _graphql(self, operation: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        body = wire.graphql_body(query, variables)

        def once() -> dict[str, Any]:
            try:
                response = self._http.post(f"{self.gateway}/graphql", json=body, headers=headers)
            except httpx.TransportError as exc:
                idempotent = query.lstrip().startswith("query")
                raise wire.transport_error(exc, f"{operation} at {self.gateway}", idempotent=idempotent) from exc
            return wire.field_result(response, operation)

        return self._retrying(once)

    def _retrying(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return call()
            except FileServiceError as error:
                delay = self.options.retry.delay(attempt, error)
                if delay is None:
                    raise
                time.sleep(delay)
