"""What the sync and async clients share besides the wire: options, URLs of widths, references."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from fileservice._retry import RetryPolicy
from fileservice._transfer import DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MIN_PART_SIZE
from fileservice.models import File
from fileservice.widths import DEFAULT_WIDTHS, check_format, parse_widths, snap_width

USER_AGENT = "fileservice-client/0.1"


@dataclass(frozen=True)
class Options:
    """How the client talks: retries, time-outs, and how uploads are cut."""

    widths: tuple[int, ...]
    retry: RetryPolicy
    timeout: float
    multipart_threshold: int
    part_size: int
    concurrency: int

    @classmethod
    def make(
        cls,
        *,
        widths: Sequence[int] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        multipart_threshold: int | None = None,
        part_size: int | None = None,
        concurrency: int | None = None,
    ) -> Options:
        multipart_threshold = DEFAULT_MULTIPART_THRESHOLD if multipart_threshold is None else multipart_threshold
        part_size = DEFAULT_PART_SIZE if part_size is None else part_size
        concurrency = DEFAULT_CONCURRENCY if concurrency is None else concurrency
        if widths is None:
            env = os.environ.get("FILESERVICE_WIDTHS")
            widths = parse_widths(env) if env else DEFAULT_WIDTHS
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's smallest part)")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        return cls(
            widths=tuple(sorted(set(widths))),
            retry=retry or RetryPolicy(),
            timeout=timeout,
            multipart_threshold=max(1, multipart_threshold),
            part_size=part_size,
            concurrency=concurrency,
        )


def file_id(file: File | str) -> str:
    return file.id if isinstance(file, File) else file


def is_key(ref: str) -> bool:
    """A key is ``{id}/{name}``; an id has no slash."""
    return "/" in ref and not ref.startswith(("http://", "https://"))


def key_src(src_prefix: str, key: str) -> str:
    return src_prefix + quote(key, safe="/")


def variant_url(src: str, widths: Sequence[int], width: int | None = None, fmt: str | None = None) -> str:
    """The download URL of ``src`` at a width (snapped as the service snaps it, so that every caller
    asking for about the same width shares one cached variant) and/or in a format."""
    params: dict[str, str] = {}
    if width is not None:
        params["width"] = str(snap_width(width, widths))
    if fmt is not None:
        params["format"] = check_format(fmt)
    if not params:
        return src
    base = src.split("?", 1)[0] if urlsplit(src).query else src
    return f"{base}?{urlencode(params)}"


def tag_list(tags: Sequence[str] | str | None) -> list[str] | None:
    if tags is None:
        return None
    return [tags] if isinstance(tags, str) else list(tags)
