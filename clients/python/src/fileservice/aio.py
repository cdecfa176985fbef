"""The asynchronous client: ``async with AsyncClient() as fs: await fs.upload(...)``; the same API
as ``Client`` with coroutines, and ``list`` an async iterator of pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from fileservice import _wire as wire
from fileservice._core import USER_AGENT, Options, file_id, is_key, key_src, tag_list, variant_url
from fileservice._retry import RetryPolicy
from fileservice._transfer import CHUNK, FormBody, Progress, Source, Tally, number_of_parts, part_offsets
from fileservice.client import UploadSource
from fileservice.config import gateway_url, token_for
from fileservice.errors import FileServiceError
from fileservice.models import File, Page, Settings

T = TypeVar("T")


async def _aiter(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class AsyncClient:
    """See ``fileservice.Client``: the same calls, awaited."""

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
        http: httpx.AsyncClient | None = None,
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
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.options.timeout, connect=10.0),
            limits=httpx.Limits(max_connections=self.options.concurrency + 4),
            headers={"user-agent": USER_AGENT},
        )
        self._owns_http = http is None
        self._settings: Settings | None = None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    # --- records

    async def get(self, file: File | str) -> File:
        result = await self._graphql("getFile", wire.GET_FILE, {"id": file_id(file)})
        return File.from_graphql(result["data"])

    async def list(
        self,
        *,
        search: str | None = None,
        types: Sequence[str] | str | None = None,
        tags: Sequence[str] | str | None = None,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> AsyncIterator[Page]:
        cursor = after
        while True:
            variables = wire.list_variables(
                limit=limit, after=cursor, search=search, types=types, tags=tags, ids=ids, where=where
            )
            result = await self._graphql("listFiles", wire.LIST_FILES, variables)
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

    async def files(self, *, max_items: int | None = None, **filters: Any) -> AsyncIterator[File]:
        count = 0
        async for page in self.list(**filters):
            for file in page:
                if max_items is not None and count >= max_items:
                    return
                count += 1
                yield file

    async def update(
        self,
        file: File | str,
        *,
        name: str | None = None,
        tags: Sequence[str] | str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> File:
        data: dict[str, Any] = {"name": name, "tags": tag_list(tags), "meta": dict(meta) if meta is not None else None}
        data = {k: v for k, v in data.items() if v is not None}
        result = await self._graphql("updateFile", wire.UPDATE_FILE, {"id": file_id(file), "data": data})
        return File.from_graphql(result["data"])

    async def delete(self, file: File | str) -> bool:
        return bool((await self._graphql("deleteFile", wire.DELETE_FILE, {"id": file_id(file)}))["data"])

    async def settings(self, *, refresh: bool = False) -> Settings:
        if self._settings is None or refresh:
            result = await self._graphql("getSettings", wire.GET_SETTINGS, {})
            self._settings = Settings.from_graphql(result["data"] or {})
        return self._settings

    # --- URLs and downloads

    def url(self, file: File, width: int | None = None, format: str | None = None) -> str:
        """The download URL of a ``File`` at a snapped width and/or in a format (no request)."""
        return variant_url(file.src, self.options.widths, width, format)

    async def url_of(self, file: File | str, width: int | None = None, format: str | None = None) -> str:
        """``url`` for a ``File``, its ``src``, its key or its id (which may take a request)."""
        return variant_url(await self._src(file), self.options.widths, width, format)

    async def download(
        self,
        file: File | str,
        to: str | Path | None = None,
        *,
        width: int | None = None,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> bytes | Path:
        url = await self.url_of(file, width, format)
        target = Path(to) if to is not None else None
        return await self._retrying(lambda: self._download_once(url, target, progress))

    async def _download_once(self, url: str, to: Path | None, progress: Progress | None) -> bytes | Path:
        try:
            async with self._http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise wire.download_error(response)
                tally = Tally(int(response.headers.get("content-length") or 0), progress)
                if to is None:
                    chunks = []
                    async for chunk in response.aiter_bytes(CHUNK):
                        chunks.append(chunk)
                        tally.add(len(chunk))
                    return b"".join(chunks)
                partial = to.with_name(to.name + ".part")
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        out.write(chunk)
                        tally.add(len(chunk))
                partial.replace(to)
                return to
        except httpx.TransportError as exc:
            raise wire.transport_error(exc, f"GET {url}") from exc

    # --- uploads

    async def upload(
        self,
        source: UploadSource,
        *,
        name: str | None = None,
        tags: Sequence[str] | str | None = None,
        content_type: str | None = None,
        progress: Progress | None = None,
    ) -> File:
        src = Source.of(source, name)
        mime = src.content_type(content_type)
        declared = {"name": src.name, "type": mime, "size": src.size}
        tally = Tally(src.size, progress)
        if src.size < self.options.multipart_threshold:
            return await self._upload_form(src, declared, tag_list(tags), tally)
        file = await self._upload_parts(src, declared, tally)
        return await self.update(file, tags=tags) if tags else file

    async def _upload_form(
        self, src: Source, declared: dict[str, Any], tags: Sequence[str] | None, tally: Tally
    ) -> File:
        payload = (await self._graphql("getPreSignedPostPayload", wire.PAYLOAD, {"data": declared}))["data"]
        form, info = payload["data"], payload["file"]
        body = FormBody.build(form["fields"], src.name, declared["type"])

        async def post() -> None:
            sent = tally.attempt()
            try:
                response = await self._http.post(
                    form["url"],
                    content=_aiter(body.stream(src, sent.add)),
                    headers={"content-type": body.content_type, "content-length": str(body.length(src.size))},
                )
            except httpx.TransportError as exc:
                sent.take_back()
                raise wire.transport_error(exc, "POST to the object store") from exc
            if response.status_code != 204:
                sent.take_back()
                raise wire.storage_error(response)

        await self._retrying(post)
        data = {"key": info["key"], "name": info["key"], "size": info["size"], "type": info["type"]}
        if tags:
            data["tags"] = list(tags)
        return File.from_graphql((await self._graphql("createFile", wire.CREATE_FILE, {"data": data}))["data"])

    async def _upload_parts(self, src: Source, declared: dict[str, Any], tally: Tally) -> File:
        variables = {"data": declared, "parts": number_of_parts(src.size, self.options.part_size)}
        upload = (await self._graphql("createMultiPartUpload", wire.CREATE_MULTIPART, variables))["data"]
        parts = upload["parts"]
        offsets = part_offsets([int(p["size"]) for p in parts])
        gate = asyncio.Semaphore(self.options.concurrency)

        async def put(part: dict[str, Any], offset: int) -> None:
            async def once() -> None:
                sent = tally.attempt()
                try:
                    response = await self._http.put(
                        part["url"],
                        content=_aiter(src.chunks(offset, int(part["size"]), sent.add)),
                        headers={"content-length": str(part["size"])},
                    )
                except httpx.TransportError as exc:
                    sent.take_back()
                    raise wire.transport_error(exc, f"PUT of part {part['partNumber']}") from exc
                if response.status_code != 200:
                    sent.take_back()
                    raise wire.storage_error(response)

            async with gate:
                await self._retrying(once)

        variables = {"key": upload["file"]["key"], "uploadId": upload["uploadId"]}
        try:
            await asyncio.gather(*(put(part, offset) for part, offset in zip(parts, offsets, strict=True)))
            done = await self._graphql("completeMultiPartUpload", wire.COMPLETE_MULTIPART, variables)
        except BaseException:
            # The parts sent so far and the user's pending-upload slot are freed now, not at expiry.
            with contextlib.suppress(Exception):
                await self._graphql("abortMultiPartUpload", wire.ABORT_MULTIPART, variables)
            raise
        return File.from_graphql(done["file"])

    # --- plumbing

    async def _src(self, file: File | str) -> str:
        if isinstance(file, File):
            return file.src
        if file.startswith(("http://", "https://")):
            return file
        if is_key(file):
            return key_src((await self.settings()).src_prefix, file)
        return (await self.get(file)).src

    async def _graphql(self, operation: str, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self._token}"} if self._token else {}
        body = wire.graphql_body(query, variables)

        async def once() -> dict[str, Any]:
            try:
                response = await self._http.post(f"{self.gateway}/graphql", json=body, headers=headers)
            except httpx.TransportError as exc:
                idempotent = query.lstrip().startswith("query")
                raise wire.transport_error(exc, f"{operation} at {self.gateway}", idempotent=idempotent) from exc
            return wire.field_result(response, operation)

        return await self._retrying(once)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except FileServiceError as error:
                delay = self.options.retry.delay(attempt, error)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
