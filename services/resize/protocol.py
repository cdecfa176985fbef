"""Frames between the worker and its kernel processes: a small JSON header, then raw bytes.

Why not pickle or multiprocessing: the payloads are megabytes of picture bytes each way, and a
frame moves them as they are (one write, one read of exactly that many bytes), while the header
stays readable and versionless. A frame is ``>II`` (header length, payload length), the header
(a JSON object), then the payload.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, BinaryIO

PREFIX = struct.Struct(">II")
MAX_HEADER = 64 * 1024  # a header longer than this means the stream is out of step

Header = dict[str, Any]


class ProtocolError(Exception):
    """The other side wrote something that is not a frame."""


def frame(header: Header, payload: bytes = b"") -> bytes:
    """The prefix and header of a frame; the payload is written after it as it is."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(encoded), len(payload)) + encoded


def _header(raw: bytes) -> Header:
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header


def _lengths(prefix: bytes) -> tuple[int, int]:
    header_length, payload_length = PREFIX.unpack(prefix)
    if header_length > MAX_HEADER:
        raise ProtocolError(f"header of {header_length} bytes")
    return header_length, payload_length


def write_frame(stream: BinaryIO, header: Header, payload: bytes = b"") -> None:
    stream.write(frame(header, payload))
    if payload:
        stream.write(payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if data is None or len(data) < size:
        return None
    return data


def read_frame(stream: BinaryIO) -> tuple[Header, bytes] | None:
    """The next frame from a blocking stream, or None at the end of the stream."""
    prefix = _read_exactly(stream, PREFIX.size)
    if prefix is None:
        return None
    header_length, payload_length = _lengths(prefix)
    raw = _read_exactly(stream, header_length)
    payload = _read_exactly(stream, payload_length) if payload_length else b""
    if raw is None or payload is None:
        return None
    return _header(raw), payload


async def read_frame_async(reader: asyncio.StreamReader) -> tuple[Header, bytes]:
    """The next frame; ``asyncio.IncompleteReadError`` when the stream ends first."""
    header_length, payload_length = _lengths(await reader.readexactly(PREFIX.size))
    header = _header(await reader.readexactly(header_length))
    payload = await reader.readexactly(payload_length) if payload_length else b""
    return header, payload
