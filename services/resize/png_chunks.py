"""Whether an original PNG is whole, from its chunks alone; and its header's bit depth. Pure.

Pillow decodes a PNG's pixels strictly but reads the rest leniently: a file cut after its image
data (the end of the last IDAT, its CRC, the IEND chunk), or a chunk whose CRC does not match
(Pillow checks only the chunks before the first IDAT), decodes without a word. A picture is
resized only from a whole file, so before decoding, every chunk is walked (libpng's rules):

- the signature, then IHDR first (13 bytes);
- every chunk complete inside the file, its CRC matching (IDAT and IEND too);
- an IEND chunk at the end; bytes after it are ignored (as every decoder does).

Walking costs a CRC32 over the file (zlib-ng: a few ms for 50 MB), far below decoding it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from shared.errors import NotAnImage

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNK_LENGTH = 2**31 - 1  # the PNG specification's limit


@dataclass(frozen=True)
class PngHeader:
    """What IHDR says about the samples; Pillow's decoded image no longer tells (16 bits -> 8)."""

    bit_depth: int
    colour_type: int  # 0 gray, 2 truecolour, 3 palette, 4 gray + alpha, 6 truecolour + alpha


def check_whole(data: bytes) -> PngHeader:
    """The header of a whole PNG; ``NotAnImage`` when a chunk is cut short or corrupt, or IEND is missing."""
    if not data.startswith(SIGNATURE):
        raise NotAnImage("The file is not a PNG image.")
    view = memoryview(data)
    header: PngHeader | None = None
    pos = len(SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise NotAnImage("The PNG file is cut short: it ends before its IEND chunk.")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > _MAX_CHUNK_LENGTH or end > len(data):
            raise NotAnImage(f"The PNG file is cut short inside its {_name(kind)} chunk.")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise NotAnImage(f"The PNG file is corrupt: the CRC of its {_name(kind)} chunk does not match.")
        if header is None:
            header = _ihdr(kind, view[pos + 8 : end - 4])
        elif kind == b"IEND":
            return header
        pos = end


def _ihdr(kind: bytes, body: memoryview) -> PngHeader:
    if kind != b"IHDR" or len(body) != 13:
        raise NotAnImage("The PNG file is corrupt: it does not start with its header (IHDR).")
    return PngHeader(bit_depth=body[8], colour_type=body[9])


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)
