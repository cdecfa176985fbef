"""Hostile originals made in the test, shared by the kernel's unit tests and the tests through the
real download and resize services: transparent PNGs of every kind, sources that do not decode
whole, and a small picture carrying a huge ICC profile."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image

from devstack.photos import photo
from tests.support.icc_build import rgb_profile
from tests.support.png_build import chunk, chunks, png

# Transparent pictures are WIDTH x HEIGHT: the left half opaque, the right half transparent.
WIDTH, HEIGHT = 64, 32


@dataclass(frozen=True)
class Transparent:
    name: str
    data: bytes


def _halves(left: list[int], right: list[int]) -> list[list[int]]:
    row = left * (WIDTH // 2) + right * (WIDTH // 2)
    return [row for _ in range(HEIGHT)]


def _keyed(bit_depth: int, colour_type: int, left: list[int], right: list[int], key: bytes, *extra: bytes) -> bytes:
    return png(
        _halves(left, right), bit_depth=bit_depth, colour_type=colour_type, before_idat=[*extra, chunk(b"tRNS", key)]
    )


def _plte(*colours: tuple[int, int, int]) -> bytes:
    return chunk(b"PLTE", b"".join(bytes(c) for c in colours))


TRANSPARENT_PNGS: tuple[Transparent, ...] = (
    Transparent("gray-1bit-key-black", _keyed(1, 0, [1], [0], struct.pack(">H", 0))),
    Transparent("gray-1bit-key-white", _keyed(1, 0, [0], [1], struct.pack(">H", 1))),
    Transparent("gray-2bit-key-white", _keyed(2, 0, [1], [3], struct.pack(">H", 3))),
    Transparent("gray-4bit-key", _keyed(4, 0, [15], [9], struct.pack(">H", 9))),
    Transparent("gray-8bit-key", _keyed(8, 0, [50], [200], struct.pack(">H", 200))),
    # 16 bits: the opaque gray shares the key's high byte, so only an exact comparison tells them apart.
    Transparent("gray-16bit-key", _keyed(16, 0, [0x12FF], [0x1234], struct.pack(">H", 0x1234))),
    Transparent("gray-16bit-key-zero", _keyed(16, 0, [0xFFFF], [0], struct.pack(">H", 0))),
    Transparent("rgb-8bit-key", _keyed(8, 2, [255, 0, 0], [0, 0, 255], struct.pack(">HHH", 0, 0, 255))),
    Transparent(
        "rgb-16bit-key",
        _keyed(16, 2, [0xFFFF, 0, 0], [0x1234, 0x5678, 0x9ABC], struct.pack(">HHH", 0x1234, 0x5678, 0x9ABC)),
    ),
    Transparent("palette-8bit-one-entry", _keyed(8, 3, [0], [1], b"\xff\x00", _plte((255, 0, 0), (0, 0, 255)))),
    Transparent(
        "palette-2bit-one-entry", _keyed(2, 3, [2], [1], b"\xff\x00\xff", _plte((9, 9, 9), (0, 0, 9), (255, 0, 0)))
    ),
    Transparent(
        "palette-4bit-alpha-per-entry",
        _keyed(4, 3, [0], [1], b"\xff\x00\x80", _plte((255, 0, 0), (0, 0, 255), (0, 255, 0))),
    ),
    Transparent("gray-alpha-8bit", png(_halves([90, 255], [200, 0]), bit_depth=8, colour_type=4)),
    Transparent("gray-alpha-16bit", png(_halves([9000, 65535], [50000, 0]), bit_depth=16, colour_type=4)),
    Transparent("rgba-8bit", png(_halves([255, 0, 0, 255], [0, 0, 255, 0]), bit_depth=8, colour_type=6)),
    Transparent("rgba-16bit", png(_halves([65535, 0, 0, 65535], [0, 0, 65535, 0]), bit_depth=16, colour_type=6)),
)


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def _png_with_broken_stream(*, exif_after_pixels: bool) -> bytes:
    """A PNG whose deflate stream breaks half-way (CRCs right): Pillow's "broken data stream".

    With an eXIf chunk after the pixels, asking for the EXIF decodes the image: the case where
    an EXIF read swallowed the decoder's error and half a picture was served.
    """
    raw = b"".join(b"\x00" + bytes(row) for row in _noise_rows(96, 64))
    stream = bytearray(zlib.compress(raw, 1))
    stream[len(stream) // 2 : len(stream) // 2 + 16] = b"\xff" * 16
    after = [chunk(b"eXIf", _exif_orientation(1))] if exif_after_pixels else []
    whole = png(_noise_rows(96, 64), bit_depth=8, colour_type=2, after_idat=after)
    start = next(pos for pos, kind, _ in chunks(whole) if kind == b"IDAT")
    end = next(pos + size for pos, kind, size in chunks(whole) if kind == b"IDAT")
    return whole[:start] + chunk(b"IDAT", bytes(stream)) + whole[end:]


def _noise_rows(width: int, height: int) -> list[list[int]]:
    return [[(x * 7 + y * 13 + (x * y) % 11) & 0xFF for x in range(width * 3)] for y in range(height)]


def _with_bad_crc(data: bytes, kind: bytes) -> bytes:
    pos, _, size = next(c for c in chunks(data) if c[1] == kind)
    return data[: pos + size - 4] + bytes(b ^ 0xFF for b in data[pos + size - 4 : pos + size]) + data[pos + size :]


def _scrambled(data: bytes, at: int, length: int) -> bytes:
    return data[:at] + bytes((b * 73 + 41) & 0xFF for b in data[at : at + length]) + data[at + length :]


def _mdat_payload(data: bytes) -> int:
    """Where the AV1 bitstream of an AVIF starts (the payload of its top-level ``mdat`` box)."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"mdat":
            return at + 8
        if size < 8:
            break
        at += size
    raise ValueError("no mdat box")


@dataclass(frozen=True)
class Broken:
    name: str
    data: bytes
    content_type: str


def broken_sources() -> tuple[Broken, ...]:
    """Originals that cannot be decoded whole, one or more per input format (and a GIF under a PNG's name)."""
    picture = photo(240, 160, seed=11)
    jpeg = encoded(picture, "JPEG", quality=90)
    progressive = encoded(picture, "JPEG", quality=90, progressive=True)
    whole_png = encoded(picture, "PNG")
    lossy = encoded(picture, "WEBP", quality=80)
    lossless = encoded(picture, "WEBP", lossless=True)
    alpha_webp = encoded(photo(240, 160, seed=11, mode="RGBA"), "WEBP", quality=80)
    avif = encoded(picture, "AVIF", quality=60)
    gif = encoded(picture.convert("P"), "GIF")
    last_chunk = chunks(whole_png)[-1][0]
    return (
        Broken("jpeg-cut-in-half", jpeg[: len(jpeg) // 2], "image/jpeg"),
        Broken("jpeg-cut-before-eoi", jpeg[:-2], "image/jpeg"),
        Broken("jpeg-headers-only", jpeg[: jpeg.index(b"\xff\xda") + 2], "image/jpeg"),
        Broken("jpeg-progressive-cut", progressive[: len(progressive) * 2 // 3], "image/jpeg"),
        Broken("png-broken-stream", _png_with_broken_stream(exif_after_pixels=False), "image/png"),
        Broken("png-broken-stream-exif-after", _png_with_broken_stream(exif_after_pixels=True), "image/png"),
        Broken("png-cut-in-idat", whole_png[: len(whole_png) // 2], "image/png"),
        Broken("png-without-iend", whole_png[:last_chunk], "image/png"),
        Broken("png-cut-in-iend", whole_png[:-6], "image/png"),
        Broken("png-idat-crc", _with_bad_crc(whole_png, b"IDAT"), "image/png"),
        Broken("png-iend-crc", _with_bad_crc(whole_png, b"IEND"), "image/png"),
        Broken("webp-lossy-cut", lossy[: len(lossy) * 3 // 4], "image/webp"),
        Broken("webp-lossless-cut", lossless[: len(lossless) // 2], "image/webp"),
        Broken("webp-alpha-cut", alpha_webp[:-40], "image/webp"),
        Broken("webp-frame-header", lossy[:20] + b"\x00" * 10 + lossy[30:], "image/webp"),
        Broken("avif-cut", avif[: len(avif) // 2], "image/avif"),
        # The bitstream's first OBUs (its sequence header): AV1 has no checksum, and bytes scrambled
        # further in decode to wrong pixels or not depending on the encoder's and decoder's threads.
        Broken("avif-bitstream-scrambled", _scrambled(avif, _mdat_payload(avif), 16), "image/avif"),
        Broken("gif-named-png", gif, "image/png"),
        Broken("gif-cut-named-png", gif[: len(gif) // 2], "image/png"),
    )


def small_png_with_big_profile(profile_bytes: int = 1_000_000) -> bytes:
    """The issue's example: a 200x150 PNG of under 2 KB whose RGB profile weighs ``profile_bytes``
    (its padding deflates to almost nothing in the PNG, not in JPEG, WebP or AVIF)."""
    gradient = Image.linear_gradient("L").resize((200, 150)).convert("RGB")
    return encoded(gradient, "PNG", icc_profile=rgb_profile(pad_to=profile_bytes))
