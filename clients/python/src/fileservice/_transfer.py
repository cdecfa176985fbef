"""How bytes go to S3 (pure apart from reading the source): the source, the choice between the POST
form and a multipart upload, the part count, the form's body, and chunked reads that report progress."""

from __future__ import annotations

import mimetypes
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

MiB = 1024**2
# S3's limits, as the gateway applies them (createMultiPartUpload): every part but the last at least
# 5 MiB, none above 5 GiB, at most 1,000 parts.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 1000
DEFAULT_MULTIPART_THRESHOLD = 16 * MiB
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 4
CHUNK = 256 * 1024

Progress = Callable[[int, int], None]
"""``progress(bytes_sent, total_bytes)``, called as bytes leave (and again when a part is re-sent)."""


@dataclass(frozen=True)
class Source:
    """What to upload: a file on disk (read in chunks, never whole) or bytes in memory."""

    name: str
    size: int
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def of(cls, source: str | os.PathLike[str] | bytes | bytearray | memoryview, name: str | None) -> Source:
        if isinstance(source, bytes | bytearray | memoryview):
            if not name:
                raise ValueError("name= is required when uploading bytes")
            data = bytes(source)
            return cls(name=name, size=len(data), data=data)
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No such file: {path}")
        return cls(name=name or path.name, size=path.stat().st_size, path=path)

    def content_type(self, given: str | None = None) -> str:
        if given:
            return given
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed or "application/octet-stream"

    def chunks(self, offset: int, length: int, sent: Callable[[int], None]) -> Iterator[bytes]:
        """``length`` bytes from ``offset``, in chunks, calling ``sent(n)`` for each one."""
        if self.data is not None:
            view = memoryview(self.data)
            for start in range(offset, offset + length, CHUNK):
                chunk = bytes(view[start : min(start + CHUNK, offset + length)])
                yield chunk
                sent(len(chunk))
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            handle.seek(offset)
            left = length
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    raise OSError(f"{self.path} shrank while it was uploaded")
                left -= len(chunk)
                yield chunk
                sent(len(chunk))


def number_of_parts(size: int, part_size: int = DEFAULT_PART_SIZE) -> int:
    """How many parts to ask for: about ``part_size`` each, within what the gateway allows for ``size``
    (ceil(size / 5 GiB) to ceil(size / 5 MiB), at most 1,000)."""
    most = max(1, min(MAX_PARTS, (size - 1) // MIN_PART_SIZE + 1))
    least = max(1, -(-size // MAX_PART_SIZE))
    wanted = -(-size // max(part_size, 1))
    return max(least, min(most, wanted))


def part_offsets(sizes: list[int]) -> list[int]:
    """Where each part starts in the file, for the sizes the gateway signed."""
    offsets, at = [], 0
    for size in sizes:
        offsets.append(at)
        at += size
    return offsets


class Tally:
    """Bytes sent so far across threads or tasks, reported to a progress callback."""

    def __init__(self, total: int, progress: Progress | None, parent: Tally | None = None) -> None:
        self.total = total
        self._progress = progress
        self._parent = parent
        self._sent = 0
        self._lock = threading.Lock()

    @property
    def sent(self) -> int:
        return self._sent

    def attempt(self) -> Tally:
        """A tally of one attempt that adds to this one (and can be taken back if the attempt fails)."""
        return Tally(0, None, parent=self)

    def add(self, n: int) -> None:
        with self._lock:
            self._sent += n
            sent = self._sent
        if self._parent is not None:
            self._parent.add(n)
        if self._progress is not None:
            self._progress(sent, self.total)

    def take_back(self) -> None:
        """Forget this attempt's bytes in the parent (they will be sent again)."""
        if self._parent is not None and self._sent:
            self._parent.add(-self._sent)
        self._sent = 0


@dataclass(frozen=True)
class FormBody:
    """A ``multipart/form-data`` body for S3's POST: every field in order, then ``file`` last, with
    its length known up front (S3 needs ``Content-Length``) and the file streamed between."""

    head: bytes
    tail: bytes
    content_type: str

    @classmethod
    def build(cls, fields: Mapping[str, str], filename: str, file_type: str) -> FormBody:
        boundary = secrets.token_hex(16)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{_quote(filename)}"\r\n'
            f"Content-Type: {file_type}\r\n\r\n"
        )
        return cls(
            head="".join(parts).encode(),
            tail=f"\r\n--{boundary}--\r\n".encode(),
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    def length(self, size: int) -> int:
        return len(self.head) + size + len(self.tail)

    def stream(self, source: Source, sent: Callable[[int], None]) -> Iterator[bytes]:
        yield self.head
        yield from source.chunks(0, source.size, sent)
        yield self.tail


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
