"""PNG files written chunk by chunk, for what Pillow does not write: any bit depth and colour type
with a tRNS colour, ancillary chunks anywhere, chunks cut short or with a wrong CRC."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    """One chunk; ``crc`` overrides the right one (to make a corrupt chunk)."""
    value = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", value)


def pack_row(samples: Sequence[int], bit_depth: int) -> bytes:
    """Samples of one row at ``bit_depth`` (1, 2, 4: packed from the high bits; 8; 16 big-endian)."""
    if bit_depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if bit_depth == 8:
        return bytes(samples)
    per_byte = 8 // bit_depth
    out = bytearray()
    for start in range(0, len(samples), per_byte):
        group = list(samples[start : start + per_byte])
        group += [0] * (per_byte - len(group))
        byte = 0
        for sample in group:
            byte = (byte << bit_depth) | sample
        out.append(byte)
    return bytes(out)


def png(
    rows: Sequence[Sequence[int]],
    *,
    bit_depth: int,
    colour_type: int,
    before_idat: Iterable[bytes] = (),
    after_idat: Iterable[bytes] = (),
    idat_parts: int = 1,
) -> bytes:
    """A whole PNG of ``rows`` (samples, ``CHANNELS[colour_type]`` per pixel, unfiltered)."""
    width = len(rows[0]) // CHANNELS[colour_type]
    ihdr = struct.pack(">IIBBBBB", width, len(rows), bit_depth, colour_type, 0, 0, 0)
    stream = zlib.compress(b"".join(b"\x00" + pack_row(row, bit_depth) for row in rows))
    step = -(-len(stream) // idat_parts)
    idats = [chunk(b"IDAT", stream[i : i + step]) for i in range(0, len(stream), step)]
    return (
        SIGNATURE
        + chunk(b"IHDR", ihdr)
        + b"".join(before_idat)
        + b"".join(idats)
        + b"".join(after_idat)
        + chunk(b"IEND", b"")
    )


def chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """``(offset, kind, total length)`` of each chunk of a whole PNG."""
    found = []
    pos = len(SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        found.append((pos, data[pos + 4 : pos + 8], length + 12))
        pos += length + 12
    return found
