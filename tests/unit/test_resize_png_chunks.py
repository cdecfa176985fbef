"""The PNG wholeness check on files written chunk by chunk: every cut and every wrong CRC is refused."""

from __future__ import annotations

import pytest

from services.resize.png_chunks import PngHeader, check_whole
from shared.errors import NotAnImage
from tests.support.png_build import SIGNATURE, chunk, chunks, png

ROWS = [[(x * 9 + y) & 0xFF for x in range(3 * 40)] for y in range(30)]
WHOLE = png(ROWS, bit_depth=8, colour_type=2, before_idat=[chunk(b"tEXt", b"k\x00v")], idat_parts=3)


def test_a_whole_png_gives_its_header() -> None:
    assert check_whole(WHOLE) == PngHeader(bit_depth=8, colour_type=2)
    sixteen = png([[1, 2, 3, 4, 5, 6]], bit_depth=16, colour_type=2)
    assert check_whole(sixteen) == PngHeader(bit_depth=16, colour_type=2)


def test_bytes_after_iend_are_ignored() -> None:
    assert check_whole(WHOLE + b"PK\x03\x04 appended archive") == PngHeader(8, 2)


def _every_cut() -> list[int]:
    """A cut at each chunk's start, inside its length, type, data and CRC, and 1 byte short of the end."""
    cuts = {len(SIGNATURE) - 1, len(WHOLE) - 1}
    for pos, _, size in chunks(WHOLE):
        cuts.update({pos, pos + 2, pos + 6, pos + 8 + (size - 12) // 2, pos + size - 2})
    return sorted(c for c in cuts if 0 < c < len(WHOLE))


@pytest.mark.parametrize("cut", _every_cut())
def test_every_cut_is_refused(cut: int) -> None:
    with pytest.raises(NotAnImage):
        check_whole(WHOLE[:cut])


@pytest.mark.parametrize("index", range(len(chunks(WHOLE))), ids=[c[1].decode() for c in chunks(WHOLE)])
def test_a_wrong_crc_in_any_chunk_is_refused(index: int) -> None:
    pos, _, size = chunks(WHOLE)[index]
    flipped = WHOLE[: pos + size - 1] + bytes([WHOLE[pos + size - 1] ^ 1]) + WHOLE[pos + size :]
    with pytest.raises(NotAnImage, match="CRC"):
        check_whole(flipped)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SIGNATURE,
        b"GIF89a" + WHOLE[6:],  # not a PNG signature
        SIGNATURE + chunk(b"tEXt", b"k\x00v") + WHOLE[8:],  # IHDR not first
        SIGNATURE + chunk(b"IHDR", b"\x00" * 12) + WHOLE[33:],  # IHDR of the wrong length
        WHOLE[:33] + b"\xff\xff\xff\xff" + WHOLE[37:],  # a length beyond the file (and the format's limit)
    ],
    ids=["empty", "signature-only", "not-png", "ihdr-not-first", "ihdr-short", "huge-length"],
)
def test_malformed_structure_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        check_whole(data)
